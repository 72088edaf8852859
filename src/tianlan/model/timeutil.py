"""Beijing time ⇄ UTC, explicitly.

Devices report local clock time without a zone (HJ 212-2017 §6.3.3, DataTime N14); in practice that
is China Standard Time, UTC+8 with no daylight saving. The store keeps UTC epoch seconds. For
minute, hour and day data DataTime marks the *start* of the period (HJ 212-2017 Table 4 / §3.8 of
the reference), and the converted value keeps that meaning.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache

from tianlan.errors import InputError

BEIJING = timezone(timedelta(hours=8), "CST")
BEIJING_OFFSET_S = 8 * 3600


@lru_cache(maxsize=65536)
def hj212_time_to_utc(text: str) -> int:
    """UTC epoch seconds of an HJ 212 time ``YYYYMMDDhhmmss`` (Beijing time).

    A 17-digit value with milliseconds (seen in the field, reference §3.8) is accepted and the
    milliseconds dropped. Raises InputError(field="DataTime") for anything else.
    """
    t = text.strip()
    if len(t) == 17 and t.isdigit():
        t = t[:14]
    if len(t) != 14 or not t.isdigit():
        raise InputError("DataTime", f"expected YYYYMMDDhhmmss, got {text!r}")
    y, mo, d, h, mi, s = int(t[0:4]), int(t[4:6]), int(t[6:8]), int(t[8:10]), int(t[10:12]), int(t[12:14])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60):
        raise InputError("DataTime", f"not a valid date/time: {text!r}")
    try:
        datetime(y, mo, d)
    except ValueError as e:
        raise InputError("DataTime", f"not a valid date: {text!r}") from e
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - BEIJING_OFFSET_S


def utc_to_hj212_time(epoch_s: int | float) -> str:
    """HJ 212 ``YYYYMMDDhhmmss`` in Beijing time for UTC epoch seconds."""
    return datetime.fromtimestamp(int(epoch_s), BEIJING).strftime("%Y%m%d%H%M%S")


def utc_to_beijing_iso(epoch_s: int | float) -> str:
    """ISO 8601 in Beijing time with its offset, e.g. ``2019-01-01T08:00:00+08:00``."""
    return datetime.fromtimestamp(epoch_s, BEIJING).isoformat(timespec="seconds")


def utc_iso(epoch_s: int | float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_user_time(text: str, *, field: str = "time") -> int:
    """UTC epoch seconds for a user-given time: ISO 8601 or a date; no zone means Beijing time."""
    s = text.strip()
    try:
        if len(s) == 10 and s[4] == "-":
            dt = datetime.combine(date.fromisoformat(s), datetime.min.time())
        else:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError as e:
        raise InputError(field, f"expected ISO 8601 date or date-time (Beijing time unless a zone is given), got {text!r}") from e
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=BEIJING)
    return int(dt.timestamp())


def beijing_datetime(epoch_s: int | float) -> datetime:
    return datetime.fromtimestamp(epoch_s, BEIJING)
