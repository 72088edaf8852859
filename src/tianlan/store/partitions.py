"""PostgreSQL monthly partitions of ``observations`` (DESIGN: range-partitioned by month).

The table is ``PARTITION BY RANGE (time_utc)`` with one partition per calendar month in UTC,
named ``observations_yYYYYmMM``. There is no default partition, so a row can only land in its
month; the writer calls :func:`ensure_partitions` with the months of each batch before inserting
(cached, so that costs one set lookup per batch once a month exists).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from typing import Any


def month_of(epoch_s: int) -> tuple[int, int]:
    """(year, month) in UTC of an epoch time in seconds."""
    days = epoch_s // 86400
    # civil-from-days (proleptic Gregorian), avoiding datetime objects on the hot path
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y, m)


def month_bounds(year: int, month: int) -> tuple[int, int]:
    """[start, end) of a UTC calendar month in epoch seconds."""
    start = calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0))
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    return start, calendar.timegm((ny, nm, 1, 0, 0, 0, 0, 0, 0))


def partition_name(year: int, month: int) -> str:
    return f"observations_y{year:04d}m{month:02d}"


class PartitionKeeper:
    """Creates missing monthly partitions; remembers the ones it knows exist."""

    def __init__(self) -> None:
        self.known: set[tuple[int, int]] = set()

    def ensure(self, cur: Any, months: Iterable[tuple[int, int]]) -> int:
        """Create the partitions of ``months`` that do not exist yet; returns how many were created."""
        created = 0
        for y, m in sorted(set(months) - self.known):
            lo, hi = month_bounds(y, m)
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {partition_name(y, m)} PARTITION OF observations "
                f"FOR VALUES FROM ({lo}) TO ({hi})"
            )
            self.known.add((y, m))
            created += 1
        return created
