"""FOR-06: which side of a copy is flagged (the copy, not its original), and why (evidence).

A match pairs a copied day with its original; FOR-06 keeps the match only on the day whose
series jumps at its midnight edges (XV-04's edge test, ``copy_side``) and says so in the evidence.
"""

from __future__ import annotations

import numpy as np
import pytest

from tianlan.qc.core import Context, Series, get
from tianlan.qc.fraud import forensic_copies
from tianlan.qc.fraud.copy_side import copy_side, copy_side_detail, pooled_copy_side, shared_edges, station_copy_side

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
    spec = get("FOR-06")  # the station test (every copied parameter together) off as well
    found = spec.func(fwd, Context(station="S0"), **spec.resolve({"station_side": False}))
    assert sorted(f.evidence["day"] for f in found) == [label(33), label(40)]


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


# --- every copied parameter together (pooled_copy_side; docs/qc-benchmark-log.md,
# "Water: false incidents — which side of a copy, which station moved") --


def _pair_station(name: str, levels: dict[str, float], seed: int) -> dict[str, Series]:
    """A station's three parameters: ``level`` × (1 + a slow wander + a diurnal cycle) + noise,
    to 0.1 units (24 distinct values a day)."""
    rng = np.random.default_rng(seed)
    h = np.arange(DAYS * 24)
    out = {}
    for code, level in levels.items():
        wander = np.cumsum(rng.normal(0, 0.01, h.size))
        v = level * (1 + wander - wander.mean() + 0.1 * np.sin(2 * np.pi * (h % 24) / 24)) + rng.normal(0, 0.01 * level, h.size)
        out[code] = Series(name, code, T0 + 3600 * h.astype(np.int64), np.round(v, 1))
    return out


def _copied_pair(day: int) -> tuple[dict[str, Series], dict[str, Series]]:
    """Station A (the source) and B, whose ``day`` is A's same day in all three parameters. In
    w01019 the two stations run at one level (its edges alone cannot tell who copied); in the
    others B's own level is far from A's, so B's series jump at the copy's edges."""
    a = _pair_station("A", {"w01019": 50.0, "w21003": 100.0, "w21001": 10.0}, 11)
    b = _pair_station("B", {"w01019": 50.0, "w21003": 40.0, "w21001": 25.0}, 12)
    b = {c: with_day(s, day, day_of(a[c], day)) for c, s in b.items()}
    return a, b


def test_pooled_side_clears_the_source_that_one_parameter_cannot() -> None:
    d = 30
    a, b = _copied_pair(d)
    network = {"A": a, "B": b}
    ctx_a, ctx_b = Context("A", series=a, network=network), Context("B", series=b, network=network)
    spec = get("FOR-06")
    # the premise: w01019 alone cannot tell — with the station test off, the source A is flagged too
    alone = spec.func(a["w01019"], ctx_a, **spec.resolve({"station_side": False}))
    assert [f.evidence["day"] for f in alone] == [label(d)] and alone[0].evidence["copier"] == "undetermined"
    # every copied parameter together: the source's day runs on in all of them — no finding at A …
    assert run(a["w01019"], ctx_a) == []
    # … and the copier B keeps its finding, the station test in the evidence
    (f,) = run(b["w01019"], ctx_b)
    assert f.evidence["day"] == label(d) and f.evidence["copier"] == "this station"
    st = f.evidence["matches"][0]["copy_side"]["station"]
    assert st["side"] == 1 and st["parameters"] == 3 and set(st["codes"]) == {"w01019", "w21003", "w21001"}
    assert st["pooled_jump"] >= 1.5 * st["matched_pooled_jump"]


def test_pooled_copy_side_rules() -> None:
    rng = np.random.default_rng(4)
    n = 240
    y = 100 + np.cumsum(rng.normal(0, 0.5, n))
    x = 40 + np.cumsum(rng.normal(0, 0.5, n))
    x[100:124] = y[100:124]
    pair = (x, y, 100, 124, 100, 124, frozenset(), frozenset())
    assert pooled_copy_side([pair])["side"] == 0  # one parameter: the per-parameter test's to decide
    assert pooled_copy_side([pair], min_parameters=1)["side"] == 1
    assert pooled_copy_side([pair, pair])["side"] == 1
    back = (y, x, 100, 124, 100, 124, frozenset(), frozenset())
    assert pooled_copy_side([back, back])["side"] == -1
    # both windows jump at their edges (a day copied from a day that was itself a copy): the
    # matched window jumping more does not make this one the original — undetermined
    z = y.copy()
    z[100:124] = y[100:124] + 60.0  # foreign at both edges too
    both = (x, z, 100, 124, 100, 124, frozenset(), frozenset())
    assert pooled_copy_side([both, both])["side"] == 0
    # no edges seen on one side: nothing to weigh
    assert pooled_copy_side([(x, y, 0, 24, 0, 24, frozenset({"end"}), frozenset())])["parameters"] == 0


def test_adjacent_days_leave_their_shared_edge_out() -> None:
    assert shared_edges(48, 72, 24, 48) == (frozenset({"start"}), frozenset({"end"}))  # copied onto the next day
    assert shared_edges(24, 48, 48, 72) == (frozenset({"end"}), frozenset({"start"}))  # back-filled from the next day
    assert shared_edges(240, 264, 24, 48) == (frozenset(), frozenset())


def test_station_copy_side_for_xv04() -> None:
    """The helper XV-04 can call (docs/qc-benchmark-log.md): the same decision from the stations' series by code."""
    d = 30
    a, b = _copied_pair(d)
    t = a["w01019"].times
    s, e = d * 24, d * 24 + 24
    at_b = station_copy_side("w01019", b, a, t, s, e)
    at_a = station_copy_side("w01019", a, b, t, s, e)
    assert at_b["side"] == 1 and at_a["side"] == -1 and at_b["decided_by"] == "station"
    assert set(at_b["codes"]) == {"w01019", "w21003", "w21001"} and at_b["window"] == [s, e]
    # one hour before the copy equal by chance in one parameter: the window is trimmed to the copy
    b2 = dict(b)
    v = b2["w21001"].values.copy()
    v[s - 1] = a["w21001"].values[s - 1]
    b2["w21001"] = Series("B", "w21001", t, v)
    got = station_copy_side("w21001", b2, a, t, s - 1, e)
    assert got["window"] == [s, e] and got["side"] == 1
