"""FastAPI dependencies of the data API: the principal and its permission, paging, time and region filters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from tianlan.errors import InputError
from tianlan.model.timeutil import parse_user_time
from tianlan.store.scoped import PUBLIC_SITE_KINDS, Scope
from tianlan.web.auth import ANONYMOUS, COOKIE, Principal, resolve_principal, web_auth
from tianlan.web.errors import forbidden, unauthenticated
from tianlan.web.scope import PERM_LABELS, Perm, allowed

MAX_LIMIT = 1000


async def principal(request: Request) -> Principal:
    """The caller. Async so that public requests never wait for a worker thread (the portal's and
    departments' polling is the hot path); a session or key is checked in a worker thread."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    if "x-api-key" not in request.headers and COOKIE not in request.cookies:
        request.state.principal = ANONYMOUS
        return ANONYMOUS
    return await run_in_threadpool(resolve_principal, request)


def require(perm: Perm) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that lets through only principals whose role holds ``perm`` (401 anonymous, 403 others)."""

    async def dep(request: Request) -> Principal:
        p = await principal(request)
        if not p.authenticated:
            raise unauthenticated()
        if not allowed(p.role, perm):
            raise forbidden(f"角色 {p.role} 无此权限 / role {p.role} may not {PERM_LABELS[perm]}")
        return p

    dep.__name__ = f"require_{perm.value.replace('.', '_')}"
    return dep


def public_scope(p: Principal, kinds: frozenset[str] = PUBLIC_SITE_KINDS) -> Scope:
    """What a caller sees of published results: the published site kinds everywhere, plus its own scope."""
    return p.scope.with_public(kinds)


Caller = Annotated[Principal, Depends(principal)]


@dataclass(frozen=True)
class Paging:
    limit: int
    page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


async def paging(limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="每页条数 / rows per page (1-1000)")] = 100,
           page: Annotated[int, Query(ge=1, le=1_000_000, description="页码，从 1 起 / page number from 1")] = 1) -> Paging:
    return Paging(limit, page)


PagingDep = Annotated[Paging, Depends(paging)]


@dataclass(frozen=True)
class TimeRange:
    start_utc: int | None
    end_utc: int | None


async def time_range(
    start: Annotated[str | None, Query(max_length=40, description="起始时间（含）/ start (inclusive), ISO 8601; "
                                        "no offset = Beijing time, e.g. 2026-05-01 or 2026-05-01T08:00+08:00")] = None,
    end: Annotated[str | None, Query(max_length=40, description="结束时间（不含）/ end (exclusive), ISO 8601")] = None,
) -> TimeRange:
    s = parse_user_time(start, field="start") if start else None
    e = parse_user_time(end, field="end") if end else None
    if s is not None and e is not None and e <= s:
        raise InputError("end", f"必须晚于 start / must be after start ({start!r})")
    return TimeRange(s, e)


TimeDep = Annotated[TimeRange, Depends(time_range)]


async def region_filter(request: Request,
                  region: Annotated[str | None, Query(max_length=12, description="行政区划代码（含下级）/ region "
                                                      "code; includes every region below it")] = None,
                  ) -> frozenset[str] | None:
    """The region filter expanded to the region and its descendants (ANDed with the caller's scope)."""
    if not region:
        return None
    codes = web_auth(request).regions.get().descendants(region)
    if not codes:
        raise InputError("region", f"未知的行政区划代码 / unknown region code {region!r}")
    return codes


RegionDep = Annotated[frozenset[str] | None, Depends(region_filter)]


def split_codes(text: str | None, field: str, *, max_items: int = 100) -> tuple[str, ...]:
    """``a,b,c`` → ('a', 'b', 'c'); InputError naming ``field`` when there are too many or blanks only."""
    if text is None:
        return ()
    items = tuple(x.strip() for x in text.split(",") if x.strip())
    if not items:
        raise InputError(field, "为空 / empty list")
    if len(items) > max_items:
        raise InputError(field, f"最多 {max_items} 项 / at most {max_items} items")
    return items
