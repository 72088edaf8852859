"""FOR-06: which side of a copy is flagged (the copy, not its original), and why (evidence).

A match pairs a copied day with its original; FOR-06 keeps the match only on the day whose
series jumps at its midnight edges (XV-04's edge test, ``copy_side``) and says so in the evidence.
"""

from __future__ import annotations

import numpy as np
import pytest

from tianlan.qc.core import Context, Series, get
from tianlan.qc.fraud import forensic_copies
from tianlan.qc.fraud.copy_side import copy_side, copy_side_detail

T0 = 1546300800 - 8 * 3600  # 2019-01-01 00:00 Beijing time (UTC s)
DAYS = 60


def run(series: Series, ctx: Context) -> list:
    spec = get("FOR-06")
    return spec.func(series, ctx, **spec.resolve({}))


def station(level: float, trend: float, seed: int, name: str) -> Series:
    """Hourly integer series: ``level`` + ``trend`` per day, a diurnal cycle and noise."""
    rng = np.random.default_rng(seed)
    h = np.arange(DAYS * 24)
    v = level + trend * h / 24 + 0.15 * level * np.sin(2 * np.pi * (h % 24) / 24) + rng.normal(0, 0.03 * level, h.size)
    return Series(name, "PM2.5", T0 + 3600 * h.astype(np.int64), np.round(v))


def with_day(s: Series, day: int, values: np.ndarray) -> Series:
    v = s.values.copy()
    v[day * 24:(day + 1) * 24] = values
    return Series(s.station, s.parameter, s.times, v)


def day_of(s: Series, day: int) -> np.ndarray:
    return s.values[day * 24:(day + 1) * 24].copy()


def label(day: int) -> str:
    return str(np.datetime64("2019-01-01") + np.timedelta64(day, "D"))


def test_same_day_copy_flags_the_copier_not_the_source() -> None:
    src = station(120.0, 0.0, 1, "S1")
    own = station(40.0, 0.0, 2, "S0")
    d = 30
    cop = with_day(own, d, day_of(src, d))  # S0's day replaced by S1's same day
    network = {"S0": {"PM2.5": cop}, "S1": {"PM2.5": src}, "S2": {"PM2.5": station(80.0, 0.0, 3, "S2")}}
    (f,) = run(cop, Context(station="S0", network=network))
    assert f.reason == "copied_from_station" and (f.start, f.end) == (d * 24, d * 24 + 24)
    side = f.evidence["matches"][0]["copy_side"]
    assert f.evidence["copier"] == "this station" and side["copier"] == "this station"
    assert side["edge_jump"] > 2 * side["matched_edge_jump"] and side["edges"] == 2
    # the source carries on through both edges: its match is dropped, it has no finding
    assert run(src, Context(station="S1", network=network)) == []


def test_day_copied_forward_or_into_the_past_flags_only_the_copy() -> None:
    base = station(30.0, 2.5, 4, "S0")  # rising 2.5 units a day: a week apart is ~17 units
    # forward: day 40 replaced by day 33 (a week earlier)
    fwd = with_day(base, 40, day_of(base, 33))
    fs = run(fwd, Context(station="S0"))
    assert [f.evidence["day"] for f in fs] == [label(40)]
    (f,) = fs
    assert f.reason == "repeated_day" and f.evidence["copier"] == "this station"
    assert f.evidence["matches"][0]["day"] == label(33) and f.evidence["matches_dropped_as_original"] == 0
    # into the past (a gap back-filled with a later day): day 20 replaced by day 27
    back = with_day(base, 20, day_of(base, 27))
    fs = run(back, Context(station="S0"))
    assert [f.evidence["day"] for f in fs] == [label(20)]
    assert fs[0].evidence["matches"][0]["copy_side"]["copier"] == "this station"


def test_without_the_side_test_both_days_would_be_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dropped side is a real match: with the edge test forced to 'undetermined' the original
    day is flagged too (the drop is the edge test's doing, not a missed match)."""
    base = station(30.0, 2.5, 4, "S0")
    fwd = with_day(base, 40, day_of(base, 33))
    real = forensic_copies._copy_side
    monkeypatch.setattr(forensic_copies, "_copy_side", lambda *a: {**real(*a), "side": 0, "copier": "undetermined"})
    assert sorted(f.evidence["day"] for f in run(fwd, Context(station="S0"))) == [label(33), label(40)]


def test_undetermined_keeps_both_sides() -> None:
    """A day copied within a flat-level series (no jump on either side's edges): the edges cannot
    tell, so both the copy and the original keep their finding, marked undetermined."""
    s = station(60.0, 0.0, 5, "S0")
    cop = with_day(s, 30, day_of(s, 23))
    fs = run(cop, Context(station="S0"))
    days = {f.evidence["day"]: f for f in fs}
    assert set(days) == {label(23), label(30)}
    assert {f.evidence["copier"] for f in fs} == {"undetermined"}


def test_copy_side_detail_keeps_xv04_and_weighs_two_windows() -> None:
    rng = np.random.default_rng(0)
    y = np.round(100 + rng.normal(0, 3, 240))
    x = np.round(40 + rng.normal(0, 3, 240))
    x[100:124] = y[100:124]
    assert copy_side(x, y, 100, 124) == 1 and copy_side(y, x, 100, 124) == -1
    d = copy_side_detail(x, y, 100, 124)
    assert d["side"] == 1 and d["edges"] == 2 and d["jump_x"] > 100 > d["jump_y"]
    # another window of the same series (a day repeated later): x's copy jumps, y's original does not
    z = np.round(np.linspace(20, 200, 240) + rng.normal(0, 1, 240))
    z[200:224] = z[50:74]
    assert copy_side_detail(z, z, 200, 224, ys=50, ye=74, edge_hours=2)["side"] == 1
    assert copy_side_detail(z, z, 50, 74, ys=200, ye=224, edge_hours=2)["side"] == -1
    # one edge seen (the window at the end of the series): undetermined unless compared per edge
    w = z.copy()
    w[216:240] = w[50:74]
    assert copy_side_detail(w, w, 216, 240, ys=50, ye=74, edge_hours=2)["side"] == 0
    assert copy_side_detail(w, w, 216, 240, ys=50, ye=74, edge_hours=2, per_edge=True)["side"] == 1
