"""Inclusion proofs: one frame in its seal, the seal in a signed checkpoint (issue 5 §2).

A proof is a JSON document that ``scripts/verify_proof.py`` — hashlib plus, for the signature,
``cryptography`` — checks without Tianlan or its store:

1. the frame's bytes hash to the leaf (``frame.sha256``);
2. the leaf's audit path leads to the Merkle root in the seal entry's payload, at index
   ``frame.id - payload.first_id`` (RFC 6962);
3. the seal entry's canonical body and ``prev_hash`` give its hash;
4. that hash's audit path leads to the checkpoint's ``entries_root``, at index ``seq - first_seq``;
5. the platform key's Ed25519 signature covers the checkpoint message (head seq, head hash, root).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import Engine

from tianlan.errors import InputError, NotFound
from tianlan.ledger import merkle
from tianlan.ledger.checkpoints import from_row
from tianlan.ledger.frames import FRAMES
from tianlan.store import ledger_repo as repo

FORMAT = "tianlan-frame-proof/1"


def prove_frame(engine: Engine, frame_id: int) -> dict[str, Any]:
    """The inclusion proof of raw frame ``frame_id``; NotFound if it is not sealed or not yet signed."""
    with engine.connect() as conn:
        seal = repo.seal_covering(conn, FRAMES, frame_id)
        if seal is None:
            raise NotFound("sealed frame", str(frame_id))
        leaves = merkle.split(seal.leaves)
        index = frame_id - seal.first_id
        entry = repo.entry(conn, seal.seq)
        if entry is None:
            raise NotFound("ledger entry", str(seal.seq))
        cp_row = repo.checkpoint_covering(conn, seal.seq)
        if cp_row is None:
            raise InputError("--frame", f"frame {frame_id} is sealed by entry {seal.seq}, which no signed checkpoint "
                                        "covers yet (run `tianlan ledger checkpoint`)")
        hashes = merkle.split(cp_row.entry_hashes)
        e_index = seal.seq - cp_row.first_seq
        data = next((d for _, d in repo.iter_frame_data(conn, frame_id, frame_id)), None)
    cp = from_row(cp_row)
    body = {"seq": entry.seq, "time_utc": entry.time_utc, "kind": entry.kind, "actor": entry.actor,
            "subject_table": entry.subject_table, "subject_key": entry.subject_key,
            "payload": json.loads(entry.payload),
            "row_digest": None if entry.row_digest is None else entry.row_digest.hex()}
    return {
        "format": FORMAT,
        "frame": {"id": frame_id, "sha256": leaves[index].hex(),
                  "data_base64": None if data is None else base64.b64encode(data).decode("ascii")},
        "seal": {"leaf_index": index, "tree_size": len(leaves),
                 "audit_path": [h.hex() for h in merkle.audit_path(leaves, index)]},
        "entry": {"body": body, "prev_hash": entry.prev_hash.hex(), "hash": entry.hash.hex()},
        "checkpoint": {**cp.to_json(), "entry_index": e_index, "tree_size": len(hashes),
                       "audit_path": [h.hex() for h in merkle.audit_path(hashes, e_index)]},
    }
