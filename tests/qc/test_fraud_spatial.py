"""SPA-01 (neighbour consistency): synthetic cases, then the real Hebei 2019 release.

Real data: the 53 national stations of Hebei, January–June 2019, hourly, as published in real time
(``../shared/data/cnemc-hebei-2019``; period start = published hour − 1 h). Contexts are built as
the runner builds them (``tianlan.qc.inputs.build_contexts``: same city within 15 km, else the
nearest stations within 50 km up to three). Findings with a score of at least 0.8 — level 2 or more
under the default alarm policy — are counted per station-month (53 stations × 181 days / 30.44).

Measured with the defaults (six parameters summed):

    SPA-01  0.36 findings per station-month (ceiling 0.45): 0.21 episodes (|z| ≥ 5 for 6 h),
            0.15 level shifts (7-day median residual off its 30-day past by ≥ 0.25 ln for PM,
            ≥ 0.4 ln for gases, and ≥ 3 robust day-to-day scales); by parameter PM2.5 0.12,
            PM10 0.04, SO2 0.04, NO2 0.06, CO 0.05, O3 0.06
    injected: PM2.5 × 0.3 for 8 h at one station → an episode; PM2.5 × 0.6 from a date on → a level
    shift within days; the benchmark's scaling scenario (PM2.5 or PM10 × U(0.5, 0.8), 7–30 days):
    recall ≥ 0.8 asserted on 24 injections (measured 0.9 on 40).

Most clean findings are real: stuck PM values for 6–29 h that the neighbours do not share, an
analyser reading 30 % low for a week, night-time titration at a kerbside site.
"""

from __future__ import annotations

import calendar
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tianlan.qc.core import Context, Series, Status, get
from tianlan.qc.fraud.spatial import daily_shifts, flank_median, rolling_robust, runs, score01
from tianlan.qc.inputs import StationMeta, build_contexts

SHARED = Path(os.environ.get("TIANLAN_SHARED_DIR", Path(__file__).resolve().parents[2].parent / "shared"))
HEBEI = SHARED / "data" / "cnemc-hebei-2019"
MONTHS = ("2019-01", "2019-02", "2019-03", "2019-04", "2019-05", "2019-06")
CODES = {"PM2.5": "a34004", "PM10": "a34002", "SO2": "a21026", "NO2": "a21004", "O3": "a05024", "CO": "a21005"}
HOUR = 3600
T0 = calendar.timegm((2019, 1, 1, 0, 0, 0)) - 8 * HOUR

#: Findings (score ≥ 0.8) per station-month on the real release, six parameters summed.
CEILING_SPA01 = 0.45


# --- synthetic network ------------------------------------------------------------------------


def synthetic_network(days: int = 60, seed: int = 3, stations: int = 5) -> dict[str, dict[str, Series]]:
    """Stations of one city sharing a regional PM signal (log-AR(1), 2-day memory) with their own
    local noise and offsets; gases likewise."""
    rng = np.random.default_rng(seed)
    n = days * 24
    t = T0 + HOUR * np.arange(n, dtype=np.int64)

    def ar(tau_h: float, sigma: float) -> np.ndarray:
        phi = np.exp(-1 / tau_h)
        e = rng.normal(0, sigma * np.sqrt(1 - phi * phi), n)
        z = np.empty(n)
        z[0] = rng.normal(0, sigma)
        for k in range(1, n):
            z[k] = phi * z[k - 1] + e[k]
        return z

    regional = ar(48, 0.6)
    diurnal = 0.25 * np.sin(2 * np.pi * (np.arange(n) % 24) / 24)
    gas_regional = ar(36, 0.4)
    out: dict[str, dict[str, Series]] = {}
    for i in range(stations):
        code = f"S{i}"
        pm25 = np.round(60 * np.exp(regional + diurnal + ar(4, 0.12) + rng.normal(0, 0.03)), 0)
        pm10 = np.round(pm25 / np.clip(0.6 + ar(8, 0.04), 0.3, 0.9), 0)
        co = np.round(1.0 * np.exp(0.7 * regional + gas_regional + ar(4, 0.1)), 1)
        no2 = np.round(40 * np.exp(0.5 * regional + gas_regional + ar(3, 0.12)), 0)
        out[code] = {c: Series(code, c, t, v, unit="µg/m³") for c, v in
                     (("a34004", pm25), ("a34002", pm10), ("a21005", co), ("a21004", no2))}
    return out


