"""``tianlan demo`` end to end: sample network, platform, simulator, intruder, then it stops."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tianlan.cli import app

pytestmark = pytest.mark.slow


def test_demo_runs_and_stores_data(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tianlan.cli", "demo", "--data-dir", str(tmp_path), "--hj212-port", "0",
         "--http-port", "0", "--duration", "6", "--rate", "2"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "sample network" in proc.stdout and "stopped" in proc.stdout
    assert (tmp_path / "demo-network.yaml").exists()
    # sample accounts for the console: random passwords written once, readable by the owner only
    accounts = tmp_path / "demo-accounts.txt"
    assert accounts.stat().st_mode & 0o777 == 0o600
    rows = [line.split("\t") for line in accounts.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert {r[1] for r in rows} >= {"admin", "city", "enterprise", "discipline"}
    from tianlan.auth.users import UsersRepo
    from tianlan.store.engine import open_store

    users = UsersRepo(open_store(f"sqlite:///{tmp_path / 'tianlan.db'}"))
    username, role, scope, password = rows[2]
    assert users.authenticate(username, password).scope == scope
    res = CliRunner().invoke(app, ["frames", "stats", "--format", "json", "--data-dir", str(tmp_path)])
    st = json.loads(res.stdout)
    assert st["accepted"] > 50 and st["observations"] > 300
    # the intruder's frames are refused and kept, the simulated devices' frames are not
    assert {"unknown-mn", "bad-crc", "wrong-password"} <= set(st["by_reason"])
    assert any(k.startswith("framing:") for k in st["by_reason"])
    clean = {mn: d for mn, d in st["by_device"].items() if d["by_reason"].keys() - {"bad-crc", "wrong-password"}}
    assert set(clean) == {"UNREGISTERED0000000000001"}, "simulated devices' frames are all accepted"
    # a second run reuses the registry that is there
    proc = subprocess.run(
        [sys.executable, "-m", "tianlan.cli", "demo", "--data-dir", str(tmp_path), "--hj212-port", "0",
         "--http-port", "0", "--duration", "2"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0 and "existing network" in proc.stdout
