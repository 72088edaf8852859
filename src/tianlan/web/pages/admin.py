"""Console administration (administrators only): users (add, deactivate, reactivate) and API keys for
other departments (create — the secret is shown once — and revoke). Every change goes through
``UsersRepo`` / ``ApiKeysRepo``, which check role and scope and write the ledger entry with the
administrator as actor.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from tianlan.auth.roles import LABELS, Role
from tianlan.errors import TianlanError
from tianlan.web import i18n
from tianlan.web.auth import Principal
from tianlan.web.pages.console import _forbidden, _form_principal, _page, _signed_in, _who

router = APIRouter(prefix="/console/admin", include_in_schema=False)


def _admin_post(request: Request, csrf_token: str) -> Principal | Response:
    p = _form_principal(request, csrf_token)
    if p is None:
        return _page(request, "console/message.html", {"message": "CSRF: " + i18n.t("con.forbidden", i18n.lang_of(request))},
                     _who(request), status_code=403)
    return p if p.role is Role.ADMIN else _forbidden(request, p)


@router.get("")
def admin(request: Request, done: str = "", error: str = "") -> Response:
    p = _signed_in(request)
    if isinstance(p, Response):
        return p
    if p.role is not Role.ADMIN:
        return _forbidden(request, p)
    return _admin_page(request, p, done=done, error=error)


def _admin_page(request: Request, p: Principal, *, done: str = "", error: str = "", secret: str = "") -> Response:
    from tianlan.auth.apikeys import ApiKeysRepo
    from tianlan.auth.users import UsersRepo

    engine = request.app.state.engine
    return _page(request, "console/admin.html", {
        "users": UsersRepo(engine).list(), "keys": ApiKeysRepo(engine).list(), "roles": list(Role), "labels": LABELS,
        "csrf": p.csrf, "done": done, "error": error, "secret": secret}, p)


@router.post("/users")
def add_user(request: Request, username: str = Form(""), password: str = Form(""), role: str = Form(""),
             scope: str = Form(""), display_name: str = Form(""), csrf_token: str = Form("")) -> Response:
    p = _admin_post(request, csrf_token)
    if isinstance(p, Response):
        return p
    from tianlan.auth.users import UsersRepo

    try:
        UsersRepo(request.app.state.engine).add(username.strip(), password, role, scope.strip(),
                                                display_name=display_name.strip(), actor=p.name)
    except TianlanError as e:
        return RedirectResponse(f"/console/admin?error={quote(str(e))}", status_code=303)
    return RedirectResponse(f"/console/admin?done={quote(username.strip())}", status_code=303)


@router.post("/users/{username}/active")
def set_active(request: Request, username: str, active: str = Form(""), csrf_token: str = Form("")) -> Response:
    p = _admin_post(request, csrf_token)
    if isinstance(p, Response):
        return p
    from tianlan.auth.users import UsersRepo

    try:
        if username == p.name and active != "1":
            raise TianlanError("username: you cannot deactivate yourself / 不能停用自己")
        UsersRepo(request.app.state.engine).set_active(username, active == "1", actor=p.name)
    except TianlanError as e:
        return RedirectResponse(f"/console/admin?error={quote(str(e))}", status_code=303)
    return RedirectResponse(f"/console/admin?done={quote(username)}", status_code=303)


@router.post("/keys")
def add_key(request: Request, name: str = Form(""), role: str = Form(""), scope: str = Form(""),
            rate: int = Form(60), csrf_token: str = Form("")) -> Response:
    p = _admin_post(request, csrf_token)
    if isinstance(p, Response):
        return p
    from tianlan.auth.apikeys import ApiKeysRepo

    try:
        key, secret = ApiKeysRepo(request.app.state.engine).create(name, role, scope.strip(), rate_limit_per_min=rate,
                                                                    actor=p.name)
    except TianlanError as e:
        return RedirectResponse(f"/console/admin?error={quote(str(e))}", status_code=303)
    # the secret is shown once, in the page this request renders (never in a URL or a log)
    return _admin_page(request, p, done=key.name, secret=secret)


@router.post("/keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: int, csrf_token: str = Form("")) -> Response:
    p = _admin_post(request, csrf_token)
    if isinstance(p, Response):
        return p
    from tianlan.auth.apikeys import ApiKeysRepo

    try:
        k = ApiKeysRepo(request.app.state.engine).revoke(key_id, actor=p.name)
    except TianlanError as e:
        return RedirectResponse(f"/console/admin?error={quote(str(e))}", status_code=303)
    return RedirectResponse(f"/console/admin?done={quote(k.name)}", status_code=303)