def contexts_of(series: dict[str, dict[str, Series]]) -> dict[str, Context]:
    metas = {code: StationMeta(code, "石家庄", 114.50 + 0.02 * i, 38.05 + 0.01 * (i % 2))
             for i, code in enumerate(sorted(series))}
    return build_contexts(series, metas)


def with_values(series: dict[str, dict[str, Series]], station: str, code: str,
                values: np.ndarray) -> dict[str, dict[str, Series]]:
    out = {st: dict(by) for st, by in series.items()}
    s = series[station][code]
    out[station][code] = Series(s.station, code, s.times, values, unit=s.unit)
    return out


def scale_values(series: dict[str, dict[str, Series]], station: str, k: int, hours: int, factor: float,
                 codes: tuple[str, ...] = ("a34004", "a34002"), decimals: int = 0) -> dict[str, dict[str, Series]]:
    """``series`` with ``station``'s ``codes`` (default PM2.5 and PM10) times ``factor`` (rounded to
    ``decimals``) over hours ``[k, k + hours)``: a spray (factor < 1), a neighbour's rise (> 1)."""
    for code in codes:
        v = series[station][code].values.copy()
        v[k:k + hours] = np.round(v[k:k + hours] * factor, decimals)
        series = with_values(series, station, code, v)
    return series


def spa01(series: Series, ctx: Context, **kw: object) -> list:
    spec = get("SPA-01")
    return spec.func(series, ctx, **spec.resolve(kw))


# --- helpers ----------------------------------------------------------------------------------


def test_runs_bridges_missing_gaps_only() -> None:
    m = np.array([1, 1, 0, 1, 1, 0, 0, 1], dtype=bool)
    gap = np.array([0, 0, 1, 0, 0, 0, 0, 0], dtype=bool)
    assert runs(m, 1) == [(0, 2), (3, 5), (7, 8)]
    assert runs(m, 3, 1, gap) == [(0, 5)]  # the NaN hour is bridged, not counted: 4 counted ≥ 3
    assert runs(m, 5, 1, gap) == []


def test_rolling_robust_centre_and_trailing() -> None:
    t = T0 + HOUR * np.arange(24 * 40, dtype=np.int64)
    r = np.where(np.arange(t.size) < 24 * 20, 0.0, 1.0) + np.random.default_rng(0).normal(0, 0.1, t.size)
    med, sc = rolling_robust(t, r, 10 * 86400, min_count=48)
    assert abs(med[24 * 5]) < 0.05 and abs(med[24 * 35] - 1) < 0.05
    assert 0.07 < np.nanmedian(sc) < 0.13
    tr, _ = rolling_robust(t, r, 10 * 86400, min_count=48, trailing_guard_s=12 * HOUR)
    assert abs(tr[24 * 22]) < 0.1  # two days after the step the trailing baseline has not moved yet
    assert np.isnan(tr[0])  # no past yet


def test_flank_median_with_guard_sees_past_a_long_episode() -> None:
    r = np.zeros(60)
    r[20:30] = -1.0
    assert flank_median(r, 6)[25] == pytest.approx(-1.0)  # near flanks inside the episode
    assert flank_median(r, 6, guard=6)[25] == pytest.approx(0.0)


def test_daily_shifts_finds_a_persistent_step() -> None:
    rng = np.random.default_rng(1)
    dm = rng.normal(0, 0.05, 90)
    dm[50:] -= 0.4
    eps = daily_shifts(dm, recent_days=7, ref_days=30, min_ref_days=14, min_shift=0.25, z_threshold=3, min_scale=0.03)
    assert len(eps) == 1 and eps[0]["sign"] == -1
    assert 44 <= eps[0]["first_day"] <= 50 <= eps[0]["last_day"]
    assert eps[0]["shift"] == pytest.approx(-0.4, abs=0.08)
    assert daily_shifts(rng.normal(0, 0.05, 90), recent_days=7, ref_days=30, min_ref_days=14, min_shift=0.25,
                        z_threshold=3, min_scale=0.03) == []


def test_score01_is_the_policy_scale() -> None:
    assert score01(5, 5) == 0.8 and score01(6.25, 5) == 1.0 and score01(100, 5) == 1.0 and score01(2.5, 5) == 0.4


# --- SPA-01 on synthetic data -----------------------------------------------------------------


