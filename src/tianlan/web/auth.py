"""Who is calling: people signed in with a session cookie, departments with an API key, or the public.

- **People** sign in at ``POST /api/v1/auth/login`` (``tianlan.auth.users.UsersRepo.authenticate``)
  and get a signed session cookie (itsdangerous, secret from ``TIANLAN_SESSION_SECRET`` or
  ``<data_dir>/session.key``), HttpOnly and SameSite=Lax, valid ``session_max_age_s``. A request
  that changes state with that cookie must carry the session's CSRF token in ``X-CSRF-Token``
  (returned by login and by ``GET /api/v1/auth/me``). Logout revokes the session in this process.
- **Departments** send ``X-API-Key`` (``tianlan.auth.apikeys.ApiKeysRepo.lookup``); each key has a
  role, a scope and a per-minute rate limit (:mod:`tianlan.web.ratelimit`). Keys read; acting on
  alarms needs a signed-in person, so that every action is attributed to a named user.
- **The public** needs neither for published results.

The user's role and scope are re-read on every request (a deactivated user loses access at once).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, Field

from tianlan.auth.roles import LABELS, Role
from tianlan.errors import TianlanError
from tianlan.settings import Settings
from tianlan.store.scoped import RegionTreeCache, Scope
from tianlan.web.errors import ApiError, unauthenticated
from tianlan.web.ratelimit import STATE_KEY, RateLimiter
from tianlan.web.scope import scope_for

COOKIE = "tianlan_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_ATTEMPTS_PER_MIN = 10
_KEY_CACHE_S = 5.0


@dataclass(frozen=True)
class Principal:
    """The caller of one request. ``kind``: user | key | anonymous; ``name``: username or key name."""

    kind: str
    name: str
    role: Role | None
    scope_code: str | None
    scope: Scope
    display_name: str = ""
    key_id: int | None = None
    rate_limit_per_min: int | None = None
    csrf: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "display_name": self.display_name,
                "role": self.role.value if self.role else None,
                "role_label": LABELS.get(self.role, "") if self.role else "公众 / Public",
                "scope": self.scope_code, "scope_label": self.scope.label}


ANONYMOUS = Principal("anonymous", "", None, None, Scope.nothing("public"), display_name="公众 / Public")


def _secret(settings: Settings) -> str:
    if settings.session_secret:
        return settings.session_secret
    path = Path(settings.data_dir) / "session.key"
    try:
        text = path.read_text().strip()
        if text:
            return text
    except OSError:
        pass
    text = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
        path.chmod(0o600)
    except OSError:
        pass  # a read-only data dir: sessions last as long as this process
    return text


@dataclass
class WebAuth:
    """Per-application state of the access layer (kept on ``app.state.auth``)."""

    engine: Any
    settings: Settings
    limiter: RateLimiter = field(default_factory=RateLimiter)
    regions: RegionTreeCache = field(init=False)
    serializer: URLSafeTimedSerializer = field(init=False)
    _revoked: dict[str, float] = field(default_factory=dict)
    _keys: dict[bytes, tuple[float, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.regions = RegionTreeCache(self.engine)
        self.serializer = URLSafeTimedSerializer(_secret(self.settings), salt="tianlan-session")

    # --- sessions --------------------------------------------------------------------------------

    def new_session(self, username: str) -> tuple[str, str]:
        """(cookie value, CSRF token) of a new session of ``username``."""
        csrf = secrets.token_urlsafe(24)
        sid = secrets.token_urlsafe(12)
        return self.serializer.dumps({"u": username, "c": csrf, "s": sid}), csrf

    def read_session(self, value: str) -> dict[str, str] | None:
        try:
            data = self.serializer.loads(value, max_age=int(self.settings.session_max_age_s))
        except BadSignature:
            return None
        if not isinstance(data, dict) or data.get("s") in self._revoked:
            return None
        return data

    def revoke(self, session: dict[str, str]) -> None:
        now = time.time()
        with self._lock:
            self._revoked = {s: t for s, t in self._revoked.items() if t > now}
            self._revoked[session.get("s", "")] = now + self.settings.session_max_age_s

    # --- principals ------------------------------------------------------------------------------

    def scope_of(self, role: Role, code: str) -> Scope:
        return scope_for(role, code, self.regions.get())

    def user_principal(self, session: dict[str, str]) -> Principal | None:
        from tianlan.auth.users import UsersRepo

        try:
            user = UsersRepo(self.engine).get(session["u"])
        except TianlanError:
            return None
        if user is None or not user.active:
            return None
        role = Role(user.role)
        return Principal("user", user.username, role, user.scope, self.scope_of(role, user.scope),
                         display_name=user.display_name or user.username, csrf=session.get("c"))

    def key_principal(self, secret: str) -> Principal:
        from tianlan.auth.apikeys import ApiKeysRepo

        digest = hashlib.sha256(secret.encode()).digest()
        now = time.monotonic()
        hit = self._keys.get(digest)
        if hit is not None and now - hit[0] < _KEY_CACHE_S:
            key = hit[1]
        else:
            try:
                key = ApiKeysRepo(self.engine).lookup(secret)
            except TianlanError:
                key = None
            if len(self._keys) > 1000:
                self._keys.clear()
            self._keys[digest] = (now, key)
        if key is None or not key.active:
            raise ApiError(401, "无效或已停用的 API 密钥 / unknown or revoked API key", field="X-API-Key")
        role = Role(key.role)
        return Principal("key", key.name, role, key.scope, self.scope_of(role, key.scope), display_name=key.name,
                         key_id=int(key.id), rate_limit_per_min=int(key.rate_limit_per_min), csrf=None)


def web_auth(request: Request) -> WebAuth:
    return request.app.state.auth  # type: ignore[no-any-return]


def resolve_principal(request: Request) -> Principal:
    """The request's principal (cached on ``request.state``); applies the key's rate limit and CSRF."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    auth = web_auth(request)
    secret = request.headers.get("x-api-key")
    if secret is not None:
        p = auth.key_principal(secret.strip())
        verdict = auth.limiter.hit(("key", p.key_id), p.rate_limit_per_min or 60)
        setattr(request.state, STATE_KEY, verdict.headers())
        if not verdict.allowed:
            raise ApiError(429, f"超过调用频率限制 / rate limit of {verdict.limit} requests per minute exceeded; "
                                f"retry in {verdict.reset_s} s", field="X-API-Key", headers=verdict.headers())
    else:
        p = ANONYMOUS
        cookie = request.cookies.get(COOKIE)
        if cookie:
            session = auth.read_session(cookie)
            user = auth.user_principal(session) if session else None
            if user is not None:
                if request.method not in SAFE_METHODS:
                    sent = request.headers.get(CSRF_HEADER.lower(), "")
                    if not sent or not secrets.compare_digest(sent, user.csrf or ""):
                        raise ApiError(403, "缺少或错误的 CSRF 令牌 / missing or wrong CSRF token for a request "
                                            "made with a session cookie", field=CSRF_HEADER)
                p = user
    request.state.principal = p
    return p


