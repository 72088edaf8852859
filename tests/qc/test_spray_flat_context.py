"""XV-03's PM2.5/PM10-ratio and combined-run rules and TMP-03's context-conditioned persistence
(issue 4: the benchmark's ``spray`` and ``flat`` scenarios), on the synthetic city network of
``test_fraud_spatial``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from tianlan.qc.core import Context, Finding, Series, Status, get

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_fraud_spatial import contexts_of, synthetic_network, with_values  # noqa: E402

K = 24 * 30 + 5  # an hour in the second month: a full 30-day reference before it


def run(det: str, series: Series, ctx: Context, **kw: object) -> list[Finding]:
    spec = get(det)
    return spec.func(series, ctx, **spec.resolve(kw))


def sprayed(k: int, hours: int, f25: float, f10: float, station: str = "S3") -> dict[str, dict[str, Series]]:
    series = synthetic_network()
    for code, f in (("a34004", f25), ("a34002", f10)):
        v = series[station][code].values.copy()
        v[k:k + hours] = np.round(v[k:k + hours] * f)
        series = with_values(series, station, code, v)
    return series


# --- XV-03 ------------------------------------------------------------------------------------


def test_xv03_ratio_rule_drops_a_fall_that_changes_the_pm_ratio() -> None:
    """PM2.5 × 0.2 and PM10 × 0.5: both fall deeply against the neighbours, gases normal — but the
    PM2.5/PM10 ratio moved (a mist or cover takes both alike), so no finding by default."""
    series = sprayed(K, 4, 0.2, 0.5)
    ctx = contexts_of(series)["S3"]
    assert run("XV-03", series["S3"]["a34004"], ctx) == []
    (f,) = run("XV-03", series["S3"]["a34004"], ctx, ratio_tolerance=0.0)  # the rule off: the old finding
    assert f.score >= 0.8 and K <= f.start < f.end <= K + 5
    ev = f.evidence
    assert ev["pm_ratio_shift_ln"] < -0.5 and ev["pm_drop_ln"] < -0.5  # ln(0.2 / 0.5) = −0.92
    assert abs(ev["pm_ratio_shift_ln"]) > get("XV-03").defaults()["ratio_tolerance"] * ev["pm_ratio_scale_ln"]
    # the same factor on both (a spray): kept, with the ratio's evidence
    series = sprayed(K, 4, 0.3, 0.3)
    (f,) = run("XV-03", series["S3"]["a34004"], contexts_of(series)["S3"])
    ev = f.evidence
    assert abs(ev["pm_ratio_shift_ln"]) <= ev["thresholds"]["ratio_tolerance"] * ev["pm_ratio_scale_ln"]


def test_xv03_combined_rule_finds_a_long_shallow_spray() -> None:
    """With the single-hour and 2-hour rules switched off (thresholds of 100), a 6-hour spray × 0.5
    is found by its combined z alone; × 0.7 (a fall of ln 0.36, under combined_drop_ln) is not."""
    off = {"z_threshold": 100.0, "sustained_z": 100.0}
    series = sprayed(K, 6, 0.5, 0.5)
    ctx = contexts_of(series)["S3"]
    (f,) = run("XV-03", series["S3"]["a34004"], ctx, **off)
    assert f.status == Status.SUSPECT and f.score >= 0.8 and K <= f.start and f.end <= K + 7
    assert f.evidence["combined_z"] < -f.evidence["thresholds"]["combined_z"]
    assert run("XV-03", series["S3"]["a34004"], ctx, combined_z=0.0, **off) == []
    series = sprayed(K, 6, 0.7, 0.7)
    ctx = contexts_of(series)["S3"]
    assert run("XV-03", series["S3"]["a34004"], ctx, **off) == []
    assert run("XV-03", series["S3"]["a34004"], ctx, combined_drop_ln=0.2, **off)  # it was the drop that held it back


# --- TMP-03 -----------------------------------------------------------------------------------


def low_co_network(seed: int = 4) -> dict[str, dict[str, Series]]:
    """The synthetic city with its CO scaled to clean-air levels (0.2–0.8 mg/m³ in 0.1 steps),
    where a genuine reading often repeats for hours."""
    series = synthetic_network(seed=seed)
    for st in series:
        series = with_values(series, st, "a21005", np.round(series[st]["a21005"].values * 0.4, 1))
    return series


def test_tmp03_a_value_held_while_the_neighbours_and_no2_move_fails() -> None:
    series = low_co_network()
    v = series["S3"]["a21005"].values.copy()
    held = v[K - 1]
    assert held < 20 * 0.1  # below 20 reporting steps: the fixed rule exempts it
    v[K:K + 20] = held
    series = with_values(series, "S3", "a21005", v)
    ctx = contexts_of(series)["S3"]
    (f,) = run("TMP-03", series["S3"]["a21005"], ctx)
    assert f.status == Status.FAIL and f.start <= K and f.end >= K + 20
    p = f.evidence["persistence"]
    assert p["expected_runs"] < 0.03 and p["context_classes"]
    assert sum(c["hours"] for c in p["context_classes"].values()) == f.end - f.start - 2
    # the station's persistence alone (no context) finds the run ordinary
    assert run("TMP-03", series["S3"]["a21005"], ctx, context=False) == []


def test_tmp03_a_regional_calm_is_not_reported() -> None:
    """Every station of the city reads one CO value over the same 20 hours (a calm, clean air
    mass): the neighbours did not move, so the hours are of the quiet class, where the station
    itself often repeats — no finding."""
    series = low_co_network()
    for st in list(series):
        v = series[st]["a21005"].values.copy()
        v[K:K + 20] = v[K - 1]
        series = with_values(series, st, "a21005", v)
    ctx = contexts_of(series)["S3"]
    assert run("TMP-03", series["S3"]["a21005"], ctx) == []


def test_tmp03_floor_runs_need_the_stations_own_history_there() -> None:
    """A run at the detection level is reported only where the station has ``min_band_pairs``
    hour pairs near that value: a polluted series that touches the floor once is exempt."""
    rng = np.random.default_rng(2)
    e = np.zeros(60 * 24)
    for i in range(1, e.size):
        e[i] = 0.9 * e[i - 1] + rng.normal(0, 0.12)
    so2 = np.round(40 * np.exp(0.25 * np.sin(np.arange(e.size) * 2 * np.pi / 24) + e), 0)
    so2[500:530] = 3.0  # 30 h at the SO2 detection level (3 µg/m³)
    t = np.arange(so2.size, dtype=np.int64) * 3600 + 1_546_272_000
    s = Series("S1", "a21026", t, so2)
    ctx = Context("S1", series={"a21026": s})
    assert run("TMP-03", s, ctx) == []
    (f,) = run("TMP-03", s, ctx, min_band_pairs=0)  # without the condition: no history there, "improbable"
    assert (f.status, f.start, f.end) == (Status.FAIL, 500, 530) and f.evidence["persistence"]["pairs_in_band"] < 72


def test_tmp03_run_start_of_each_pair() -> None:
    from tianlan.qc.checks.flat import _run_start

    g = np.array([1.0, 1.0, 2.0, 2.0, 2.0, np.nan, 2.0, 2.0, 3.0])
    # pair t → where the run holding g[t] began; a gap starts a new run
    assert _run_start(g, 0.5).tolist() == [0, 0, 2, 2, 2, 5, 6, 6]


def test_tmp03_a_value_held_while_the_neighbours_drift_slowly_fails() -> None:
    """The neighbours' CO climbs one reporting step every 4 hours (most hours the hourly classes
    read "quiet", where the station repeats itself), while S3 holds its value for 16 hours: the
    neighbours' median has drifted by ≥ ``drift_ln`` since S3's value began, hours at which S3's
    own history says it rarely stays — FAIL; with the drift class off the run is ordinary."""
    hours = 16
    series = low_co_network(seed=5)
    held = series["S3"]["a21005"].values[K - 1]
    assert held < 20 * 0.1  # below 20 reporting steps: only an improbable run is reported
    for st in list(series):
        v = series[st]["a21005"].values.copy()
        v[K:K + hours] = held if st == "S3" else np.round(v[K - 1] + 0.1 * (np.arange(hours) // 4 + 1), 1)
        series = with_values(series, st, "a21005", v)
    ctx = contexts_of(series)["S3"]
    (f,) = run("TMP-03", series["S3"]["a21005"], ctx)
    assert f.status == Status.FAIL and f.start <= K and f.end >= K + hours
    p = f.evidence["persistence"]
    assert p["expected_runs"] < 0.03
    drifted = {int(c): v for c, v in p["context_classes"].items() if int(c) >= 6}
    assert sum(v["hours"] for v in drifted.values()) >= hours // 2  # most of the run: the air drifted under it
    assert run("TMP-03", series["S3"]["a21005"], ctx, drift_ln=None) == []
    # the same network without the held value: nothing at S3
    clean = low_co_network(seed=5)
    assert run("TMP-03", clean["S3"]["a21005"], contexts_of(clean)["S3"]) == []


# --- SPA-01: O3 titration ------------------------------------------------------------------------


def with_o3(series: dict[str, dict[str, Series]], seed: int = 9) -> dict[str, dict[str, Series]]:
    """The synthetic city with an O3 series: a shared regional signal, a diurnal cycle, local noise."""
    rng = np.random.default_rng(seed)
    t = series["S0"]["a34004"].times
    regional = np.cumsum(rng.normal(0, 0.05, t.size)) * 0.3
    out = {st: dict(by) for st, by in series.items()}
    for st in out:
        v = 70 * np.exp(regional + 0.5 * np.sin(2 * np.pi * (np.arange(t.size) % 24) / 24) + rng.normal(0, 0.08, t.size))
        out[st]["a05024"] = Series(st, "a05024", t, np.round(v), unit="µg/m³")
    return out


def test_spa01_o3_below_its_neighbours_by_titration_is_dropped() -> None:
    """O3 × 0.3 for 10 hours at one station: with NO2 up by what O3 lost (local NO turning O3 into
    NO2, odd oxygen conserved) SPA-01 stays quiet; with NO2 unchanged (the analyser or the inlet)
    the episode stands, and the titration test off finds the first one too."""
    base = with_o3(synthetic_network())
    k, hours = K, 10
    o3 = base["S3"]["a05024"].values.copy()
    lost = np.round(0.7 * o3[k:k + hours])
    o3[k:k + hours] -= lost
    no2 = base["S3"]["a21004"].values.copy()
    no2[k:k + hours] += lost
    titrated = with_values(with_values(base, "S3", "a05024", o3), "S3", "a21004", no2)
    ctx = contexts_of(titrated)["S3"]
    near = [f for f in run("SPA-01", titrated["S3"]["a05024"], ctx) if f.start < k + hours and f.end > k]
    assert near == []
    off = [f for f in run("SPA-01", titrated["S3"]["a05024"], ctx, titration=False) if f.start < k + hours and f.end > k]
    assert off and off[0].reason == "SPA-01 station below its neighbours"
    lowered = with_values(base, "S3", "a05024", o3)
    ctx = contexts_of(lowered)["S3"]
    (f,) = [f for f in run("SPA-01", lowered["S3"]["a05024"], ctx) if f.start < k + hours and f.end > k]
    assert f.reason == "SPA-01 station below its neighbours" and f.evidence["no2_surplus_share_of_o3_shortfall"] < 0.5
