"""The operator console (sign-in): alarms inbox and evidence, acknowledge/verify/dispose/close; station
and outlet pages with data, flags and QC status; the enterprise's own outlets and exceedances; public
reports (12369) for the staff who answer them.

Sign-in uses the session of :mod:`tianlan.web.auth` (the same cookie as the API). Every read goes
through the scoped repositories (``ResultsRepo``, ``ApiRepo`` with the principal's
:class:`~tianlan.store.scoped.Scope`), so a page can show only what the API would; every action is
made through the alarm service in the signed-in user's name. Forms carry the session's CSRF token.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from tianlan.alarms.lifecycle import OUTCOMES, TRANSITIONS
from tianlan.alarms.service import AlarmService
from tianlan.auth.roles import LABELS, Role
from tianlan.errors import Conflict, InputError, NotFound, TianlanError
from tianlan.store.api_repo import ApiRepo
from tianlan.store.api_results_repo import ResultsRepo
from tianlan.store.portal_repo import PortalRepo
from tianlan.store.qc_repo import QcRepo
from tianlan.web import i18n
from tianlan.web.auth import ANONYMOUS, COOKIE, Principal, resolve_principal, web_auth
from tianlan.web.deps import public_scope
from tianlan.web.errors import ApiError
from tianlan.web.pages.evidence import evidence_chart
from tianlan.web.pages.templating import render
from tianlan.web.scope import Perm, allowed

router = APIRouter(prefix="/console", include_in_schema=False)
#: the next action from each state, in lifecycle order
NEXT_ACTION = {need: action for action, (need, _to) in TRANSITIONS.items()}
OPEN = ("raised", "acknowledged", "verified")
#: what a station page charts first when the user has not chosen: the main pollutant of each kind of site
PREFERRED_PARAMETERS = ("a34004", "a34002", "a21026", "a21002", "a34013", "w01018", "w21003", "w01001")
REPORT_HANDLERS = frozenset({Role.ADMIN, Role.PROVINCE, Role.CITY, Role.ENFORCEMENT})


class _Redirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url


def _who(request: Request) -> Principal:
    try:
        p = resolve_principal(request)
    except ApiError:
        p = ANONYMOUS
    return p


def _page(request: Request, name: str, ctx: dict[str, Any], p: Principal, status_code: int = 200) -> Response:
    return render(request, name, {"menu": _menu(p), "role_label": LABELS.get(p.role, "") if p.role else "", **ctx},
                  status_code=status_code, user=p)


def _menu(p: Principal) -> list[tuple[str, str]]:
    items = []
    if allowed(p.role, Perm.READ_ALARMS):
        items.append(("/console/alarms", "con.alarms"))
    if allowed(p.role, Perm.READ_DATA):
        items.append(("/console/stations", "con.stations"))
    if p.role is Role.ENTERPRISE:
        items.append(("/console/enterprise", "con.enterprise"))
    if p.role in REPORT_HANDLERS:
        items.append(("/console/reports", "con.reports"))
    if p.role in (Role.ADMIN, Role.PROVINCE):
        items.append(("/console/releases", "con.releases"))
    if p.role is Role.ADMIN:
        items.append(("/console/admin", "con.admin"))
    from tianlan.auth.roles import INTERFERENCE_FILERS, REVIEW_LEVEL_ROLES, SEALED_READERS

    if any(p.role in roles for roles in REVIEW_LEVEL_ROLES.values()):
        items.append(("/console/review", "con.review"))
    if allowed(p.role, Perm.READ_LEDGER):
        items.append(("/console/ledger", "con.ledger"))
    if p.role in INTERFERENCE_FILERS | SEALED_READERS:
        items.append(("/console/interference", "con.interference"))
    return items


def _signed_in(request: Request, perm: Perm | None = None) -> Principal | Response:
    p = _who(request)
    if p.kind != "user":
        return RedirectResponse(f"/console/login?next={request.url.path}", status_code=303)
    if perm is not None and not allowed(p.role, perm):
        return _forbidden(request, p)
    return p


def _forbidden(request: Request, p: Principal) -> Response:
    lang = i18n.lang_of(request)
    return _page(request, "console/message.html", {"message": i18n.t("con.forbidden", lang)}, p, status_code=403)


def _form_principal(request: Request, csrf_token: str) -> Principal | None:
    """The signed-in user of a form post whose CSRF token (form field, or the ``X-CSRF-Token`` header
    that HTMX and API clients send) matches the session's, else None."""
    csrf_token = csrf_token or request.headers.get("x-csrf-token", "")
    auth = web_auth(request)
    cookie = request.cookies.get(COOKIE)
    session = auth.read_session(cookie) if cookie else None
    p = auth.user_principal(session) if session else None
    if p is None or not csrf_token or not secrets.compare_digest(csrf_token, p.csrf or ""):
        return None
    return p