def test_registered_with_metadata() -> None:
    spec = get("SPA-01")
    assert spec.family == "spa" and spec.systems == ("air",)
    assert {"max_km", "z_threshold", "min_hours", "shift_min_ln"} <= set(spec.params)
    assert all(p.unit is not None and p.doc for p in spec.params.values())


def test_clean_synthetic_network_is_quiet() -> None:
    series = synthetic_network()
    ctxs = contexts_of(series)
    for st in series:
        for code in ("a34004", "a34002", "a21005", "a21004"):
            assert spa01(series[st][code], ctxs[st]) == [], (st, code)


def test_blocked_inlet_for_eight_hours_is_an_episode() -> None:
    series = synthetic_network()
    v = series["S2"]["a34004"].values.copy()
    k = 24 * 35 + 3
    v[k:k + 8] = np.round(v[k:k + 8] * 0.3)
    series = with_values(series, "S2", "a34004", v)
    ctxs = contexts_of(series)
    found = spa01(series["S2"]["a34004"], ctxs["S2"])
    assert len(found) == 1
    f = found[0]
    assert f.status == Status.SUSPECT and f.score >= 0.8
    assert f.start <= k + 2 and f.end >= k + 6
    assert f.evidence["kind"] == "episode" and f.evidence["departure_factor"] < 0.5
    assert {n["station"] for n in f.evidence["neighbours"]} == {"S0", "S1", "S3", "S4"}
    assert len(f.evidence["values"]) == f.end - f.start and f.evidence["thresholds"]["z_threshold"] == 5.0
    # the neighbours are not blamed
    assert spa01(series["S1"]["a34004"], ctxs["S1"]) == []
    # a 3-hour block is below the persistence SPA-01 requires (XV-03 is the short-episode test)
    series = synthetic_network()
    v = series["S2"]["a34004"].values.copy()
    v[k:k + 3] = np.round(v[k:k + 3] * 0.3)
    series = with_values(series, "S2", "a34004", v)
    assert spa01(series["S2"]["a34004"], contexts_of(series)["S2"]) == []


def test_persistent_scaling_is_a_level_shift() -> None:
    series = synthetic_network()
    v = series["S4"]["a34002"].values.copy()
    k = 24 * 38
    v[k:] = np.round(v[k:] * 0.65)
    series = with_values(series, "S4", "a34002", v)
    found = [f for f in spa01(series["S4"]["a34002"], contexts_of(series)["S4"]) if f.evidence["kind"] == "level shift"]
    assert found, "no level shift"
    f = found[0]
    assert f.score >= 0.8 and f.start <= k + 24 * 4 and f.end > k
    assert f.evidence["shift_factor"] == pytest.approx(0.65, abs=0.12)
    assert "daily_residual_ln" in f.evidence


def test_without_neighbours_nothing_is_evaluated() -> None:
    series = synthetic_network(stations=1)
    assert spa01(series["S0"]["a34004"], Context("S0", series=series["S0"])) == []


def test_far_neighbours_are_not_used() -> None:
    series = synthetic_network()
    ctxs = contexts_of(series)
    far = Context("S0", series=series["S0"], neighbours=ctxs["S0"].neighbours,
                  distances_km={k: 80.0 for k in ctxs["S0"].distances_km})
    assert spa01(series["S0"]["a34004"], far) == []


# --- real data --------------------------------------------------------------------------------


