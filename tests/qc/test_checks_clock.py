"""TIM-01 clock integrity on constructed series: fires on its cases, stays quiet on on-time data."""

from __future__ import annotations

import calendar
import json

import numpy as np
import pytest

from tianlan.errors import InputError
from tianlan.qc.core import Context, Finding, Series, Status, get

T0 = calendar.timegm((2024, 3, 4, 0, 0, 0)) - 8 * 3600  # 2024-03-04 00:00 Beijing
H = 3600


def hourly(n: int, *, times=None, values=None, received=None) -> Series:
    t = T0 + H * np.arange(n, dtype=np.int64) if times is None else np.asarray(times, dtype=np.int64)
    v = np.round(30 + 5 * np.sin(np.arange(t.size)), 1) if values is None else np.asarray(values, dtype=float)
    return Series("S1", "a34004", t, v, received=received)


def run(det: str, series: Series, ctx: Context | None = None, **params) -> list[Finding]:
    """``det`` with its defaults overridden by ``params``; every evidence payload must be strict JSON."""
    spec = get(det)
    out = spec.func(series, ctx or Context(series.station), **spec.resolve(params))
    for f in out:
        json.dumps(f.evidence, allow_nan=False)
    return out


def test_parameters_resolve_and_unknown_ones_are_errors() -> None:
    spec = get("TIM-01")
    assert spec.family == "tim" and spec.doc
    assert spec.resolve({"max_drift_s": 60})["max_drift_s"] == 60
    with pytest.raises(InputError, match="TIM-01.tolerance"):
        spec.resolve({"tolerance": 1})


def test_tim01_on_time_data_are_quiet() -> None:
    s = hourly(48)
    s.received = s.times + H + 45.0
    assert run("TIM-01", s) == []
    assert run("TIM-01", hourly(48)) == []


def test_tim01_clock_ahead_and_behind() -> None:
    s = hourly(48)
    rec = s.times + H + 45.0
    rec[10:13] = s.times[10:13] + H - 600  # received ten minutes before the hour ended
    rec[24:48] = s.times[24:48] + H + 1200 + np.arange(24) % 3  # day 2: a steady 20-minute lag
    s.received = rec
    f = run("TIM-01", s)
    assert [(x.reason, x.status, x.start, x.end) for x in f] == [("clock-ahead", Status.SUSPECT, 10, 13),
                                                                ("clock-behind", Status.SUSPECT, 24, 48)]
    assert f[0].score == pytest.approx(10.0) and f[1].evidence["min_offset_s"] == pytest.approx(1200.0)


def test_tim01_order_duplicates_and_grid() -> None:
    t = T0 + H * np.array([0, 1, 2, 2, 3, 5, 4, 6])
    v = np.array([1, 2, 3, 3, 4, 5, 6, 7], dtype=float)
    f = run("TIM-01", hourly(8, times=t, values=v))
    assert [(x.reason, x.status) for x in f] == [("duplicate-time", Status.SUSPECT), ("non-monotonic", Status.FAIL)]
    v[3] = 9.0  # two values for one hour
    assert run("TIM-01", hourly(8, times=t, values=v))[0].status == Status.FAIL
    off = hourly(3, times=[T0, T0 + H + 420, T0 + 2 * H])
    assert [(x.reason, x.start) for x in run("TIM-01", off)] == [("off-grid", 1)]
