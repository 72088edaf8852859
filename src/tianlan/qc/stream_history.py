"""In-memory history for streaming QC: one bounded, regular-grid buffer per series, and windows over it.

:class:`HistoryBuffer` keeps one series (station, parameter, kind) in place on a regular grid, so
appending a value is amortised O(1) and a window is a NumPy view (no copy). :class:`WindowViews` and
:class:`NeighbourViews` hand a detector's :class:`~tianlan.qc.core.Context` the station's and its
neighbours' series over one window, made on first access (most detectors read one or two).
:func:`uncovered` and :func:`cover` keep the time intervals already reported per finding key, so
that only what is new is reported again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from tianlan.qc.checks._common import attach_flag_state
from tianlan.qc.core import Series

__all__ = ["HistoryBuffer", "NeighbourViews", "WindowViews", "cover", "uncovered"]


class HistoryBuffer:
    """One series (station, parameter, kind) on a regular grid, in place: values NaN where absent.

    Slots ``[0, n)`` are in use, slot ``i`` is the period starting ``t0 + i·step``; when a value lands
    beyond the capacity (twice the history) the oldest slots are dropped, so appends are amortised
    O(1). Values older than the buffer's start are ignored (too late for streaming; batch scans see
    them).
    """

    __slots__ = ("station", "parameter", "kind", "step", "hist", "cap", "t0", "n", "first_t", "times", "values",
                 "flags", "received", "has_flags", "unit", "count", "version", "history_s", "fcode", "fdistinct",
                 "_fidx")

    def __init__(self, station: str, parameter: str, kind: str, step: int, history_s: int, t_first: int,
                 unit: str = "") -> None:
        self.station, self.parameter, self.kind, self.unit = station, parameter, kind, unit
        self._reset(step, history_s, t_first)

    def _reset(self, step: int, history_s: int, t_first: int) -> None:
        self.history_s = history_s
        self.step = max(1, int(step))
        self.hist = max(2, history_s // self.step)
        self.cap = 2 * self.hist
        # start half a history before the first value, so that late values still find a slot
        self.t0 = (t_first // self.step) * self.step - (self.hist // 2) * self.step
        self.n = 0
        self.first_t = t_first
        self.times = self.t0 + self.step * np.arange(self.cap, dtype=np.int64)
        self.values = np.full(self.cap, np.nan)
        self.flags = np.full(self.cap, None, dtype=object)
        # the flags coded as they arrive (index in fdistinct; 0 = none), so a window's checks need
        # not decode them again (checks._common.FlagState); None once a flag is not a string
        self.fcode: np.ndarray | None = np.zeros(self.cap, dtype=np.int64)
        self.fdistinct: list[Any] = [None]
        self._fidx: dict[Any, int] = {None: 0}
        self.received = np.full(self.cap, np.nan)
        self.has_flags = False
        self.count = 0
        self.version = 0

    def put(self, t: int, value: float | None, flag: str | None, received: float) -> bool:
        """Store a value; False when it is older than the buffer."""
        if self.count == 1 and self.kind == "min" and t != self.first_t:
            # the second minute value tells the device's MinInterval (HJ 212: 1, 5, 10, 15, 30 min …)
            d = abs(t - self.first_t)
            if 60 <= d <= 3600 and d % 60 == 0 and d != self.step:
                t1 = self.first_t
                i = (t1 - self.t0) // self.step
                v0, f0, r0 = float(self.values[i]), self.flags[i], float(self.received[i])
                self._reset(d, self.history_s, t1)
                self._put(t1, v0, f0, r0)
        return self._put(t, value, flag, received)

    def _put(self, t: int, value: float | None, flag: str | None, received: float) -> bool:
        i = (t - self.t0) // self.step
        if i < 0:
            return False
        if i >= self.cap:
            drop = i - self.hist + 1
            keep = max(0, self.n - drop)
            if keep:
                self.values[:keep] = self.values[drop:drop + keep]
                self.flags[:keep] = self.flags[drop:drop + keep]
                if self.fcode is not None:
                    self.fcode[:keep] = self.fcode[drop:drop + keep]
                self.received[:keep] = self.received[drop:drop + keep]
            self.values[keep:] = np.nan
            self.flags[keep:] = None
            if self.fcode is not None:
                self.fcode[keep:] = 0
            self.received[keep:] = np.nan
            self.t0 += drop * self.step
            self.times += drop * self.step
            self.n = keep
            i -= drop
        self.values[i] = np.nan if value is None else value
        if flag is not None:
            self.flags[i] = flag
            self.has_flags = True
            if self.fcode is not None:
                if isinstance(flag, str):
                    c = self._fidx.get(flag)
                    if c is None:
                        c = self._fidx[flag] = len(self.fdistinct)
                        self.fdistinct.append(flag)
                    self.fcode[i] = c
                else:  # equal flags of other types may print differently: let FlagState decode them
                    self.fcode = None
        self.received[i] = received
        if i >= self.n:
            self.n = i + 1
        self.first_t = min(self.first_t, t)
        self.count += 1
        self.version += 1
        return True

    @property
    def end_t(self) -> int:
        """End of the last slot in use (exclusive), UTC s."""
        return self.t0 + self.n * self.step

    def view(self, a: int, b: int) -> Series:
        """The slots whose period starts in [max(a, first value), b), as a Series sharing memory."""
        a = max(a, self.first_t)
        ia = max(0, -(-(a - self.t0) // self.step))
        ib = min(self.n, max(ia, -(-(b - self.t0) // self.step)))
        s = Series(self.station, self.parameter, self.times[ia:ib], self.values[ia:ib],
                   self.flags[ia:ib] if self.has_flags else None, self.received[ia:ib], self.unit, self.step)
        if self.has_flags and self.fcode is not None:
            attach_flag_state(s, self.fdistinct, self.fcode[ia:ib])
        return s


class WindowViews(Mapping[str, Series]):
    """A station's series over one window, made on first access (most detectors use one or two)."""

    __slots__ = ("_bufs", "_a", "_b", "_made")

    def __init__(self, bufs: Mapping[str, HistoryBuffer], a: int, b: int) -> None:
        self._bufs, self._a, self._b = bufs, a, b
        self._made: dict[str, Series] = {}

    def __getitem__(self, code: str) -> Series:
        s = self._made.get(code)
        if s is None:
            s = self._made[code] = self._bufs[code].view(self._a, self._b)
        return s

    def __iter__(self) -> Iterator[str]:
        return iter(self._bufs)

    def __len__(self) -> int:
        return len(self._bufs)

    def __contains__(self, code: object) -> bool:
        return code in self._bufs


