"""One error envelope for the whole API: every 4xx names the field and the reason.

``{"error": {"status": 422, "code": "invalid", "field": "limit", "reason": "…", "message": "…"}}``
— ``field`` is the query parameter, body field or header at fault (``null`` when the request as a
whole is refused), ``reason`` says what to fix, Chinese first with English. FastAPI's own
validation errors, :mod:`tianlan.errors` and HTTP exceptions all come out in this shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tianlan.errors import Conflict, InputError, NotFound, TianlanError

log = logging.getLogger(__name__)

CODES = {400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
         409: "conflict", 413: "too-large", 422: "invalid", 429: "rate-limited", 503: "unavailable"}


class ApiError(Exception):
    """A refusal with its HTTP status, the field at fault and the reason (raised by web code)."""

    def __init__(self, status: int, reason: str, *, field: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field
        self.code = code or CODES.get(status, "error")
        self.headers = headers


def unauthenticated(reason: str = "需要登录或 API 密钥 / sign-in or an API key is required") -> ApiError:
    return ApiError(401, reason, field="X-API-Key")


def forbidden(reason: str, field: str | None = None) -> ApiError:
    return ApiError(403, reason, field=field)


def envelope(status: int, reason: str, *, field: str | None = None, code: str | None = None,
             details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"status": status, "code": code or CODES.get(status, "error"), "field": field,
                           "reason": reason, "message": f"{field}: {reason}" if field else reason}
    if details:
        err["details"] = details
    return {"error": err}


def _response(status: int, reason: str, *, field: str | None = None, code: str | None = None,
              details: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(envelope(status, reason, field=field, code=code, details=details), status_code=status,
                        headers=headers)


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("query", "limit")`` → ``limit``; ``("body", "observations", 0, "value")`` → ``observations[0].value``."""
    parts = [p for p in loc if p not in ("query", "body", "path", "header", "cookie")]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or (str(loc[-1]) if loc else "request")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every refusal into the envelope."""

    @app.exception_handler(ApiError)
    async def _api(_r: Request, e: ApiError) -> JSONResponse:
        return _response(e.status, e.reason, field=e.field, code=e.code, headers=e.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_r: Request, e: RequestValidationError) -> JSONResponse:
        details = [{"field": _field_of(tuple(x.get("loc", ()))), "reason": str(x.get("msg", ""))} for x in e.errors()]
        first = details[0] if details else {"field": "request", "reason": "invalid"}
        return _response(422, f"无效的值 / invalid value: {first['reason']}", field=first["field"], details=details)

    @app.exception_handler(InputError)
    async def _input(_r: Request, e: InputError) -> JSONResponse:
        return _response(422, e.reason, field=e.field)

    @app.exception_handler(NotFound)
    async def _not_found(_r: Request, e: NotFound) -> JSONResponse:
        return _response(404, str(e), field=None)

    @app.exception_handler(Conflict)
    async def _conflict(_r: Request, e: Conflict) -> JSONResponse:
        return _response(409, str(e))

    @app.exception_handler(TianlanError)
    async def _other(_r: Request, e: TianlanError) -> JSONResponse:
        # AuthError (tianlan.auth.users) and anything else Tianlan raises on purpose
        status = 401 if type(e).__name__ == "AuthError" else 400
        return _response(status, str(e), field=getattr(e, "field", None))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_r: Request, e: StarletteHTTPException) -> JSONResponse:
        detail = e.detail if isinstance(e.detail, str) else str(e.detail)
        field, _, reason = detail.partition(": ") if ": " in detail and " " not in detail.split(": ")[0] else ("", "", detail)
        return _response(e.status_code, reason or detail, field=field or None, headers=getattr(e, "headers", None))
