#!/usr/bin/env python3
"""Check a Tianlan frame inclusion proof (``tianlan ledger prove --frame ID``) without Tianlan.

Usage: verify_proof.py PROOF.json [--public-key HEX] [--frame-file FILE]

Needs only hashlib, plus the ``cryptography`` package for the checkpoint's Ed25519 signature.
Give the platform's public key as published (``tianlan ledger head`` prints it); without it the
key inside the proof is used and the result says so. Exit status 0: the proof holds.

What is checked (RFC 6962 Merkle trees: leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ l ‖ r)):
1. SHA-256 of the frame's bytes (from --frame-file, else from the proof) is the leaf;
2. the leaf's audit path gives the seal entry's root, at index frame id - first_id;
3. entry hash = SHA-256(prev_hash ‖ SHA-256(canonical JSON of the entry body));
4. the entry hash's audit path gives the checkpoint's entries_root, at index seq - first_seq;
5. the platform key signed the checkpoint message (canonical JSON of the head).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def root_from_path(leaf_data: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2: the root an inclusion path leads to (None when the path does not fit)."""
    if not 0 <= index < size:
        return None
    fn, sn = index, size - 1
    r = h(b"\x00" + leaf_data)
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = h(b"\x01" + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def check(proof: dict, public_key: bytes | None, frame_bytes: bytes | None) -> list[str]:
    """The failed checks (empty: the proof holds)."""
    bad: list[str] = []
    frame, seal, entry, cp = proof["frame"], proof["seal"], proof["entry"], proof["checkpoint"]
    body = entry["body"]
    payload = body["payload"]
    leaf = bytes.fromhex(frame["sha256"])
    if frame_bytes is None and frame.get("data_base64"):
        frame_bytes = base64.b64decode(frame["data_base64"])
    if frame_bytes is not None and h(frame_bytes) != leaf:
        bad.append("frame bytes do not hash to the sealed leaf")
    if payload.get("first_id", 0) + seal["leaf_index"] != frame["id"] or payload.get("n") != seal["tree_size"]:
        bad.append("the leaf's position does not match the seal's id range")
    path = [bytes.fromhex(x) for x in seal["audit_path"]]
    if root_from_path(leaf, seal["leaf_index"], seal["tree_size"], path) != bytes.fromhex(payload.get("root", "")):
        bad.append("audit path does not lead to the seal's Merkle root")
    e_hash = h(bytes.fromhex(entry["prev_hash"]) + h(canonical(body)))
    if e_hash != bytes.fromhex(entry["hash"]):
        bad.append("seal entry's body does not give its hash")
    if cp["first_seq"] + cp["entry_index"] != body["seq"] or cp["tree_size"] != cp["seq"] - cp["first_seq"] + 1:
        bad.append("the entry's position does not match the checkpoint's range")
    cpath = [bytes.fromhex(x) for x in cp["audit_path"]]
    if root_from_path(e_hash, cp["entry_index"], cp["tree_size"], cpath) != bytes.fromhex(cp["entries_root"]):
        bad.append("entry hash's audit path does not lead to the checkpoint's entries_root")
    message = canonical({"platform": "tianlan", "type": "ledger-checkpoint", "first_seq": cp["first_seq"],
                         "seq": cp["seq"], "hash": cp["hash"], "entries_root": cp["entries_root"],
                         "time_utc": float(cp["time_utc"]), "key_id": cp["key_id"]})
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        bad.append("cannot check the signature: install the 'cryptography' package")
        return bad
    key = public_key if public_key is not None else bytes.fromhex(cp["public_key"])
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(bytes.fromhex(cp["signature"]), message)
    except (InvalidSignature, ValueError):
        bad.append("checkpoint signature does not verify with the platform key")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("proof", help="proof JSON file ('-' for stdin)")
    ap.add_argument("--public-key", help="the platform's Ed25519 public key, 64 hex digits (as published)")
    ap.add_argument("--frame-file", help="the frame's bytes, to check instead of the copy in the proof")
    a = ap.parse_args(argv)
    text = sys.stdin.read() if a.proof == "-" else open(a.proof, encoding="utf-8").read()
    proof = json.loads(text)
    pub = bytes.fromhex(a.public_key) if a.public_key else None
    frame_bytes = open(a.frame_file, "rb").read() if a.frame_file else None
    bad = check(proof, pub, frame_bytes)
    if bad:
        for b in bad:
            print(f"FAIL: {b}")
        return 1
    note = "" if pub else " (signature checked with the key inside the proof: compare it with the published key)"
    print(f"OK: frame {proof['frame']['id']} is in ledger entry {proof['entry']['body']['seq']}, covered by the "
          f"checkpoint signed at seq {proof['checkpoint']['seq']}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