class NeighbourViews(Mapping[str, Mapping[str, Series]]):
    """The neighbours' series over one window: a :class:`WindowViews` per station, made on first access."""

    __slots__ = ("_stations", "_a", "_b", "_made")

    def __init__(self, stations: Mapping[str, Mapping[str, HistoryBuffer]], a: int, b: int) -> None:
        self._stations, self._a, self._b = stations, a, b
        self._made: dict[str, WindowViews] = {}

    def __getitem__(self, station: str) -> Mapping[str, Series]:
        v = self._made.get(station)
        if v is None:
            v = self._made[station] = WindowViews(self._stations[station], self._a, self._b)
        return v

    def __iter__(self) -> Iterator[str]:
        return iter(self._stations)

    def __len__(self) -> int:
        return len(self._stations)

    def __contains__(self, station: object) -> bool:
        return station in self._stations


def uncovered(covered: list[tuple[int, int]], a: int, b: int) -> list[tuple[int, int]]:
    """Parts of [a, b) not in the sorted, disjoint ``covered`` intervals."""
    out = []
    cur = a
    for s, e in covered:
        if e <= cur:
            continue
        if s >= b:
            break
        if s > cur:
            out.append((cur, s))
        cur = max(cur, e)
        if cur >= b:
            break
    if cur < b:
        out.append((cur, b))
    return out


def cover(covered: list[tuple[int, int]], a: int, b: int) -> list[tuple[int, int]]:
    """The sorted, disjoint ``covered`` intervals with [a, b) added (merged where they touch)."""
    merged: list[tuple[int, int]] = []
    for s, e in sorted([*covered, (a, b)]):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged
