"""``/api/v1/ledger``: the ledger's head and signed checkpoint, and inclusion proofs of raw frames.

Proofs are returned exactly as :func:`tianlan.ledger.proof.prove_frame` builds them (times as UTC
epoch seconds, hashes in hex), because ``scripts/verify_proof.py`` checks those bytes; they are not
reshaped into the API's Beijing-time presentation.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from tianlan.errors import NotFound
from tianlan.ledger.checkpoints import latest
from tianlan.ledger.proof import prove_frame
from tianlan.store import ledger_repo
from tianlan.store.api_repo import ApiRepo
from tianlan.web.api.envelope import json_response, meta
from tianlan.web.auth import Principal
from tianlan.web.deps import require
from tianlan.web.scope import Perm

router = APIRouter()
TAG = "ledger 账本"


@router.get("/ledger/head", tags=[TAG], summary="账本头与签名检查点 / Ledger head and signed checkpoint")
def ledger_head(request: Request, p: Annotated[Principal, Depends(require(Perm.READ_LEDGER))]) -> Response:
    engine = request.app.state.engine
    with engine.connect() as conn:
        seq, head_hash = ledger_repo.head(conn)
    cp = latest(engine)
    return json_response({"meta": meta(p, found=1), "results": [
        {"seq": seq, "hash": head_hash.hex(), "checkpoint": cp.to_json() if cp is not None else None}]})


@router.get("/ledger/proofs/frames/{frame_id}", tags=[TAG], summary="原始报文存在性证明 / Inclusion proof of a raw frame")
def frame_proof(request: Request, frame_id: Annotated[int, Path(ge=1, le=2**62)],
                p: Annotated[Principal, Depends(require(Perm.READ_LEDGER))]) -> Response:
    """The frame's Merkle path to its seal, the seal entry, and the entry's path to a signed
    checkpoint: checkable offline with ``scripts/verify_proof.py`` and the platform's public key."""
    engine = request.app.state.engine
    if not ApiRepo(engine).frame_visible(p.scope, frame_id):
        raise NotFound("frame 报文", str(frame_id))
    return json_response({"meta": meta(p, found=1), "results": [prove_frame(engine, frame_id)]})
