"""Alarm test fixtures: a result factory, a recording notifier, a real HTTP receiver, a real SMTP server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tianlan.alarms.lifecycle import Alarm
from tianlan.qc.core import QcResult, Status

T0 = 1546300800  # 2019-01-01T00:00:00Z = 08:00 Beijing time
H = 3600


def make_result(detector: str = "XV-03", *, station: str = "1001A", parameter: str = "a34004", start_h: float = 0,
                hours: float = 1, status: Status = Status.FAIL, score: float = 0.9, reason: str = "mist_signature",
                family: str = "", evidence: dict[str, Any] | None = None, version: str = "1",
                config_hash: str = "cfg0123456789abc") -> QcResult:
    """A result starting ``start_h`` hours after T0 and lasting ``hours``."""
    s = T0 + int(start_h * H)
    return QcResult(detector, version, config_hash, station, parameter, s, s + int(hours * H), status, reason, score,
                    dict(evidence or {}), family)


@pytest.fixture
def mk() -> Callable[..., QcResult]:
    return make_result


@dataclass
class Recorder:
    """A notifier that records what it was asked to send (and can be told to fail)."""

    name: str = "recorder"
    sent: list[tuple[int, str, int, bool]] = field(default_factory=list)  # (alarm id, event, level, silenced)
    fail: bool = False

    def send(self, alarm: Alarm, event: str) -> str:
        from tianlan.alarms.notify import DeliveryError

        if self.fail:
            raise DeliveryError("recorder: told to fail")
        self.sent.append((alarm.id, event, alarm.level, alarm.silenced))
        return f"recorded {event}"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@dataclass
class Receiver:
    """A local HTTP server that records POSTs and answers with queued status codes (then 200)."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                rec.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                     "body": body})
                code = rec.statuses.pop(0) if rec.statuses else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield rec
    server.shutdown()
    server.server_close()
    th.join(5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def free_port() -> Callable[[], int]:
    """A function returning a local TCP port that nothing listens on (at the time of the call)."""
    return _free_port


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[Any] = field(default_factory=list)  # aiosmtpd envelopes
    logins: list[str] = field(default_factory=list)


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on a free local port; received envelopes in ``.messages``."""
    aiosmtpd = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd not installed (test extra)")
    box = Mailbox("127.0.0.1", _free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
            box.messages.append(envelope)
            return "250 Message accepted for delivery"

    ctl = aiosmtpd.Controller(Handler(), hostname=box.host, port=box.port)
    ctl.start()
    yield box
    ctl.stop()