# --- sign-in --------------------------------------------------------------------------------------------

@router.get("")
def home(request: Request) -> Response:
    p = _who(request)
    if p.kind != "user":
        return RedirectResponse("/console/login", status_code=303)
    menu = _menu(p)
    return RedirectResponse(menu[0][0] if menu else "/console/login", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str = "/console") -> Response:
    return _page(request, "console/login.html", {"next": _safe_next(next), "error": None}, _who(request))


def _safe_next(url: str) -> str:
    return url if url.startswith("/console") and "//" not in url else "/console"


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/console")) -> Response:
    from tianlan.auth.users import UsersRepo

    auth = web_auth(request)
    lang = i18n.lang_of(request)
    host = request.client.host if request.client else "?"
    verdict = auth.limiter.hit(("login", username, host), 10)
    try:
        if not verdict.allowed:
            raise TianlanError("too many attempts")
        user = UsersRepo(auth.engine).authenticate(username, password)
    except TianlanError:
        return _page(request, "console/login.html", {"next": _safe_next(next), "error": i18n.t("con.badlogin", lang)},
                     ANONYMOUS, status_code=401)
    cookie, _csrf = auth.new_session(user.username)
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(COOKIE, cookie, max_age=int(auth.settings.session_max_age_s), httponly=True, samesite="lax",
                    secure=auth.settings.session_cookie_secure, path="/")
    return resp


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")) -> Response:
    auth = web_auth(request)
    if _form_principal(request, csrf_token) is not None:
        session = auth.read_session(request.cookies.get(COOKIE, ""))
        if session is not None:
            auth.revoke(session)
    resp = RedirectResponse("/console/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


# --- alarms -------------------------------------------------------------------------------------------------

@router.get("/alarms")
def alarms(request: Request, status: str = "open", page: int = 1) -> Response:
    p = _signed_in(request, Perm.READ_ALARMS)
    if isinstance(p, Response):
        return p
    states = OPEN if status == "open" else (() if status == "all" else (status,))
    page = max(1, page)
    res = ResultsRepo(request.app.state.engine).alarms(p.scope, status=states, limit=50, offset=(page - 1) * 50)
    return _page(request, "console/alarms.html", {"rows": res.rows, "found": res.found, "status": status, "page": page}, p)


@router.get("/alarms/{alarm_id}")
def alarm(request: Request, alarm_id: int, done: str = "", error: str = "") -> Response:
    p = _signed_in(request, Perm.READ_ALARMS)
    if isinstance(p, Response):
        return p
    engine = request.app.state.engine
    a = ResultsRepo(engine).alarm(p.scope, alarm_id)
    if a is None:
        return _page(request, "console/message.html", {"message": str(NotFound("alarm 告警", str(alarm_id)))}, p,
                     status_code=404)
    chart = evidence_chart(engine, p.scope, a)
    can_act = p.kind == "user" and allowed(p.role, Perm.ACT_ALARMS)
    return _page(request, "console/alarm.html", {
        "a": a, "chart": chart, "next_action": NEXT_ACTION.get(a["status"]) if can_act else None,
        "outcomes": list(OUTCOMES), "done": done, "error": error, "csrf": p.csrf}, p)


@router.post("/alarms/{alarm_id}/act")
def act(request: Request, alarm_id: int, action: str = Form(""), note: str = Form(""), outcome: str = Form(""),
        csrf_token: str = Form("")) -> Response:
    p = _form_principal(request, csrf_token)
    lang = i18n.lang_of(request)
    if p is None:
        return _page(request, "console/message.html", {"message": "CSRF: " + i18n.t("con.forbidden", lang)}, _who(request),
                     status_code=403)
    if not allowed(p.role, Perm.ACT_ALARMS):
        return _forbidden(request, p)
    engine = request.app.state.engine
    if ResultsRepo(engine).alarm(p.scope, alarm_id) is None:
        return _page(request, "console/message.html", {"message": str(NotFound("alarm 告警", str(alarm_id)))}, p,
                     status_code=404)
    from urllib.parse import quote

    try:
        AlarmService(engine).transition(alarm_id, action, user=p.name, note=note,
                                        outcome=(outcome or None) if action == "dispose" else None)
    except (InputError, Conflict) as e:
        msg = f"{e.field}: {e.reason}" if isinstance(e, InputError) else str(e)
        return RedirectResponse(f"/console/alarms/{alarm_id}?error={quote(msg)}", status_code=303)
    return RedirectResponse(f"/console/alarms/{alarm_id}?done={quote(action)}", status_code=303)


# --- stations and outlets ------------------------------------------------------------------------------

@router.get("/stations")
def stations(request: Request, kind: str = "") -> Response:
    p = _signed_in(request, Perm.READ_DATA)
    if isinstance(p, Response):
        return p
    page = ApiRepo(request.app.state.engine).sites(p.scope, kind=kind or None, limit=1000)
    return _page(request, "console/stations.html", {"rows": page.rows, "found": page.found, "kind": kind}, p)


@router.get("/stations/{code}")
def station(request: Request, code: str, parameter: str = "", days: int = 7) -> Response:
    p = _signed_in(request, Perm.READ_DATA)
    if isinstance(p, Response):
        return p
    engine = request.app.state.engine
    site = ApiRepo(engine).site(p.scope, code)
    if site is None:  # outside the scope reads as absent — unless it is a public air station
        public = ApiRepo(engine).site(public_scope(p, frozenset({"air"})), code)
        if public is not None and public["kind"] == "air":
            from tianlan.web.pages.portal import _network

            net = _network(request)
            city = net.city_of(public["region_code"])
            return _page(request, "console/public_station.html", {
                "code": code, "name": public["name"], "city": city,
                "city_name": net.name(city, i18n.lang_of(request))}, p)
        return _page(request, "console/message.html", {"message": str(NotFound("site 点位", code))}, p, status_code=404)
    repo = PortalRepo(engine)
    days = max(1, min(days, 31))
    last = repo.site_last_time(code)
    rows = repo.site_series(code, last - days * 86400 + 3600, last + 1) if last is not None else []
    params = sorted({r[1] for r in rows})
    preferred = [c for c in PREFERRED_PARAMETERS if c in params]
    chosen = parameter if parameter in params else (preferred or params or [""])[0]
    times = sorted({r[0] for r in rows})
    series = {r[0]: (r[2], r[3]) for r in rows if r[1] == chosen}
    flags: dict[str, int] = {}
    for r in rows:
        if r[3] and r[3] != "N":
            key = f"{r[1]}:{r[3]}"
            flags[key] = flags.get(key, 0) + 1
    qc = QcRepo(engine).results(station=code, start_utc=(last - days * 86400) if last else None, limit=2000) if last else []
    chart = {
        "times": [t for t in times], "values": [series.get(t, (None, None))[0] for t in times],
        "flags": [series.get(t, (None, None))[1] for t in times], "parameter": chosen,
        "qc": [{"detector": r.detector, "parameter": r.parameter, "start": r.start_utc, "end": r.end_utc,
                "status": int(r.status), "reason": r.reason} for r in qc],
    }
    return _page(request, "console/station.html", {"site": site, "params": params, "chosen": chosen, "chart": chart,
                                                   "flags": sorted(flags.items()), "qc": qc[:200], "days": days}, p)


# --- enterprise ----------------------------------------------------------------------------------------

@router.get("/enterprise")
def enterprise(request: Request) -> Response:
    p = _signed_in(request, Perm.READ_DATA)
    if isinstance(p, Response):
        return p
    engine = request.app.state.engine
    outlets = ApiRepo(engine).sites(p.scope, kind="source", limit=500).rows
    res = ResultsRepo(engine)
    latest = res.latest_period(p.scope, "outlet_month")
    months = res.results(p.scope, "outlet_month", start_utc=latest, end_utc=latest + 1, limit=500).rows if latest else []
    by_outlet = {m["subject"]: m for m in months}
    marks: list[Any] = []
    kinds: dict[str, str] = {}
    if p.role is Role.ENTERPRISE:
        from tianlan.auth.users import UsersRepo
        from tianlan.ledger.marks import KINDS
        from tianlan.store.marks_repo import MarksRepo

        actor: Any = UsersRepo(engine).get(p.name)  # a User is the repositories' Actor
        marks, kinds = MarksRepo(engine).list(actor, limit=100), KINDS
    return _page(request, "console/enterprise.html", {
        "outlets": outlets, "by_outlet": by_outlet, "month": latest, "marks": marks, "kinds": kinds, "csrf": p.csrf,
        "done": request.query_params.get("done", ""), "error": request.query_params.get("error", "")}, p)


@router.post("/enterprise/marks")
def add_mark(request: Request, station: str = Form(""), kind: str = Form(""), start: str = Form(""), end: str = Form(""),
             reason: str = Form(""), csrf_token: str = Form("")) -> Response:
    """An enterprise marks a stretch of its own outlet's data (2022 marking rule), in its own name."""
    p = _form_principal(request, csrf_token)
    if p is None:
        return _page(request, "console/message.html", {"message": "CSRF: " + i18n.t("con.forbidden", i18n.lang_of(request))},
                     _who(request), status_code=403)
    from urllib.parse import quote

    from tianlan.auth.users import UsersRepo
    from tianlan.model.timeutil import parse_user_time
    from tianlan.store.marks_repo import MarksRepo

    engine = request.app.state.engine
    try:
        a = parse_user_time(start, field="start") if start else 0
        b = parse_user_time(end, field="end") if end else 0
        actor: Any = UsersRepo(engine).get(p.name)
        m = MarksRepo(engine).add(actor, station=station, kind=kind, start_utc=a, end_utc=b,
                                  reason=reason)
    except TianlanError as e:
        return RedirectResponse(f"/console/enterprise?error={quote(str(e))}", status_code=303)
    return RedirectResponse(f"/console/enterprise?done={m.id}", status_code=303)


# --- public reports ------------------------------------------------------------------------------------

@router.get("/reports")
def reports(request: Request) -> Response:
    p = _signed_in(request)
    if isinstance(p, Response):
        return p
    if p.role not in REPORT_HANDLERS:
        return _forbidden(request, p)
    from tianlan.web.pages.portal import reports_repo

    rows = reports_repo(request).list(regions=None if p.scope.everything else p.scope.regions, limit=200)
    return _page(request, "console/reports.html", {"rows": rows, "csrf": p.csrf}, p)


@router.post("/reports/{tracking_no}")
def answer_report(request: Request, tracking_no: str, status: str = Form(""), note: str = Form(""),
                  csrf_token: str = Form("")) -> Response:
    p = _form_principal(request, csrf_token)
    if p is None or p.role not in REPORT_HANDLERS:
        return _page(request, "console/message.html", {"message": i18n.t("con.forbidden", i18n.lang_of(request))},
                     _who(request), status_code=403)
    from tianlan.web.pages.portal import reports_repo

    repo = reports_repo(request)
    try:
        r = repo.get(tracking_no)
        if not p.scope.everything and (r.region_code is None or not p.scope.sees_region(r.region_code)):
            return _forbidden(request, p)
        repo.handle(tracking_no, status=status, note=note, user=p.name)
    except (InputError, NotFound) as e:
        return _page(request, "console/message.html", {"message": str(e)}, p, status_code=400)
    return RedirectResponse("/console/reports", status_code=303)


# --- publishing release documents ---------------------------------------------------------------------

@router.get("/releases")
def releases(request: Request, done: str = "", error: str = "") -> Response:
    p = _signed_in(request)
    if isinstance(p, Response):
        return p
    if p.role not in (Role.ADMIN, Role.PROVINCE):
        return _forbidden(request, p)
    from tianlan.store.releases_repo import ReleasesRepo

    repo = ReleasesRepo(request.app.state.engine)
    return _page(request, "console/releases.html", {"items": repo.items(), "docs": repo.documents(limit=20),
                                                    "csrf": p.csrf, "done": done, "error": error}, p)


@router.post("/releases")
async def publish(request: Request) -> Response:
    form = await request.form()
    p = _form_principal(request, str(form.get("csrf_token") or ""))
    if p is None or p.role not in (Role.ADMIN, Role.PROVINCE):
        return _page(request, "console/message.html", {"message": i18n.t("con.forbidden", i18n.lang_of(request))},
                     _who(request), status_code=403)
    from urllib.parse import quote

    from starlette.datastructures import UploadFile

    from tianlan.store.releases_repo import MAX_ATTACHMENT, ReleasesRepo

    upload = form.get("file")
    content, filename, ctype = None, None, None
    if isinstance(upload, UploadFile) and upload.filename:
        content = await upload.read(MAX_ATTACHMENT + 1)
        filename, ctype = upload.filename, upload.content_type or "application/octet-stream"
    sup = str(form.get("supersedes") or "").strip()
    try:
        doc_id = ReleasesRepo(request.app.state.engine).publish(
            str(form.get("item") or ""), title=str(form.get("title") or ""), user=p.name, body=str(form.get("body") or ""),
            period=str(form.get("period") or ""), content=content, filename=filename, content_type=ctype,
            supersedes=int(sup) if sup.isdigit() else None)
    except InputError as e:
        return RedirectResponse(f"/console/releases?error={quote(f'{e.field}: {e.reason}')}", status_code=303)
    return RedirectResponse(f"/console/releases?done={doc_id}", status_code=303)
