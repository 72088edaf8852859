"""Small device-side helpers for gateway tests: build frames, talk over real TCP."""

from __future__ import annotations

import socket
import time

from sqlalchemy import Engine, insert

from tianlan.hj212 import CrcVariant, build_frame
from tianlan.store.schema import devices


def register(engine: Engine, mn: str, pw: str = "123456", *, crc: str = "standard", kind: str = "air",
             protocol: str = "2017") -> None:
    with engine.begin() as c:
        c.execute(insert(devices).values(mn=mn, password=pw, kind=kind, crc_variant=crc, protocol=protocol,
                                         st="22", created_utc=time.time()))


def upload(mn: str, qn: str, *, pw: str = "123456", cn: str = "2061", data_time: str = "20190101080000",
           values: dict[str, str] | None = None, flag: int = 5, crc: CrcVariant = CrcVariant.STANDARD,
           suffix: str = "Avg") -> bytes:
    values = values or {"a34004": "35", "a34002": "60", "a21026": "8", "a21004": "31", "a21005": "0.8", "a05024": "70"}
    cp = ";".join(f"{k}-{suffix}={v},{k}-Flag=N" for k, v in values.items())
    seg = f"QN={qn};ST=22;CN={cn};PW={pw};MN={mn};Flag={flag};CP=&&DataTime={data_time};{cp}&&"
    return build_frame(seg, crc)


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_frames(s: socket.socket, n: int, timeout: float = 5.0) -> list[bytes]:
    """Read exactly n CRLF-terminated replies (HJ 212 replies are short ASCII frames)."""
    s.settimeout(timeout)
    buf = b""
    out: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"got {len(out)} of {n} replies: {out!r} + {buf!r}")
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {len(out)} of {n} replies")
        buf += chunk
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            out.append(line + b"\r\n")
    return out


def expect_silence(s: socket.socket, wait: float = 0.5) -> bytes:
    """Bytes the server sent within ``wait`` seconds (b'' when it stayed silent)."""
    s.settimeout(wait)
    try:
        return s.recv(65536)
    except TimeoutError:
        return b""
