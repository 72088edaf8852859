"""A cache of rendered public pages (and public JSON) keyed by (path, query, language).

The public portal shows official results that change when the assessment job writes them — every
few minutes at most — while the portal is polled by many readers. Rendering a page (a few
queries and a Jinja2 template) costs milliseconds of CPU; serving stored bytes costs microseconds.

An entry is fresh while both hold:

- it is younger than :data:`PAGE_TTL_S` (registry changes and new hours show within this long);
- the results version (:meth:`tianlan.store.portal_repo.PortalRepo.results_version`: the
  assessment job's watermark and the stamp it writes after every run) is the one it was built
  at. The version is read at most every :data:`VERSION_CHECK_S` (one key lookup), so a finished
  assessment shows on the portal within that long.

A stale entry is still served while one request rebuilds it (no burst ever queues behind a
render); a missing entry is built once, the other requests for it wait for that build.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from tianlan.store.portal_repo import PortalRepo

PAGE_TTL_S = 60.0
VERSION_CHECK_S = 2.0
MAX_ENTRIES = 512


class PageCache:
    """Rendered bodies of public pages, invalidated by time and by the results version."""

    def __init__(self, engine: Engine, *, ttl_s: float = PAGE_TTL_S, version_check_s: float = VERSION_CHECK_S) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self.version_check_s = version_check_s
        self._items: dict[Any, tuple[float, Any, Any]] = {}  # key -> (built monotonic, version, value)
        self._building: dict[Any, asyncio.Future[Any]] = {}
        self._version: Any = None
        self._version_read = -1e18
        self.hits = 0
        self.builds = 0

    def invalidate(self) -> None:
        """Forget every entry (e.g. after the process itself wrote results)."""
        self._items.clear()
        self._version_read = -1e18

    async def _current_version(self) -> Any:
        now = time.monotonic()
        if now - self._version_read >= self.version_check_s:
            self._version_read = now  # one reader at a time refreshes it; the others use the last value
            self._version = await run_in_threadpool(PortalRepo(self.engine).results_version)
        return self._version

    async def get(self, key: Any, build: Callable[[], Any]) -> Any:
        """The cached value of ``key``; ``build`` (blocking) runs in a worker thread when needed."""
        version = await self._current_version()
        hit = self._items.get(key)
        now = time.monotonic()
        if hit is not None and hit[1] == version and now - hit[0] < self.ttl_s:
            self.hits += 1
            return hit[2]
        pending = self._building.get(key)
        if pending is not None:
            if hit is not None:
                return hit[2]  # stale while someone rebuilds it
            return await asyncio.shield(pending)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._building[key] = fut
        try:
            value = await run_in_threadpool(build)
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # retrieved: waiters get it, nobody logs "never retrieved"
            raise
        finally:
            self._building.pop(key, None)
        self.builds += 1
        if len(self._items) >= MAX_ENTRIES:
            self._items.clear()
        self._items[key] = (time.monotonic(), version, value)
        fut.set_result(value)
        return value


def page_cache(app_state: Any, engine: Engine) -> PageCache:
    """The app's page cache (created on first use)."""
    cache = getattr(app_state, "page_cache", None)
    if cache is None:
        cache = app_state.page_cache = PageCache(engine)
    return cache
