"""Once a store has accounts, registry changes run as an administrator or the provincial centre (both stores)."""

from __future__ import annotations

from sqlalchemy import text

from tianlan.auth.users import UsersRepo
from tianlan.store.engine import open_store

MN = "010000A8900016F000169DC0"


def _engine(url: str):  # type: ignore[no-untyped-def]
    return open_store(url, sqlite_synchronous="NORMAL")


def test_device_add_needs_an_editor_once_users_exist(tianlan_cli, store_url: str) -> None:
    assert tianlan_cli("device", "add", "--mn", MN, "--password", "123456").exit_code == 0  # no accounts yet: system
    engine = _engine(store_url)
    users = UsersRepo(engine)
    users.add("admin1", "correct horse battery", "admin", "130000", actor="test")
    users.add("sjz1", "correct horse battery", "city", "130100", actor="test")
    nobody = tianlan_cli("device", "add", "--mn", MN + "1", "--password", "123456")
    assert nobody.exit_code == 2 and "--as-user" in nobody.output
    city = tianlan_cli("device", "add", "--mn", MN + "1", "--password", "123456", "--as-user", "sjz1")
    assert city.exit_code == 2 and "city" in city.output
    ok = tianlan_cli("device", "add", "--mn", MN + "1", "--password", "123456", "--as-user", "admin1")
    assert ok.exit_code == 0, ok.output
    with engine.connect() as c:  # the registry change is in the ledger, in the admin's name
        actors = [r[0] for r in c.execute(text("SELECT actor FROM ledger_entries WHERE subject_table = 'devices' "
                                               "ORDER BY seq"))]
    assert actors[0] == "system" and actors[-1] == "admin1"
    engine.dispose()
