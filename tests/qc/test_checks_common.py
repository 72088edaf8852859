"""The shared helpers of tianlan.qc.checks._common (windows, robust scales, alignment) and the
per-station cache and network the runner gives detectors."""

from __future__ import annotations

import warnings

import numpy as np

from tianlan.qc.checks import _common
from tianlan.qc.checks._common import aligned, nanmedian_rows, robust_sigma, rolling_robust, runs
from tianlan.qc.config import config_from
from tianlan.qc.core import Series
from tianlan.qc.fraud import cross, spatial
from tianlan.qc.inputs import StationMeta, build_contexts
from tianlan.qc.runner import run_station

T0 = 1546272000  # 2019-01-01 00:00 Beijing, UTC s
H = 3600


def test_one_copy_of_each_helper() -> None:
    """The detector modules use the helpers of _common (no private copies left to drift apart)."""
    for name in ("aligned", "runs", "nanmedian_rows", "rolling_robust", "flank_median", "trailing_median", "windows",
                 "binned_robust_z"):
        assert getattr(spatial, name) is getattr(_common, name), name
    assert cross.aligned is _common.aligned and cross.runs is _common.runs
    from tianlan.qc.checks import temporal

    assert temporal._robust_sigma is _common.robust_sigma


def test_runs_plain_and_bridging_gaps() -> None:
    m = np.array([1, 1, 0, 1, 1, 1, 0, 0, 1], bool)
    assert runs(m) == [(0, 2), (3, 6), (8, 9)]
    assert runs(m, 3) == [(3, 6)]
    gap = np.array([0, 0, 1, 0, 0, 0, 1, 0, 0], bool)  # missing values may interrupt a run for one element
    assert runs(m, 1, 1, gap) == [(0, 6), (8, 9)]
    assert runs(m, 5, 1, gap) == [(0, 6)] and runs(np.zeros(4, bool)) == []


def test_robust_sigma_and_row_medians() -> None:
    rng = np.random.default_rng(1)
    d = rng.normal(0, 2.0, 5000)
    d[:200] = 1e6  # outliers do not move it
    assert abs(robust_sigma(d) - 2.0) < 0.15
    assert np.isnan(robust_sigma(np.array([1.0, np.nan])))
    m = rng.normal(size=(300, 25))
    m[rng.random(m.shape) < 0.2] = np.nan
    m[7] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.allclose(nanmedian_rows(m), np.nanmedian(m, axis=1), equal_nan=True)


def test_aligned_same_grid_is_a_copy_and_other_grids_are_searched() -> None:
    t = T0 + H * np.arange(10, dtype=np.int64)
    other = Series("B", "a34004", t, np.arange(10.0))
    out = aligned(t, other)
    assert out.tolist() == list(range(10)) and out is not other.values
    out[0] = 99.0
    assert other.values[0] == 0.0  # never a view of the neighbour's data
    sparse = Series("B", "a34004", t[::3], np.array([0.0, 3.0, 6.0, 9.0]))
    got = aligned(t, sparse)
    assert np.isnan(got[1]) and got[3] == 3.0 and got[9] == 9.0
    assert aligned(t, other, 2 * H)[:3].tolist()[2] == 0.0
    assert aligned(t, other, values=np.arange(10.0) * 2)[4] == 8.0


def test_rolling_robust_median_and_scale() -> None:
    t = T0 + H * np.arange(60 * 24, dtype=np.int64)
    r = np.random.default_rng(2).normal(1.0, 0.5, t.size)
    med, sc = rolling_robust(t, r, 30 * 86400.0)
    assert abs(np.nanmedian(med) - 1.0) < 0.05 and abs(np.nanmedian(sc) - 0.5) < 0.05


def _network(n: int = 4, days: int = 40) -> dict[str, dict[str, Series]]:
    rng = np.random.default_rng(3)
    t = T0 + H * np.arange(days * 24, dtype=np.int64)
    base = np.exp(3.5 + np.cumsum(rng.normal(0, 0.05, t.size)))
    out = {}
    for k in range(n):
        st = f"S{k}"
        out[st] = {code: Series(st, code, t, np.round(base * f * np.exp(rng.normal(0, 0.1, t.size))))
                   for code, f in (("a34004", 1.0), ("a34002", 1.8), ("a21005", 0.02), ("a21004", 0.6))}
    return out


def test_the_runner_shares_neighbour_residuals_within_a_station_and_clears_them() -> None:
    series = _network()
    metas = {s: StationMeta(s, "C", 114.5 + 0.01 * i, 38.0) for i, s in enumerate(series)}
    ctxs = build_contexts(series, metas)
    ctx = ctxs["S0"]
    assert ctx.network is ctxs["S1"].network and set(ctx.network) == set(series)
    a = spatial.neighbour_residual(series["S0"]["a34004"], ctx, max_km=30, max_neighbours=8, min_neighbours=1)
    b = spatial.neighbour_residual(series["S0"]["a34004"], ctx, max_km=30, max_neighbours=8, min_neighbours=1)
    assert a is not None and b is not None and a is not b and a["r"] is b["r"] and len(ctx.cache) == 1
    b["z"] = 1  # a caller's own keys do not leak into the cache
    c = spatial.neighbour_residual(series["S0"]["a34004"], ctx, max_km=30, max_neighbours=8, min_neighbours=1)
    assert c is not None and "z" not in c
    # same values under another Series object (XV-03 builds its channels like this): still one entry
    same = Series("S0", "a34004", series["S0"]["a34004"].times, series["S0"]["a34004"].values.copy())
    spatial.neighbour_residual(same, ctx, max_km=30, max_neighbours=8, min_neighbours=1)
    assert len(ctx.cache) == 1
    ctx.cache.clear()
    for code in ("a34004", "a34002"):  # a sprayed inlet for 8 h: both detectors have something to say
        series["S0"][code].values[500:508] *= 0.3
    cfg = config_from([{"id": "SPA-01"}, {"id": "XV-03"}], base="none")
    with_cache = run_station(series["S0"], ctx, cfg)
    assert {r.detector for r in with_cache} == {"SPA-01", "XV-03"}
    assert ctx.cache == {}  # cleared after the station
    fresh = build_contexts(series, metas)["S0"]
    fresh.cache = _NoCache()
    assert [(r.detector, r.parameter, r.start_utc, r.reason) for r in run_station(series["S0"], fresh, cfg)] == \
        [(r.detector, r.parameter, r.start_utc, r.reason) for r in with_cache]


class _NoCache(dict):
    """A cache that never keeps anything: every residual is computed afresh."""

    def __setitem__(self, key: object, value: object) -> None:
        return None