# --- the sign-in endpoints ---------------------------------------------------------------------------

router = APIRouter(prefix="/auth", tags=["auth 登录"])


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64, description="用户名 / user name")
    password: str = Field(min_length=1, max_length=1024, description="密码 / password")


def _session_out(p: Principal) -> dict[str, Any]:
    return {"principal": p.as_dict(), "csrf_token": p.csrf}


@router.post("/login", summary="登录 / Sign in (sets the session cookie)")
def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
    """Checks the password (argon2id) and sets an HttpOnly session cookie; returns the CSRF token
    that state-changing requests made with this cookie must send in ``X-CSRF-Token``."""
    from tianlan.auth.users import UsersRepo

    auth = web_auth(request)
    host = request.client.host if request.client else "?"
    verdict = auth.limiter.hit(("login", body.username, host), LOGIN_ATTEMPTS_PER_MIN)
    if not verdict.allowed:
        raise ApiError(429, f"登录尝试过多 / too many sign-in attempts; retry in {verdict.reset_s} s",
                       field="username", headers=verdict.headers())
    try:
        user = UsersRepo(auth.engine).authenticate(body.username, body.password)
    except TianlanError as e:
        raise ApiError(401, "用户名或密码错误 / wrong user name or password", field="password") from e
    cookie, csrf = auth.new_session(user.username)
    response.set_cookie(COOKIE, cookie, max_age=int(auth.settings.session_max_age_s), httponly=True, samesite="lax",
                        secure=auth.settings.session_cookie_secure, path="/")
    role = Role(user.role)
    p = Principal("user", user.username, role, user.scope, auth.scope_of(role, user.scope),
                  display_name=user.display_name or user.username, csrf=csrf)
    return _session_out(p)


@router.post("/logout", summary="退出 / Sign out")
def logout(request: Request, response: Response) -> dict[str, Any]:
    auth = web_auth(request)
    p = resolve_principal(request)  # checks the CSRF token of a signed-in session
    cookie = request.cookies.get(COOKIE)
    session = auth.read_session(cookie) if cookie else None
    if session is not None:
        auth.revoke(session)
    response.delete_cookie(COOKIE, path="/")
    return {"signed_out": p.kind == "user"}


@router.get("/me", summary="当前身份 / Who am I")
def me(request: Request) -> dict[str, Any]:
    p = resolve_principal(request)
    if not p.authenticated:
        raise unauthenticated()
    return _session_out(p)
