"""``POST /api/v1/ingest/observations``: JSON observations through the gateway's pipeline and writer.

Same guarantees as HJ 212 over TCP (DESIGN principles 1 and 2): the request body is archived byte
for byte in ``raw_frames`` (channel ``json``) in the same transaction as its observations, and the
answer comes only after that commit. The device authenticates with its MN and HJ 212 password, as
on TCP. A body that cannot be used (malformed JSON, a bad field, unknown MN, wrong password) is
archived as quarantined with the reason, and the answer is a 4xx naming the field; a byte-identical
resend is recognised as a duplicate and not stored twice.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError

from tianlan.errors import InputError
from tianlan.hj212.codes import normalise_code
from tianlan.ingest.item import ACCEPTED, IngestItem
from tianlan.model.timeutil import parse_user_time
from tianlan.web.api.envelope import json_response
from tianlan.web.errors import ApiError

router = APIRouter()
TAG = "ingest 数据接收"
MAX_BODY = 4 << 20
MAX_OBSERVATIONS = 10_000
CN_OF_KIND = {"rtd": "2011", "min": "2051", "hour": "2061", "day": "2031"}


class JsonObservation(BaseModel):
    time: str = Field(max_length=40, description="时段开始 / period start (HJ 212 DataTime), ISO 8601; "
                                                 "no offset = Beijing time")
    parameter: str = Field(min_length=1, max_length=16, description="HJ 212 因子代码 / parameter code, e.g. a34004")
    kind: str = Field("hour", description="rtd | min | hour | day")
    value: float | None = Field(None, description="数值（因子单位）/ value in the parameter's unit")
    flag: str | None = Field(None, max_length=4, description="HJ 212 数据标记 / data flag (N F M S D C T B)")
    vmin: float | None = None
    vmax: float | None = None
    cou: float | None = None
    zs: float | None = Field(None, description="折算值 / converted value")


class JsonIngest(BaseModel):
    mn: str = Field(min_length=1, max_length=64, description="设备 MN / device MN")
    pw: str = Field(min_length=1, max_length=64, description="HJ 212 访问密码 / device password")
    observations: list[JsonObservation] = Field(min_length=1, max_length=MAX_OBSERVATIONS)


class _Waiter:
    def __init__(self) -> None:
        self.done: asyncio.Future[IngestItem] = asyncio.get_running_loop().create_future()

    def committed(self, item: IngestItem) -> None:
        if not self.done.done():
            self.done.set_result(item)


def _rows(body: JsonIngest) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for i, o in enumerate(body.observations):
        if o.kind not in CN_OF_KIND:
            raise InputError(f"observations[{i}].kind", f"应为 rtd|min|hour|day / expected one of {', '.join(CN_OF_KIND)}")
        t = parse_user_time(o.time, field=f"observations[{i}].time")
        for name in ("value", "vmin", "vmax", "cou", "zs"):
            v = getattr(o, name)
            if v is not None and v != v or v in (float("inf"), float("-inf")):
                raise InputError(f"observations[{i}].{name}", "不是有限数 / not a finite number")
        out.append((t, normalise_code(o.parameter.strip(), None), o.kind, o.value, o.flag, o.vmin, o.vmax, o.cou, o.zs, None))
    return out


def _verdict(raw: bytes, gw: Any, peer: str, now: float) -> tuple[IngestItem, ApiError | None]:
    item = IngestItem(data=raw, received_utc=now, peer=peer, channel="json")
    try:
        body = JsonIngest.model_validate(orjson.loads(raw))
    except orjson.JSONDecodeError as e:
        item.quarantine("json:malformed", f"body: not JSON ({e})")
        return item, ApiError(422, f"不是合法的 JSON / not valid JSON: {e}", field="body")
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) if not isinstance(x, int) else f"[{x}]" for x in err["loc"]).replace(".[", "[")
        item.quarantine("json:invalid", f"{field}: {err['msg']}")
        return item, ApiError(422, str(err["msg"]), field=field or "body")
    item.mn = body.mn
    dev = gw.cache.lookup(body.mn)
    if dev is None:
        item.quarantine("unknown-mn", f"MN: {body.mn!r} is not a registered device / 未登记的设备")
        return item, ApiError(401, "未登记的设备 / not a registered device", field="mn")
    item.device_id = dev.id
    if not dev.active:
        item.quarantine("inactive-device", f"MN: device {body.mn!r} is deactivated / 设备已停用")
        return item, ApiError(403, "设备已停用 / device is deactivated", field="mn")
    if body.pw != dev.password:
        item.quarantine("wrong-password", f"PW: wrong password for device {body.mn!r} / 访问密码错误")
        return item, ApiError(401, "访问密码错误 / wrong device password", field="pw")
    try:
        item.obs = _rows(body)
    except InputError as e:
        item.quarantine("bad-data", f"{e.field}: {e.reason}")
        return item, ApiError(422, e.reason, field=e.field)
    kinds = {r[2] for r in item.obs}
    item.cn = CN_OF_KIND[next(iter(kinds))] if len(kinds) == 1 else None
    item.status = ACCEPTED
    return item, None


@router.post("/ingest/observations", tags=[TAG], summary="接收 JSON 监测数据 / Ingest JSON observations",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": JsonIngest.model_json_schema(ref_template="#/components/schemas/{model}")}}}})
async def ingest_observations(request: Request) -> Any:
    """Body: ``{"mn", "pw", "observations": [{"time", "parameter", "kind", "value", "flag", …}]}``.
    Answers after the body and its observations are committed: the archive id (``frame_id``),
    ``accepted`` or ``duplicate``, and how many observations were stored."""
    gw = request.app.state.gateway
    if gw is None:
        raise ApiError(503, "网关未运行 / the gateway is not running in this process", field=None)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError(413, f"请求体过大 / larger than {MAX_BODY} bytes", field="body")
    if not raw:
        raise ApiError(422, "请求体为空 / empty body", field="body")
    peer = f"http:{request.client.host if request.client else '?'}"
    item, error = _verdict(raw, gw, peer, time.time())
    waiter = _Waiter()
    item.waiter = waiter
    gw.submit(item)
    done = await waiter.done
    if error is not None:
        error.reason = f"{error.reason}（已存档为隔离数据 #{done.frame_id} / archived as quarantined frame {done.frame_id}）"
        raise error
    return json_response({"frame_id": done.frame_id, "status": done.status, "duplicate_of": done.duplicate_of,
                          "observations": len(done.obs) if done.status == ACCEPTED else 0})
