"""`tianlan ledger prove` output checked by the independent scripts/verify_proof.py (both stores)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import write_batches

from tianlan.auth.keys import public_bytes
from tianlan.ledger import checkpoints
from tianlan.ledger.proof import prove_frame

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_proof.py"


def run_script(proof: dict, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    p = tmp / "proof.json"
    p.write_text(json.dumps(proof))
    # -I: isolated mode, the script sees neither Tianlan nor the test environment's sys.path
    return subprocess.run([sys.executable, "-I", str(SCRIPT), str(p), *args], capture_output=True, text=True)


def test_proofs_verify_independently_and_forgeries_fail(store, tmp_path: Path) -> None:
    write_batches(store, [5, 9, 2])
    key = checkpoints.load_or_create_key(tmp_path / "k.pem")
    checkpoints.checkpoint(store, key)
    write_batches(store, [3], start=16)  # after the first checkpoint: ids 17..19
    checkpoints.checkpoint(store, key)
    pub = public_bytes(key).hex()
    for fid in (1, 5, 6, 13, 14, 16, 17, 19):
        proof = prove_frame(store, fid)
        res = run_script(proof, tmp_path, "--public-key", pub)
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"frame {fid} is in ledger entry" in res.stdout
    proof = prove_frame(store, 13)
    bad = json.loads(json.dumps(proof))
    bad["frame"]["data_base64"] = "IyMwMDAxeA0K"  # other bytes
    assert "frame bytes do not hash" in run_script(bad, tmp_path, "--public-key", pub).stdout
    bad = json.loads(json.dumps(proof))
    bad["frame"]["id"] = 12  # claim another position
    assert run_script(bad, tmp_path, "--public-key", pub).returncode == 1
    bad = json.loads(json.dumps(proof))
    bad["entry"]["body"]["actor"] = "forger"
    assert "does not give its hash" in run_script(bad, tmp_path, "--public-key", pub).stdout
    bad = json.loads(json.dumps(proof))
    bad["seal"]["audit_path"][0] = "00" * 32
    assert "Merkle root" in run_script(bad, tmp_path, "--public-key", pub).stdout
    other = checkpoints.load_or_create_key(tmp_path / "other.pem")
    res = run_script(proof, tmp_path, "--public-key", public_bytes(other).hex())
    assert res.returncode == 1 and "signature" in res.stdout
