"""FOR-01: O3 just below a cut-off while reading its neighbours' level is a notice at air stations
(:mod:`tianlan.qc.fraud.for01_regional`; docs/qc-benchmark-log.md, "XV-01, XV-02 and FOR-01 background").

Ozone is regional: a station whose afternoon sat just under 200 µg/m³ at its neighbours' level read
the air, which stayed under the limit. A parked O3 value sits below the neighbours (they read the
exceedance it hides) and keeps its warning; PM (local sources) is not concerned.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tianlan.qc.core import Context, Series
from tianlan.qc.fraud.for01_regional import REGIONAL_WEIGHT, reads_the_air

sys.path.insert(0, str(Path(__file__).parent))
from test_fraud_forensic import hebei, real_ctx, run, synthetic_network  # noqa: E402, F401

O3 = "a05024"


def test_reads_the_air_compares_the_hours_just_below_with_the_neighbours() -> None:
    cut, h = 200.0, 16.0
    v = np.array([150.0, 190.0, 195.0, 199.0, 200.0, 230.0, np.nan])
    level = np.array([140.0, 185.0, 196.0, 205.0, 199.0, 250.0, 190.0])  # B hours: 190, 195, 199, 200
    r = reads_the_air(v, level, 0, v.size, cut, h)
    assert r is not None and r["hours"] == 4
    assert r["min_ln"] == pytest.approx(np.log(199 / 205), abs=1e-4) and r["reads_the_air"]  # −3 %: within 5 %
    low = level.copy()
    low[3] = 230.0  # one hour parked 13 % under the neighbours
    assert not reads_the_air(v, low, 0, v.size, cut, h)["reads_the_air"]
    assert not reads_the_air(v, level, 0, v.size, cut, h, min_hours=5)["reads_the_air"]
    assert reads_the_air(v, level, 0, 2, cut, h)["hours"] == 1  # only [s, e)
    assert reads_the_air(v, None, 0, v.size, cut, h) is None  # no neighbours: no test


def _o3_network(seed: int = 5) -> dict[str, Series]:
    """The synthetic network as O3 (µg/m³, median about 120, afternoons above 200 on high days)."""
    return {k: Series(k, O3, s.times, np.round(s.values * 200 / 75)) for k, s in synthetic_network(seed=seed).items()}


def _clipped_s0(net: dict[str, Series], seed: int = 5) -> Series:
    """S0 with the values above 200 of its ten days richest in them parked 1–12 µg/m³ under 200."""
    v = net["S0"].values.copy()
    w0 = int(np.argmax(np.convolve(v > 200, np.ones(240), "valid")[::24])) * 24
    seg = v[w0:w0 + 240]
    over = seg > 200
    assert over.sum() > 15
    seg[over] = 200 - np.random.default_rng(seed).integers(1, 13, over.sum())
    return Series("S0", O3, net["S0"].times, v)


def _ctx(net: dict[str, Series], s: Series, kind: str | None = "air") -> Context:
    return Context(station="S0", series={O3: s}, neighbours={k: {O3: x} for k, x in net.items() if k != "S0"},
                   limits={O3: 200.0}, attrs={} if kind is None else {"kind": kind})


def _at_200(findings: list) -> list:
    return [f for f in findings if f.evidence["cutoff"] == 200.0]


def test_parked_o3_below_its_neighbours_keeps_its_warning() -> None:
    net = _o3_network()
    s = _clipped_s0(net)
    found = _at_200(run("FOR-01", s, _ctx(net, s)))
    assert found and max(f.score for f in found) >= 0.8
    for f in found:
        air = f.evidence["neighbour_level_below"]
        assert air["hours"] >= 3 and air["min_ln"] < -0.05 and not air["reads_the_air"]  # parked under the air
        assert "notice" not in f.evidence
    off = _at_200(run("FOR-01", s, _ctx(net, s), regional_weight=1.0))
    assert [(f.start, f.end, f.score) for f in off] == [(f.start, f.end, f.score) for f in found]
    assert all("neighbour_level_below" not in f.evidence for f in off)


def test_the_notice_halves_the_score_names_the_rule_and_spares_other_sites() -> None:
    """With any tolerance (wiring) every O3 finding becomes a notice with the same period and half
    the score; not where the site is not an air station, and never for PM."""
    net = _o3_network()
    s = _clipped_s0(net)
    full = _at_200(run("FOR-01", s, _ctx(net, s), regional_weight=1.0))
    now = _at_200(run("FOR-01", s, _ctx(net, s), regional_tolerance_ln=10.0))
    assert len(now) == len(full) > 0
    for a, b in zip(now, full, strict=True):
        assert (a.start, a.end) == (b.start, b.end)
        assert a.score == pytest.approx(REGIONAL_WEIGHT * b.score) and a.evidence["notice"] == "for01_regional"
    other = _at_200(run("FOR-01", s, _ctx(net, s, None), regional_tolerance_ln=10.0))
    assert [f.score for f in other] == [f.score for f in full] and all("notice" not in f.evidence for f in other)
    pm = {k: Series(k, "a34004", x.times, x.values) for k, x in net.items()}
    pm_ctx = Context(station="S0", series={"a34004": pm["S0"]}, limits={"a34004": 200.0}, attrs={"kind": "air"},
                     neighbours={k: {"a34004": x} for k, x in pm.items() if k != "S0"})
    pm_s0 = Series("S0", "a34004", s.times, s.values)
    assert all("notice" not in f.evidence for f in run("FOR-01", pm_s0, pm_ctx, regional_tolerance_ln=10.0))


def test_real_data_o3_afternoons_at_the_neighbours_level_are_notices(hebei) -> None:  # noqa: F811
    """Clean Hebei 2019: the O3 findings at 200 µg/m³ of 1042A (3 June), 1046A (17 April) and
    1074A (25 May) read their neighbours' level and are notices; 1035A's (13–14 June, a hill-side
    station an hour 10 % under its neighbours at their peak) keeps its warning."""
    data, nbr = hebei
    out = {}
    for st in ("1035A", "1042A", "1046A", "1074A"):
        ctx = real_ctx(data, nbr, st)
        air = Context(station=st, series=ctx.series, neighbours=ctx.neighbours, limits=ctx.limits, attrs={"kind": "air"})
        out[st] = _at_200(run("FOR-01", data[st]["O3"], air))
        assert out[st], st
    for st, day in (("1042A", "2019-06-0"), ("1046A", "2019-04-1"), ("1074A", "2019-05-2")):
        hit = [f for f in out[st] if f.evidence["period"][0].startswith(day)]
        assert hit and all(f.evidence.get("notice") == "for01_regional" and f.score < 0.8 for f in hit), \
            (st, [(f.evidence["period"], f.score, f.evidence.get("neighbour_level_below")) for f in out[st]])
    june = [f for f in out["1035A"] if f.evidence["period"][0].startswith("2019-06-1")]
    assert june and all("notice" not in f.evidence and f.score >= 0.8 for f in june), \
        [(f.evidence["period"], f.score, f.evidence.get("neighbour_level_below")) for f in out["1035A"]]
