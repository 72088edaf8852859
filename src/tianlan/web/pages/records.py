"""Console pages over the evidence records (issue 5's modules): the review queue and sign-off, the
ledger's signed head and verification, and interference records (filed by monitoring staff, sealed).

The rules live in the repositories (``ReviewRepo``, ``InterferenceRepo``, ``tianlan.ledger``): who
may act at which level, signatures with the reviewer's personal key (the password is asked again
to unlock it), sealed reading with every read logged. These pages only collect the form and show
the result or the refusal with its reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from tianlan.auth.roles import INTERFERENCE_FILERS, REVIEW_LEVEL_ROLES, SEALED_READERS
from tianlan.errors import TianlanError
from tianlan.ledger import review as rv
from tianlan.model.timeutil import BEIJING, parse_user_time
from tianlan.web import i18n
from tianlan.web.pages.console import _forbidden, _form_principal, _page, _signed_in, _who
from tianlan.web.scope import Perm, allowed

router = APIRouter(prefix="/console", include_in_schema=False)
REVIEWERS = frozenset().union(*REVIEW_LEVEL_ROLES.values())


def _user(request: Request, name: str):  # type: ignore[no-untyped-def]
    from tianlan.auth.users import UsersRepo

    return UsersRepo(request.app.state.engine).get(name)


def _days_range(request: Request, start: str, end: str) -> tuple[int, int]:
    """[from, to) in UTC s: the given Beijing dates, else the 7 days up to the newest data."""
    if start and end:
        return parse_user_time(start, field="from"), parse_user_time(end, field="to") + 86400
    from tianlan.store.portal_repo import PortalRepo

    last = PortalRepo(request.app.state.engine).latest_observation_time()
    day = rv.day_of(last) if last is not None else rv.day_of(dt.datetime.now(BEIJING).timestamp())
    return day - 6 * 86400, day + 86400


# --- review and sign-off ----------------------------------------------------------------------------

@router.get("/review")
def review(request: Request, start: str = "", end: str = "", done: str = "", error: str = "") -> Response:
    p = _signed_in(request)
    if isinstance(p, Response):
        return p
    if p.role not in REVIEWERS:
        return _forbidden(request, p)
    from tianlan.store.review_repo import ReviewRepo

    try:
        a, b = _days_range(request, start, end)
        days = ReviewRepo(request.app.state.engine).days(_user(request, p.name), a, b)
    except TianlanError as e:
        return _page(request, "console/message.html", {"message": str(e)}, p, status_code=400)
    levels = sorted(lv for lv, roles in REVIEW_LEVEL_ROLES.items() if p.role in roles)
    rows: list[dict[str, Any]] = [{"station": d.station, "day": d.day_utc, "label": rv.day_label(d.day_utc), "n": d.n_values,
             "awaiting": d.awaiting, "approved": sorted(d.state.approvals), "signed": d.state.signed,
             "revision": d.state.revision, "mine": d.awaiting in levels} for d in days]
    rows.sort(key=lambda r: (not r["mine"], -r["day"], r["station"]))
    return _page(request, "console/review.html", {
        "rows": rows, "levels": levels, "start": dt.datetime.fromtimestamp(a, BEIJING).strftime("%Y-%m-%d"),
        "end": dt.datetime.fromtimestamp(b - 86400, BEIJING).strftime("%Y-%m-%d"), "csrf": p.csrf,
        "done": done, "error": error}, p)


@router.post("/review/act")
def review_act(request: Request, station: str = Form(""), day: int = Form(0), action: str = Form(""),
               reason: str = Form(""), password: str = Form(""), csrf_token: str = Form("")) -> Response:
    p = _form_principal(request, csrf_token)
    if p is None:
        return _page(request, "console/message.html", {"message": "CSRF: " + i18n.t("con.forbidden", i18n.lang_of(request))},
                     _who(request), status_code=403)
    if p.role not in REVIEWERS:
        return _forbidden(request, p)
    from tianlan.store.review_repo import ReviewRepo

    try:
        ReviewRepo(request.app.state.engine).act(_user(request, p.name), password, station, day, action, reason=reason)
    except TianlanError as e:
        return RedirectResponse(f"/console/review?error={quote(str(e))}", status_code=303)
    return RedirectResponse(f"/console/review?done={quote(f'{station} {rv.day_label(day)} {action}')}", status_code=303)


# --- ledger -------------------------------------------------------------------------------------------------

@router.get("/ledger")
def ledger(request: Request) -> Response:
    p = _signed_in(request, Perm.READ_LEDGER)
    if isinstance(p, Response):
        return p
    from tianlan.ledger import checkpoints

    cp = checkpoints.latest(request.app.state.engine)
    return _page(request, "console/ledger.html", {"head": cp.to_json() if cp else None, "report": None, "csrf": p.csrf}, p)


@router.post("/ledger/verify")
def ledger_verify(request: Request, csrf_token: str = Form("")) -> Response:
    p = _form_principal(request, csrf_token)
    if p is None:
        return _page(request, "console/message.html", {"message": "CSRF: " + i18n.t("con.forbidden", i18n.lang_of(request))},
                     _who(request), status_code=403)
    if not allowed(p.role, Perm.READ_LEDGER):
        return _forbidden(request, p)
    from tianlan.auth.keys import public_bytes
    from tianlan.ledger import checkpoints
    from tianlan.ledger.verify import verify

    settings = request.app.state.auth.settings
    path = checkpoints.key_path(settings)
    trusted = public_bytes(checkpoints.load_key(path)) if path.exists() else None
    engine = request.app.state.engine
    report = verify(engine, public_key=trusted, max_problems=50)
    cp = checkpoints.latest(engine)
    return _page(request, "console/ledger.html", {"head": cp.to_json() if cp else None, "report": report,
                                                   "trusted": trusted is not None, "csrf": p.csrf}, p)


# --- interference records --------------------------------------------------------------------------------

@router.get("/interference")
def interference(request: Request, done: str = "", error: str = "") -> Response:
    p = _signed_in(request)
    if isinstance(p, Response):
        return p
    if p.role not in INTERFERENCE_FILERS | SEALED_READERS:
        return _forbidden(request, p)
    from tianlan.ledger.interference import METHODS
    from tianlan.store.interference_repo import InterferenceRepo

    records = InterferenceRepo(request.app.state.engine).list(_user(request, p.name))
    return _page(request, "console/interference.html", {
        "records": records, "methods": METHODS, "can_file": p.role in INTERFERENCE_FILERS, "csrf": p.csrf,
        "done": done, "error": error}, p)


@router.post("/interference")
def interference_file(request: Request, occurred: str = Form(""), method: str = Form(""), official: str = Form(""),
                      position: str = Form(""), organisation: str = Form(""), request_text: str = Form(""),
                      station: str = Form(""), csrf_token: str = Form("")) -> Response:
    p = _form_principal(request, csrf_token)
    if p is None:
        return _page(request, "console/message.html", {"message": "CSRF: " + i18n.t("con.forbidden", i18n.lang_of(request))},
                     _who(request), status_code=403)
    from tianlan.ledger.interference import Official
    from tianlan.store.interference_repo import InterferenceRepo

    try:
        when = parse_user_time(occurred, field="occurred") if occurred else 0
        officials = [Official(official.strip(), position.strip(), organisation.strip())] if official.strip() else []
        rid = InterferenceRepo(request.app.state.engine).file(
            _user(request, p.name), occurred_utc=when, method=method, officials=officials, request=request_text,
            station=station.strip() or None)
    except TianlanError as e:
        return RedirectResponse(f"/console/interference?error={quote(str(e))}", status_code=303)
    return RedirectResponse(f"/console/interference?done={rid}", status_code=303)


@router.get("/interference/{record_id}")
def interference_record(request: Request, record_id: int, done: str = "", error: str = "") -> Response:
    """One record with its addenda, attachments (hashes checked) and access log — for its filer and
    for discipline and audit; every read and every refused attempt is a ledger entry (the repository)."""
    p = _signed_in(request)
    if isinstance(p, Response):
        return p
    from tianlan.ledger.interference import METHODS
    from tianlan.store.interference_repo import InterferenceRepo

    try:
        rec = InterferenceRepo(request.app.state.engine).show(_user(request, p.name), record_id)
    except TianlanError as e:  # the same answer whether it is absent or not readable (logged by the repository)
        return _page(request, "console/message.html", {"message": str(e)}, p, status_code=404)
    return _page(request, "console/interference_record.html", {
        "r": rec, "methods": METHODS, "csrf": p.csrf, "done": done, "error": error,
        "sealed_reader": p.role in SEALED_READERS}, p)


@router.post("/interference/{record_id}/append")
async def interference_append(request: Request, record_id: int) -> Response:
    """Append an addendum (and an optional attachment) to a record the user may read."""
    form = await request.form()
    p = _form_principal(request, str(form.get("csrf_token") or ""))
    if p is None:
        return _page(request, "console/message.html", {"message": "CSRF: " + i18n.t("con.forbidden", i18n.lang_of(request))},
                     _who(request), status_code=403)
    from starlette.concurrency import run_in_threadpool
    from starlette.datastructures import UploadFile

    from tianlan.ledger.interference import MAX_ATTACHMENT_BYTES
    from tianlan.store.interference_repo import InterferenceRepo

    upload = form.get("file")
    files: list[tuple[str, bytes]] = []
    if isinstance(upload, UploadFile) and upload.filename:
        files.append((upload.filename, await upload.read(MAX_ATTACHMENT_BYTES + 1)))

    def append() -> int:
        return InterferenceRepo(request.app.state.engine).append(_user(request, p.name), record_id,
                                                                 str(form.get("text") or ""), files)

    try:
        aid = await run_in_threadpool(append)
    except TianlanError as e:
        return RedirectResponse(f"/console/interference/{record_id}?error={quote(str(e))}", status_code=303)
    return RedirectResponse(f"/console/interference/{record_id}?done={aid}", status_code=303)


@router.get("/interference/{record_id}/attachments/{attachment_id}")
def interference_attachment(request: Request, record_id: int, attachment_id: int) -> Response:
    """An attachment's bytes (a logged read); refused when they no longer match their SHA-256."""
    p = _signed_in(request)
    if isinstance(p, Response):
        return p
    from tianlan.store.interference_repo import InterferenceRepo

    try:
        name, data, digest = InterferenceRepo(request.app.state.engine).attachment(_user(request, p.name), record_id,
                                                                                    attachment_id)
    except TianlanError as e:
        return _page(request, "console/message.html", {"message": str(e)}, p, status_code=404)
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                             "X-Content-SHA256": digest})
