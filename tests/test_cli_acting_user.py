"""Once a store has accounts, registry changes run as an administrator or the provincial centre (both stores)."""

from __future__ import annotations

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from tianlan.alarms_cli import app as alarms_app
from tianlan.auth.users import UsersRepo
from tianlan.registry_cli import device_app
from tianlan.store.engine import open_store

root = typer.Typer()
root.add_typer(device_app, name="device")
root.add_typer(alarms_app, name="alarms")
MN = "010000A8900016F000169DC0"


@pytest.fixture
def run(store_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("TIANLAN_DATABASE_URL", raising=False)
    monkeypatch.delenv("TIANLAN_USER", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(root, [*args, "--database-url", store_url])

    return invoke


def _engine(url: str):  # type: ignore[no-untyped-def]
    return open_store(url, sqlite_synchronous="NORMAL")


def test_device_add_needs_an_editor_once_users_exist(run, store_url: str) -> None:
    assert run("device", "add", "--mn", MN, "--password", "123456").exit_code == 0  # no accounts yet: system
    engine = _engine(store_url)
    users = UsersRepo(engine)
    users.add("admin1", "correct horse battery", "admin", "130000", actor="test")
    users.add("sjz1", "correct horse battery", "city", "130100", actor="test")
    nobody = run("device", "add", "--mn", MN + "1", "--password", "123456")
    assert nobody.exit_code == 2 and "--as-user" in nobody.output
    city = run("device", "add", "--mn", MN + "1", "--password", "123456", "--as-user", "sjz1")
    assert city.exit_code == 2 and "city" in city.output
    ok = run("device", "add", "--mn", MN + "1", "--password", "123456", "--as-user", "admin1")
    assert ok.exit_code == 0, ok.output
    with engine.connect() as c:  # the registry change is in the ledger, in the admin's name
        actors = [r[0] for r in c.execute(text("SELECT actor FROM ledger_entries WHERE subject_table = 'devices' "
                                               "ORDER BY seq"))]
    assert actors[0] == "system" and actors[-1] == "admin1"
    engine.dispose()
