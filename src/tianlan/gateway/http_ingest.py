"""HTTP ingest: HJ 212 frames POSTed as the request body take the same path as TCP frames."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, HTTPException, Request

from tianlan.hj212 import FrameReader, RawFrame
from tianlan.ingest.item import IngestItem
from tianlan.ingest.processor import process_frame, process_framing_error

router = APIRouter()

MAX_BODY = 4 << 20


class _Waiter:
    """Resolves when all frames of one request are committed."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def committed(self, item: IngestItem) -> None:
        self.left -= 1
        if self.left == 0 and not self.done.done():
            self.done.set_result(None)


@router.post("/ingest/hj212", summary="接收 HJ 212 报文 / Ingest HJ 212 frames over HTTP")
async def ingest_hj212(request: Request) -> dict:
    """Body: one or more raw HJ 212 frames (``##LLLL…CCCC\\r\\n``). Answers after the frames are
    committed, with each frame's verdict and the HJ 212 replies the standard requires."""
    gw = request.app.state.gateway
    if gw is None:
        raise HTTPException(503, "gateway not running / 网关未运行")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"body: larger than {MAX_BODY} bytes / 请求体过大")
    peer = f"http:{request.client.host if request.client else '?'}"
    now = time.time()
    reader = FrameReader(max_length=gw.settings.max_frame_length)
    results = reader.feed(body) + reader.flush()
    items: list[IngestItem] = []
    for r in results:
        if isinstance(r, RawFrame):
            items.append(process_frame(r, gw.cache.lookup, received_utc=now, peer=peer, channel="http"))
        else:
            items.append(process_framing_error(r, received_utc=now, peer=peer, channel="http"))
    if not items:
        raise HTTPException(400, "body: no bytes / 请求体为空")
    waiter = _Waiter(len(items))
    for it in items:
        it.waiter = waiter
        gw.submit(it)
    await waiter.done
    return {
        "frames": [
            {
                "frame_id": it.frame_id,
                "status": it.status,
                "reason": it.reason,
                "detail": it.detail,
                "mn": it.mn,
                "qn": it.qn,
                "cn": it.cn,
                "observations": len(it.obs) if it.status == "accepted" else 0,
                "replies": [r.decode("utf-8", "replace") for r in it.replies],
            }
            for it in items
        ]
    }
