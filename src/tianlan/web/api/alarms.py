"""``/api/v1/alarms``: alarms in scope, their evidence and history; acknowledge, verify, dispose, close.

Actions go through :class:`tianlan.alarms.service.AlarmService` (the lifecycle's rules, compare-and-
set on the state, an event with who/when/why) and are attributed to the signed-in user; API keys
may read but not act. An alarm outside the caller's scope is answered 404, as if absent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from tianlan.alarms.lifecycle import OUTCOMES, STATES
from tianlan.alarms.service import AlarmService
from tianlan.errors import InputError, NotFound
from tianlan.store.api_results_repo import ResultsRepo
from tianlan.web.api.envelope import Format, FormatDep, json_response, present, respond
from tianlan.web.auth import Principal
from tianlan.web.deps import PagingDep, RegionDep, TimeDep, require, split_codes
from tianlan.web.errors import forbidden
from tianlan.web.scope import Perm

router = APIRouter()
TAG = "alarms 告警"
AlarmId = Annotated[int, Path(ge=1, le=2**62, description="告警编号 / alarm id")]


class Action(StrEnum):
    ack = "ack"
    verify = "verify"
    dispose = "dispose"
    close = "close"


class ActionBody(BaseModel):
    note: str = Field(min_length=1, max_length=2000, description="说明（必填）/ why (required)")
    outcome: str | None = Field(None, description="处置结论 / disposal outcome: fraud | fault | false-alarm "
                                                  "(dispose only)")


@router.get("/alarms", tags=[TAG], summary="告警列表 / Alarms")
def list_alarms(request: Request, pg: PagingDep, t: TimeDep, regions: RegionDep,
                p: Annotated[Principal, Depends(require(Perm.READ_ALARMS))], fmt: FormatDep = Format.json,
                status: Annotated[str | None, Query(max_length=100, description="状态，可逗号分隔 / status(es): "
                                                    + " | ".join(STATES))] = None,
                station: Annotated[str | None, Query(max_length=400, description="点位代码 / site code(s)")] = None,
                parameter: Annotated[str | None, Query(max_length=16)] = None,
                min_level: Annotated[int | None, Query(ge=1, le=4, description="最低级别 / minimum level 1-4")] = None,
                ) -> Response:
    """Alarms whose station is in the caller's scope, newest data first (evidence: see one alarm)."""
    states = split_codes(status, "status")
    bad = [s for s in states if s not in STATES]
    if bad:
        raise InputError("status", f"未知状态 / unknown status {bad[0]!r}; known: {', '.join(STATES)}")
    page = ResultsRepo(request.app.state.engine).alarms(
        p.scope, status=states, stations=split_codes(station, "station"), parameter=parameter, min_level=min_level,
        region_codes=regions, start_utc=t.start_utc, end_utc=t.end_utc, limit=pg.limit, offset=pg.offset)
    return respond(p, page.rows, fmt, found=page.found, page=pg.page, limit=pg.limit, filename="alarms")


def _one(request: Request, p: Principal, alarm_id: int) -> dict[str, Any]:
    a = ResultsRepo(request.app.state.engine).alarm(p.scope, alarm_id)
    if a is None:
        raise NotFound("alarm 告警", str(alarm_id))
    return a


@router.get("/alarms/{alarm_id}", tags=[TAG], summary="告警详情与证据 / One alarm with evidence and history")
def get_alarm(request: Request, alarm_id: AlarmId,
              p: Annotated[Principal, Depends(require(Perm.READ_ALARMS))]) -> Response:
    """The alarm, its evidence bundle (inputs, neighbours, thresholds, detector version, config hash)
    and every event of its lifecycle (who, when, what, why)."""
    return json_response({"meta": {"name": "tianlan-api", "found": 1}, "results": [present(_one(request, p, alarm_id))]})


@router.get("/alarms/{alarm_id}/evidence", tags=[TAG], summary="告警证据包 / Evidence bundle of an alarm")
def get_evidence(request: Request, alarm_id: AlarmId,
                 p: Annotated[Principal, Depends(require(Perm.READ_ALARMS))]) -> Response:
    a = _one(request, p, alarm_id)
    return json_response({"meta": {"name": "tianlan-api", "found": 1},
                          "results": [{"alarm_id": a["id"], "detector": a["detector"], "evidence": a["evidence"]}]})


@router.post("/alarms/{alarm_id}/{action}", tags=[TAG],
             summary="处理告警（确认、核实、处置、关闭）/ Act on an alarm: ack, verify, dispose, close")
def act_on_alarm(request: Request, alarm_id: AlarmId, action: Action, body: ActionBody,
                 p: Annotated[Principal, Depends(require(Perm.ACT_ALARMS))]) -> Response:
    """Moves the alarm along its lifecycle as the signed-in user; 409 when its state does not allow
    the action (someone else acted first), 422 naming ``note`` or ``outcome`` when they are missing."""
    if p.kind != "user":
        raise forbidden("处理告警须由登录用户进行 / acting on alarms needs a signed-in person, not an API key",
                        field="X-API-Key")
    _one(request, p, alarm_id)  # in scope, or 404
    if action is Action.dispose and body.outcome not in OUTCOMES:
        raise InputError("outcome", f"处置须给出结论 / dispose needs an outcome: {', '.join(OUTCOMES)}")
    if action is not Action.dispose and body.outcome is not None:
        raise InputError("outcome", "只有处置需要结论 / only dispose takes an outcome")
    AlarmService(request.app.state.engine).transition(alarm_id, action.value, user=p.name, note=body.note,
                                                      outcome=body.outcome)
    return json_response({"meta": {"name": "tianlan-api", "found": 1}, "results": [present(_one(request, p, alarm_id))]})
