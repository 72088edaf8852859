"""``/api/v1/reports``: the public's reports of monitoring fraud (12369) — submit without an account
and get a tracking number, look the status up by it; staff of the province and cities list and answer.

Submissions are rate limited per source (salted hash of the address; 5 per hour by default):
over the limit the answer is 429 with ``Retry-After``. The public lookup shows the category,
status, dates and the public answer only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from tianlan.auth.roles import Role
from tianlan.store.reports_repo import CATEGORIES, STATUSES, PublicStatus, Report, TooManyReports
from tianlan.web.api.envelope import Format, FormatDep, json_response, present, respond
from tianlan.web.auth import resolve_principal
from tianlan.web.errors import ApiError, forbidden, unauthenticated
from tianlan.web.pages.portal import client_source, reports_repo

router = APIRouter(prefix="/reports", tags=["reports 举报"])
#: roles that see and answer reports (their scope's region; the province sees all)
HANDLERS = frozenset({Role.ADMIN, Role.PROVINCE, Role.CITY, Role.ENFORCEMENT})
TrackingNo = Annotated[str, Path(min_length=1, max_length=40, description="查询编号 / tracking number")]


class ReportBody(BaseModel):
    category: str = Field(description=f"举报类型 / kind: {' | '.join(CATEGORIES)}", max_length=24)
    subject: str = Field(max_length=200, description="被举报单位、排放口或站点 / who or what is reported")
    description: str = Field(max_length=5000, description="情况描述（至少 10 字）/ what happened (≥ 10 characters)")
    region: str | None = Field(None, max_length=12, description="行政区划代码 / region code (optional)")
    contact: str = Field("", max_length=200, description="联系方式（选填，不公开）/ contact (optional, never shown)")


def _public(s: PublicStatus) -> dict[str, Any]:
    return {"tracking_no": s.tracking_no, "category": s.category, "category_label": " / ".join(CATEGORIES[s.category]),
            "status": s.status, "status_label": " / ".join(STATUSES[s.status]), "answer": s.status_note,
            "created_utc": s.created_utc, "updated_utc": s.updated_utc}


def _staff(r: Report) -> dict[str, Any]:
    return {"tracking_no": r.tracking_no, "category": r.category, "subject": r.subject, "region": r.region_code,
            "description": r.description, "contact": r.contact, "status": r.status, "answer": r.status_note,
            "handled_by": r.handled_by, "created_utc": r.created_utc, "updated_utc": r.updated_utc}


@router.post("", status_code=201, summary="举报 / report monitoring fraud (no account needed)")
def submit(request: Request, body: ReportBody) -> Response:
    try:
        no = reports_repo(request).submit(category=body.category, subject=body.subject, description=body.description,
                                          region_code=body.region, contact=body.contact, source=client_source(request))
    except TooManyReports as e:
        raise ApiError(429, str(e), field="source", headers={"Retry-After": str(e.retry_after_s)}) from e
    return json_response(present(_public(reports_repo(request).status(no))), status=201)


@router.get("/{tracking_no}", summary="查询举报办理进度 / status of a report by its tracking number")
def status(request: Request, tracking_no: TrackingNo) -> Response:
    return json_response(present(_public(reports_repo(request).status(tracking_no))))


def _handler(request: Request):  # type: ignore[no-untyped-def]
    p = resolve_principal(request)
    if not p.authenticated:
        raise unauthenticated()
    if p.kind != "user" or p.role not in HANDLERS:
        raise forbidden("无权处理举报 / your role does not handle public reports")
    return p


@router.get("", summary="举报列表（工作人员）/ reports in the caller's region (staff)")
def list_reports(request: Request,
                 status: Annotated[str | None, Query(max_length=12, description=" | ".join(STATUSES))] = None,
                 fmt: FormatDep = Format.json) -> Response:
    p = _handler(request)
    # region staff see the reports naming a region in their scope (filtered in the query)
    rows = reports_repo(request).list(status=status, regions=None if p.scope.everything else p.scope.regions, limit=1000)
    return respond(p, [_staff(r) for r in rows], fmt, filename="reports")


class AnswerBody(BaseModel):
    status: str = Field(max_length=12, description=" | ".join(STATUSES))
    note: str = Field(min_length=1, max_length=5000, description="公开答复 / the public answer")


@router.post("/{tracking_no}/answer", summary="答复举报 / move a report on, with a public answer (staff)")
def answer(request: Request, tracking_no: TrackingNo, body: AnswerBody) -> Response:
    p = _handler(request)
    repo = reports_repo(request)
    r = repo.get(tracking_no)
    if not p.scope.everything and (r.region_code is None or not p.scope.sees_region(r.region_code)):
        raise forbidden("该举报不在您的辖区 / the report is outside your region", field="tracking_no")
    return json_response(present(_public(repo.handle(tracking_no, status=body.status, note=body.note, user=p.name))))
