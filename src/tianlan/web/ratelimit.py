"""Per-key rate limits: a fixed one-minute window per API key, reported in ``X-RateLimit-*`` headers.

Like OpenAQ's API: every response to a key carries ``X-RateLimit-Limit`` (requests per minute),
``X-RateLimit-Remaining`` (left in this window) and ``X-RateLimit-Reset`` (seconds until the window
resets); over the limit the answer is 429 with ``Retry-After``. Counters live in the web process
(one process serves the API; several web processes would each count — documented in docs/api.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WINDOW_S = 60
STATE_KEY = "ratelimit_headers"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int

    def headers(self) -> dict[str, str]:
        h = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
             "X-RateLimit-Reset": str(self.reset_s)}
        if not self.allowed:
            h["Retry-After"] = str(self.reset_s)
        return h


class RateLimiter:
    """Fixed-window counters keyed by an id (an API key's id); thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[object, tuple[int, int]] = {}  # key → (window start, count)

    def hit(self, key: object, limit: int) -> Verdict:
        now = self.clock()
        start = int(now // WINDOW_S) * WINDOW_S
        reset = max(1, int(start + WINDOW_S - now + 0.999))
        with self._lock:
            w_start, n = self._windows.get(key, (start, 0))
            if w_start != start:
                n = 0
            if n >= limit:
                self._windows[key] = (start, n)
                return Verdict(False, limit, 0, reset)
            n += 1
            self._windows[key] = (start, n)
            if len(self._windows) > 10_000:  # forget old windows
                self._windows = {k: v for k, v in self._windows.items() if v[0] == start}
        return Verdict(True, limit, max(0, limit - n), reset)


class RateLimitHeaders:
    """ASGI middleware: adds the headers a dependency left in ``request.state`` to the response
    (also to streamed and directly returned responses, which FastAPI does not merge headers into)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = scope.get("state", {}).get(STATE_KEY)
                if extra:
                    have = {k.lower() for k, _ in message.get("headers", [])}
                    message["headers"] = list(message.get("headers", [])) + [
                        (k.lower().encode(), v.encode()) for k, v in extra.items() if k.lower().encode() not in have]
            await send(message)

        await self.app(scope, receive, send_with_headers)
