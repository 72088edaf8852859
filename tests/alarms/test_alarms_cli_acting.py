"""Once a store has accounts, alarm decisions run as a user whose role handles alarms (both stores)."""

from __future__ import annotations

from tianlan.alarms.service import AlarmService
from tianlan.auth.users import UsersRepo
from tianlan.store.engine import open_store


def _engine(url: str):  # type: ignore[no-untyped-def]
    return open_store(url, sqlite_synchronous="NORMAL")


def test_alarm_decisions_need_an_alarm_handler_once_users_exist(tianlan_cli, store_url: str, mk) -> None:
    engine = _engine(store_url)
    svc = AlarmService(engine)
    svc.raise_results([mk("XV-03", hours=3, score=0.95)])
    aid = str(svc.repo.list_alarms()[0].id)
    users = UsersRepo(engine)
    users.add("steel1", "correct horse battery", "enterprise", _enterprise(engine), actor="test")
    users.add("sjz1", "correct horse battery", "city", "130100", actor="test")
    refused = tianlan_cli("alarms", "ack", aid, "--user", "steel1", "--note", "mine")
    assert refused.exit_code == 2 and "enterprise" in refused.output
    unknown = tianlan_cli("alarms", "ack", aid, "--user", "li", "--note", "x")
    assert unknown.exit_code == 2
    assert tianlan_cli("alarms", "ack", aid, "--user", "sjz1", "--note", "on it").exit_code == 0
    assert [e.user for e in svc.repo.events(int(aid))][-1] == "sjz1"
    engine.dispose()


def _enterprise(engine) -> str:  # type: ignore[no-untyped-def]
    from tianlan.model.registry import Enterprise
    from tianlan.store.registry_repo import RegistryRepo

    repo = RegistryRepo(engine)
    if repo.is_empty():
        repo.seed_defaults()  # Hebei's regions
    repo.upsert_enterprises([Enterprise(code="E1", name="示例企业", region="130100")])
    return "E1"