def load_hebei(months: tuple[str, ...] = MONTHS) -> tuple[dict[str, dict[str, Series]], dict[str, StationMeta]]:
    """The Hebei release as hourly series on one grid (period start) and station metadata."""
    frames = [pl.read_csv(HEBEI / f"{m}.csv.gz", infer_schema=False) for m in months]
    df = pl.concat(frames, how="diagonal_relaxed").select(
        pl.col("station"),
        ((pl.col("date").str.strptime(pl.Date, "%Y%m%d").cast(pl.Datetime("ms")).dt.epoch("s"))
         + (pl.col("hour").cast(pl.Int64) - 1) * HOUR - 8 * HOUR).alias("t"),
        *[pl.col(name).cast(pl.Float64, strict=False).alias(code) for name, code in CODES.items()])
    t_end = int(df["t"].max()) + HOUR  # type: ignore[arg-type]
    times = T0 - HOUR + HOUR * np.arange((t_end - (T0 - HOUR)) // HOUR, dtype=np.int64)
    series: dict[str, dict[str, Series]] = {}
    for (st,), part in df.group_by(["station"]):
        idx = ((part["t"].to_numpy() - times[0]) // HOUR).astype(np.int64)
        per = {}
        for code in CODES.values():
            v = np.full(times.size, np.nan)
            v[idx] = part[code].fill_null(np.nan).to_numpy()
            if np.isfinite(v).sum() > 24 * 10:
                per[code] = Series(str(st), code, times, v, unit="mg/m³" if code == "a21005" else "µg/m³")
        if per:
            series[str(st)] = per
    meta = pl.read_csv(HEBEI / "stations.csv", infer_schema=False)
    metas = {}
    for r in meta.iter_rows(named=True):
        if r["code"] in series and r["lon"] and r["lat"]:
            metas[r["code"]] = StationMeta(r["code"], r["city"], float(r["lon"]), float(r["lat"]), r["control_site"] == "Y")
    return {k: v for k, v in series.items() if k in metas}, metas


def test_real_data_clean_rate_spa01(hebei: tuple[dict[str, dict[str, Series]], dict[str, Context], float]) -> None:
    series, ctxs, station_months = hebei
    spec = get("SPA-01")
    params = spec.defaults()
    kinds = {"episode": 0, "level shift": 0}
    for st, by in series.items():
        for s in by.values():
            for f in spec.func(s, ctxs[st], **params):
                assert 0 <= f.start < f.end <= len(s) and 0.0 <= f.score <= 1.0
                if f.score >= 0.8:
                    kinds[f.evidence["kind"]] += 1
    rate = sum(kinds.values()) / station_months
    assert rate <= CEILING_SPA01, (rate, kinds)
    assert kinds["episode"] > 0  # the release has real anomalies: the test would notice a dead detector


def test_real_data_injected_block_and_scaling(hebei: tuple[dict[str, dict[str, Series]], dict[str, Context], float]) -> None:
    series, ctxs, _ = hebei
    st = "1051A"  # Baoding, five neighbours within 15 km
    s = series[st]["a34004"]
    v = s.values.copy()
    k = int(np.argmax(np.where(np.arange(v.size) > 24 * 60, np.nan_to_num(v), 0) >= 100))  # a polluted hour after day 60
    v[k:k + 8] *= 0.3
    blocked = Series(st, "a34004", s.times, np.round(v), unit=s.unit)
    found = [f for f in spa01(blocked, ctxs[st]) if f.evidence["kind"] == "episode" and f.start < k + 8 and f.end > k]
    assert found and found[0].score >= 0.8 and found[0].evidence["departure_factor"] < 0.6

    v = s.values.copy()
    k = 24 * 100
    v[k:] = np.round(v[k:] * 0.6)
    scaled = Series(st, "a34004", s.times, v, unit=s.unit)
    found = [f for f in spa01(scaled, ctxs[st]) if f.evidence["kind"] == "level shift" and f.end > k]
    assert found and found[0].start < k + 24 * 7 and found[0].score >= 0.8


def test_real_data_scaling_scenario_recall(hebei: tuple[dict[str, dict[str, Series]], dict[str, Context], float]) -> None:
    """The benchmark's scaling scenario (tianlan.sim.fraud) on the real data: SPA-01 alone finds ≥ 80 %."""
    from tianlan.sim.fraud import random_injections

    series, ctxs, _ = hebei
    names = {v: k for k, v in CODES.items()}
    stations = sorted(series)
    times = next(iter(series[stations[0]].values())).times
    frame: dict[str, object] = {"station": np.repeat(np.array(stations, dtype=object), times.size),
                                "time_utc": np.tile(times, len(stations))}
    for code in ("a34004", "a34002"):
        frame[names[code]] = np.concatenate([series[st][code].values if code in series[st] else np.full(times.size, np.nan)
                                             for st in stations])
    injected, truths = random_injections(frame, ["scaling"], 24, 2019)
    assert len(truths) == 24
    hits = 0
    for tr in truths:
        i = stations.index(tr.station)
        code = CODES[tr.parameters[0]]
        v = np.asarray(injected[names[code]], dtype=float)[i * times.size:(i + 1) * times.size]  # type: ignore[index]
        s = Series(tr.station, code, times, v)
        found = spa01(s, ctxs[tr.station])
        hits += any(f.score >= 0.8 and times[f.start] < tr.end_utc and times[f.end - 1] + HOUR > tr.start_utc for f in found)
    assert hits / len(truths) >= 0.8, hits
