"""`tianlan user|apikey|ledger …` end to end through the real CLI app (both stores).

Tampering through SQL makes `ledger verify` exit 1 and name the entry, table and row; the proof
printed by `ledger prove` passes the independent script.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import write_batches
from sqlalchemy import text
from typer.testing import CliRunner

from tianlan.cli import app
from tianlan.store.engine import open_store


@pytest.fixture
def cli(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """run(args, input=None) against one store; the platform key lives in tmp_path/data."""
    monkeypatch.delenv("TIANLAN_USER", raising=False)
    monkeypatch.delenv("TIANLAN_DATABASE_URL", raising=False)
    monkeypatch.setenv("TIANLAN_LEDGER_KEY_FILE", str(tmp_path / "data" / "keys" / "platform-ed25519.pem"))
    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(app, [*args, "--data-dir", str(tmp_path / "data"), "--database-url", store_url],
                             input=input, env=env)

    return run


def test_users_keys_and_attribution(cli, store_url: str) -> None:
    r = cli("user", "add", "--username", "admin", "--role", "admin", "--scope", "130000", "--name", "管理员",
            "--password-stdin", input="password-1\n")
    assert r.exit_code == 0, r.output
    # once there are users, every action says who acts, and user administration needs an admin
    r = cli("user", "add", "--username", "li", "--role", "city", "--scope", "130100", "--password-stdin",
            input="password-2\n")
    assert r.exit_code == 2 and "--as-user" in r.output
    r = cli("user", "add", "--username", "li", "--role", "city", "--scope", "130100", "--password-stdin",
            input="password-2\n", env={"TIANLAN_USER": "admin"})
    assert r.exit_code == 0, r.output
    r = cli("user", "add", "--username", "zh", "--role", "city", "--scope", "130100", "--password-stdin",
            "--as-user", "li", input="password-3\n")
    assert r.exit_code == 2 and "role city" in r.output
    r = cli("user", "add", "--username", "zh", "--role", "city", "--scope", "999999", "--password-stdin",
            "--as-user", "admin", input="password-3\n")
    assert r.exit_code == 2 and "scope" in r.output
    r = cli("user", "list", "--json")
    assert [(u["username"], u["role"], u["scope"]) for u in json.loads(r.output)] == \
        [("admin", "admin", "130000"), ("li", "city", "130100")]
    r = cli("user", "passwd", "li", "--password-stdin", "--as-user", "li", input="password-2\npassword-22\n")
    assert r.exit_code == 0, r.output
    r = cli("user", "disable", "li", "--as-user", "admin")
    assert r.exit_code == 0
    r = cli("apikey", "create", "--name", "水利厅", "--scope", "130100", "--rate-limit", "30", "--as-user", "admin")
    assert r.exit_code == 0, r.output
    secret = r.output.strip().splitlines()[-1]
    assert secret.startswith("tlk_")
    r = cli("apikey", "list", "--json")
    assert json.loads(r.output)[0]["rate_limit_per_min"] == 30 and secret not in r.output
    assert cli("apikey", "revoke", "1", "--as-user", "admin").exit_code == 0
    r = cli("ledger", "log", "--json", "--limit", "6")
    got = [(e["kind"], e["actor"], e["row"]) for e in json.loads(r.output)]
    assert got == [("apikey.revoke", "admin", "1"), ("apikey.create", "admin", "1"), ("user.disable", "admin", "li"),
                   ("user.passwd", "li", "li"), ("user.add", "admin", "li"), ("user.add", "system", "admin")]


def test_verify_head_prove_and_tamper(cli, store_url: str, tmp_path: Path) -> None:
    assert cli("user", "add", "--username", "admin", "--role", "admin", "--scope", "130000", "--password-stdin",
               input="password-1\n").exit_code == 0
    engine = open_store(store_url)
    write_batches(engine, [4, 4])
    r = cli("ledger", "seal")
    assert r.exit_code == 0, r.output
    r = cli("ledger", "verify")
    assert r.exit_code == 0 and "ledger intact" in r.output, r.output
    head = json.loads(cli("ledger", "head").output)
    pub = head["public_key"]
    r = cli("ledger", "public-key")
    assert pub in r.output
    proof_file = tmp_path / "p.json"
    assert cli("ledger", "prove", "--frame", "6", "-o", str(proof_file)).exit_code == 0
    script = Path(__file__).resolve().parents[2] / "scripts" / "verify_proof.py"
    res = subprocess.run([sys.executable, "-I", str(script), str(proof_file), "--public-key", pub],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout
    with engine.begin() as c:
        c.execute(text("UPDATE raw_frames SET data = :d WHERE id = 6"), {"d": b"##0004xxxx\r\n"})
        c.execute(text("UPDATE users SET scope = '130100' WHERE username = 'admin'"))
    r = cli("ledger", "verify", "--json", "--public-key", pub)
    assert r.exit_code == 1
    rep = json.loads(r.output)
    found = {(p["kind"], p["table"], p["row"]) for p in rep["problems"]}
    assert {("frame-changed", "raw_frames", "6"), ("row-changed", "users", "admin")} <= found
    r = cli("ledger", "verify")
    assert r.exit_code == 1 and "ledger BROKEN" in r.output and "first broken entry" in r.output
    engine.dispose()
