"""Fraud scenario injector: exact ground truth, scenario signatures, determinism by seed."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tianlan.errors import InputError
from tianlan.sim.cems_series import SHUTDOWN, cems_frame, water_frame
from tianlan.sim.fraud import (
    AIR_POLLUTANTS,
    MAINTENANCE,
    MARK,
    SCENARIOS,
    STATION,
    TIME,
    GroundTruth,
    frame_kind,
    ground_truth_frame,
    inject,
    random_injections,
    read_ground_truth,
    scenarios_for,
    write_ground_truth,
)
from tianlan.sim.profiles import AirProfile

T0 = 1546272000  # 2019-01-01 00:00 Beijing time
AIR_CODES = {"a34004": "PM2.5", "a34002": "PM10", "a21026": "SO2", "a21004": "NO2", "a21005": "CO", "a05024": "O3"}


def air_frame(n_stations: int = 3, days: int = 20, seed: int = 3) -> pl.DataFrame:
    """Hourly air series shaped like the CNEMC release: integers, CO with one decimal, some gaps."""
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(days * 24, dtype=np.int64) * 3600
    parts = []
    for i in range(n_stations):
        vals = AirProfile({"pm25": 60.0 + 10 * i}).sample_many(t.astype(float), rng)
        cols: dict[str, object] = {STATION: [f"{1029 + i}A"] * t.size, TIME: t}
        for code, name in AIR_CODES.items():
            v = np.round(vals[code], 1 if name == "CO" else 0)
            v[rng.random(t.size) < 0.02] = np.nan
            cols[name] = v
        parts.append(pl.DataFrame(cols).with_columns(pl.col(n).fill_nan(None) for n in AIR_CODES.values()))
    return pl.concat(parts)


@pytest.fixture(scope="module")
def frames() -> dict[str, pl.DataFrame]:
    return {"air": air_frame(4, 30), "cems": cems_frame(4, days=30, seed=5)[0],
            "water": water_frame(1, 4, days=30, seed=5)[0]}


def _values(frame: pl.DataFrame, col: str) -> np.ndarray:
    return frame.sort(STATION, TIME).get_column(col).cast(pl.Float64).fill_null(np.nan).to_numpy()


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ~((a == b) | (np.isnan(a) & np.isnan(b)))


def _window(frame: pl.DataFrame, g: GroundTruth) -> np.ndarray:
    f = frame.sort(STATION, TIME)
    return ((f[STATION] == g.station) & (f[TIME] >= g.start_utc) & (f[TIME] < g.end_utc)).to_numpy()


def _check_exact(before: pl.DataFrame, after: pl.DataFrame, truths: list[GroundTruth]) -> None:
    """Values differ only inside the windows, only in the parameters the truths name, and the
    number of changed values is what they say."""
    assert before.height == after.height
    inside = {c: np.zeros(before.height, bool) for c in before.columns}
    for g in truths:
        w = _window(before, g)
        for c in g.parameters:
            inside[c] |= w
    total = 0
    for c in before.columns:
        if c in (STATION, TIME):
            assert before.sort(STATION, TIME)[c].equals(after.sort(STATION, TIME)[c])
            continue
        if c == MARK:
            a = np.array(before.sort(STATION, TIME)[c].to_list(), dtype=object)
            b = np.array(after.sort(STATION, TIME)[c].to_list(), dtype=object)
            diff = a != b
        else:
            diff = _differs(_values(before, c), _values(after, c))
        assert not (diff & ~inside[c]).any(), f"{c} changed outside the injection windows"
        total += int(diff.sum())
    assert total == sum(g.changed for g in truths)


SHORT = {"selective_missing": (72, 168), "scaling": (72, 168), "clipping": (48, 120)}


def _one(frames: dict[str, pl.DataFrame], name: str, seed: int = 1, *, kind: str | None = None,
         **params) -> tuple[pl.DataFrame, pl.DataFrame, GroundTruth]:
    before = frames[kind or SCENARIOS[name].kinds[0]]
    station = sorted(before[STATION].unique().to_list())[1]
    lo, hi = SCENARIOS[name].hours
    hours = min(hi, 24 * 12)
    start = T0 + 5 * 86400 + 7 * 3600
    if name == "spray":  # the scenario is about polluted hours: start at the first PM2.5 ≥ 75
        f = before.filter((pl.col(STATION) == station) & (pl.col("PM2.5") >= 75) & (pl.col(TIME) > T0 + 86400))
        start = int(f[TIME][0])
    after, g = inject(before, name, station=station, start_utc=start, hours=hours, rng=seed, **params)
    assert isinstance(after, pl.DataFrame)
    return before, after, g


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_changes_values_only_inside_its_window(frames, name: str) -> None:
    before, after, g = _one(frames, name)
    assert g.scenario == name and g.changed > 0
    assert g.end_utc - g.start_utc == round(g.hours * 3600)
    assert g.behaviour.startswith("B") and g.clause
    _check_exact(before, after, [g])


def test_spray_suppresses_pm_and_leaves_gases_alone(frames) -> None:
    before, after, g = _one(frames, "spray", factor=0.3)
    w = _window(before, g)
    for pm in ("PM2.5", "PM10"):
        b, a = _values(before, pm)[w], _values(after, pm)[w]
        ok = np.isfinite(b) & (b >= 20)
        ratio = a[ok] / b[ok]
        assert ratio.size and np.all((ratio > 0.3 * 0.85 - 0.05) & (ratio < 0.3 * 1.15 + 0.05))
    for gas in ("SO2", "NO2", "CO", "O3"):
        np.testing.assert_array_equal(_values(before, gas), _values(after, gas))
    assert set(g.parameters) == {"PM2.5", "PM10"}
    # the same factor on both: the fine fraction hardly moves
    b = _values(before, "PM2.5")[w] / _values(before, "PM10")[w]
    a = _values(after, "PM2.5")[w] / _values(after, "PM10")[w]
    assert np.nanmax(np.abs(a - b)) < 0.15


def test_selective_missing_removes_the_high_hours_of_every_parameter(frames) -> None:
    before, after, g = _one(frames, "selective_missing", pad_hours=0, quantile=0.7)
    w = _window(before, g)
    trig = _values(before, "PM2.5")
    gone = w & np.isnan(_values(after, "PM2.5")) & np.isfinite(trig)
    assert gone.sum() == g.params["missing_hours"] > 10
    assert np.all(trig[gone] >= g.params["threshold"])
    kept = w & np.isfinite(_values(after, "PM2.5"))
    assert np.all(trig[kept] < g.params["threshold"])
    for c in AIR_POLLUTANTS:  # a power cut: the station is silent at those hours
        assert np.isnan(_values(after, c)[gone]).all()


def test_flat_holds_one_value(frames) -> None:
    before, after, g = _one(frames, "flat", parameters=["NO2"])
    w = _window(before, g)
    v = _values(after, "NO2")[w]
    assert np.all(v == g.params["value"]["NO2"])
    assert g.parameters == ("NO2",)


@pytest.mark.parametrize("mode", ["day", "station"])
def test_copied_repeats_the_source_exactly(frames, mode: str) -> None:
    before, after, g = _one(frames, "copied", mode=mode, days_back=3 if mode == "day" else None)
    src = before.filter((pl.col(STATION) == g.params["source_station"])
                        & (pl.col(TIME) >= g.params["source_start_utc"])
                        & (pl.col(TIME) < g.params["source_start_utc"] + (g.end_utc - g.start_utc))).sort(TIME)
    dst = after.filter((pl.col(STATION) == g.station) & (pl.col(TIME) >= g.start_utc) & (pl.col(TIME) < g.end_utc)).sort(TIME)
    for c in AIR_POLLUTANTS:
        assert src[c].to_list() == dst[c].to_list()
    assert (g.params["source_station"] == g.station) == (mode == "day")


def test_scaling_multiplies_by_the_factor(frames) -> None:
    before, after, g = _one(frames, "scaling", factor=0.6, parameters=["PM10"])
    w = _window(before, g)
    b, a = _values(before, "PM10")[w], _values(after, "PM10")[w]
    np.testing.assert_allclose(a, np.maximum(np.round(b * 0.6), 1.0), equal_nan=True)


def test_clipping_parks_values_just_below_the_limit(frames) -> None:
    before, after, g = _one(frames, "clipping")
    w = _window(before, g)
    b, a = _values(before, "PM2.5")[w], _values(after, "PM2.5")[w]
    lim, eps = g.params["limit"], g.params["epsilon"]
    assert g.params["would_exceed"] > 0 and np.nanmax(a) < lim
    hit = b >= lim - eps
    assert np.all((a[hit] >= lim - eps) & (a[hit] < lim))
    np.testing.assert_array_equal(a[~hit], b[~hit])


def test_cems_clipping_works_on_the_converted_value(frames) -> None:
    before, after, g = _one(frames, "clipping", kind="cems")
    assert g.params["o2_column"] == "a19001" and g.params["limit"] == 35.0
    w = _window(before, g)
    conv = _values(after, "a21026")[w] * (21 - 6.0) / (21 - np.minimum(_values(after, "a19001")[w], 20.5))
    assert np.nanmax(conv) < 35.0


def test_cems_dilution_raises_o2_and_lowers_concentrations_at_steady_load(frames) -> None:
    before, after, g = _one(frames, "cems_dilution", fraction=0.3)
    w = _window(before, g)
    o2b, o2a = _values(before, "a19001")[w], _values(after, "a19001")[w]
    np.testing.assert_allclose(o2a, o2b + 0.3 * (20.9 - o2b), atol=0.006)
    for c in ("a21026", "a21002", "a34013"):
        b, a = _values(before, c)[w], _values(after, c)[w]
        np.testing.assert_allclose(a, b * 0.7, atol=0.051)
    np.testing.assert_array_equal(_values(before, "load"), _values(after, "load"))
    np.testing.assert_array_equal(_values(before, "a01012"), _values(after, "a01012"))
    assert np.all(_values(after, "a00000")[w] > _values(before, "a00000")[w])


def test_cems_lockstep_makes_an_affine_copy(frames) -> None:
    before, after, g = _one(frames, "cems_lockstep", targets=["a34013", "a00000"])
    w = _window(before, g)
    s = _values(after, "a01012")[w]
    for c in ("a34013", "a00000"):
        a, b = g.params["affine"][c]
        np.testing.assert_allclose(_values(after, c)[w], np.maximum(a + b * s, 0.01), atol=0.006)
        assert np.corrcoef(s, _values(after, c)[w])[0, 1] > 0.999
        assert abs(np.corrcoef(s, _values(before, c)[w])[0, 1]) < 0.9


@pytest.mark.parametrize("hide", ["mark", "missing"])
def test_false_marks_cover_a_would_be_exceedance(frames, hide: str) -> None:
    before, after, g = _one(frames, "false_marks", hide=hide, pad_hours=1, excess=2.0)
    f = after.sort(STATION, TIME)
    w = _window(before, g)
    assert (f[MARK].to_numpy()[w] == MAINTENANCE).all()
    assert set(g.parameters) == {"a21026", MARK}
    so2 = _values(after, "a21026")[w]
    if hide == "missing":
        assert np.isnan(so2).all()
    else:
        conv = so2 * 15.0 / (21.0 - np.minimum(_values(after, "a19001")[w], 20.5))
        assert np.nanmax(conv) > 35.0 * 1.5 and g.params["would_be_max"] > 35.0
    for c in ("load", "a19001", "a00000", "a01012"):  # the process ran normally
        np.testing.assert_array_equal(_values(before, c), _values(after, c))


def test_water_dilution_lowers_chemistry_and_decouples_temperature(frames) -> None:
    before, after, g = _one(frames, "water_dilution", fraction=0.8)
    w = _window(before, g)
    for c in ("w01019", "w21003", "w01014"):
        assert np.all(_values(after, c)[w] < _values(before, c)[w])
    tb, ta = _values(before, "w01010")[w], _values(after, "w01010")[w]
    assert np.std(ta) < 0.5 * np.std(tb)  # the tank does not follow the river's daily cycle
    np.testing.assert_array_equal(_values(before, "w01001"), _values(after, "w01001"))


def test_same_seed_same_injection_other_seed_other_injection(frames) -> None:
    f = frames["air"]
    a, ga = random_injections(f, scenarios_for("air"), 2, seed=42, hours=SHORT)
    b, gb = random_injections(f, scenarios_for("air"), 2, seed=42, hours=SHORT)
    c, gc = random_injections(f, scenarios_for("air"), 2, seed=43, hours=SHORT)
    assert isinstance(a, pl.DataFrame) and isinstance(b, pl.DataFrame)
    assert a.equals(b) and ga == gb
    assert gc != ga
    one, g1 = inject(f, "scaling", station="1030A", start_utc=T0 + 86400, hours=48, rng=9)
    two, g2 = inject(f, "scaling", station="1030A", start_utc=T0 + 86400, hours=48, rng=np.random.default_rng(9))
    assert isinstance(one, pl.DataFrame) and one.equals(two) and g1 == g2


@pytest.mark.parametrize("kind", ["air", "cems", "water"])
def test_random_injections_place_every_scenario_apart_with_exact_truth(frames, kind: str) -> None:
    before = frames[kind]
    names = scenarios_for(kind)
    after, truths = random_injections(before, names, 2, seed=7, min_gap_hours=24, hours=SHORT)
    assert isinstance(after, pl.DataFrame)
    assert sorted(Counter_(g.scenario for g in truths).items()) == sorted((n, 2) for n in names)
    by_station: dict[str, list[GroundTruth]] = {}
    for g in truths:
        by_station.setdefault(g.station, []).append(g)
    for gs in by_station.values():
        gs.sort(key=lambda g: g.start_utc)
        for x, y in zip(gs, gs[1:], strict=False):
            assert y.start_utc >= x.end_utc + 24 * 3600
    _check_exact(before, after, truths)


def Counter_(items):  # noqa: N802 — a tiny local Counter keeps the assertion readable
    from collections import Counter

    return Counter(items)


def test_random_injections_say_when_they_cannot_place_them(frames) -> None:
    with pytest.raises(InputError, match="placed only"):
        random_injections(frames["air"], ["scaling"], 50, seed=1, max_tries=300)
    _, truths = random_injections(frames["air"], ["scaling"], 50, seed=1, max_tries=300, strict=False)
    assert 0 < len(truths) < 50


def test_arrays_in_arrays_out(frames) -> None:
    f = frames["air"]
    data = {c: f[c].to_numpy() for c in f.columns}
    out, g = inject(data, "flat", station="1029A", start_utc=T0 + 3 * 86400, hours=12, rng=1, parameters=["O3"])
    assert isinstance(out, dict) and out["O3"] is not data["O3"]
    w = (data[STATION] == "1029A") & (data[TIME] >= g.start_utc) & (data[TIME] < g.end_utc)
    assert np.unique(out["O3"][w]).size == 1
    assert np.array_equal(out["O3"][~w], data["O3"][~w], equal_nan=True)


def test_bad_requests_are_input_errors(frames) -> None:
    f = frames["air"]
    with pytest.raises(InputError, match="unknown scenario"):
        inject(f, "teleport", station="1029A", start_utc=T0, hours=3)
    with pytest.raises(InputError, match="station"):
        inject(f, "flat", station="9999Z", start_utc=T0, hours=3)
    with pytest.raises(InputError, match="params"):
        inject(f, "flat", station="1029A", start_utc=T0, hours=3, colour="red")
    with pytest.raises(InputError, match="does not apply"):
        random_injections(f, ["cems_dilution"], 1, seed=1)


def test_ground_truth_round_trips(frames, tmp_path) -> None:
    _, truths = random_injections(frames["cems"], ["false_marks", "cems_lockstep"], 2, seed=3)
    p = write_ground_truth(tmp_path / "gt.jsonl", truths)
    back = read_ground_truth(p)
    assert [g.to_dict() for g in back] == [g.to_dict() for g in truths]
    table = ground_truth_frame(truths)
    assert table.height == 4 and set(table["scenario"]) == {"false_marks", "cems_lockstep"}


def test_simulated_series_are_deterministic_and_plausible() -> None:
    a, sites = cems_frame(4, days=10, seed=9, shutdowns_per_month=3.0)
    b, _ = cems_frame(4, days=10, seed=9, shutdowns_per_month=3.0)
    assert a.equals(b) and sites.height == 4 and frame_kind(a.columns) == "cems"
    stopped = a.filter(pl.col(MARK) == SHUTDOWN)
    running = a.filter(pl.col(MARK).is_null())
    assert stopped.height > 0
    assert stopped["load"].max() == 0 and stopped["a19001"].min() > 20  # type: ignore[operator]
    assert 30 < running["load"].min() and running["load"].max() <= 100  # type: ignore[operator]
    assert 8 < running["a19001"].median() < 12  # type: ignore[operator]
    w, wsites = water_frame(2, 3, days=10, seed=9)
    assert w.height == 6 * 240 and frame_kind(w.columns) == "water"
    # downstream sees upstream later: the lagged correlation beats the unlagged one
    up = w.filter(pl.col(STATION) == "W101")["w01010"].to_numpy()
    down = w.filter(pl.col(STATION) == "W102")["w01010"].to_numpy()
    assert np.corrcoef(up[:-6], down[6:])[0, 1] > np.corrcoef(up, down)[0, 1]
    assert wsites.filter(pl.col(STATION) == "W102")["upstream"][0] == "W101"


def test_cems_minute_series_are_minute_records_with_marked_stops() -> None:
    from tianlan.sim.cems_series import MINUTE_CHANNELS, cems_minute_series

    a, sites, stops = cems_minute_series(3, days=4, seed=5, shutdowns_per_month=15.0)
    b, _, _ = cems_minute_series(3, days=4, seed=5, shutdowns_per_month=15.0)
    assert sorted(a) == ["CEMS001", "CEMS002", "CEMS003"] and sites.height == 3
    for code, (t, vals) in a.items():
        assert t.size == 4 * 1440 and np.all(np.diff(t) == 60) and tuple(vals) == MINUTE_CHANNELS
        assert all(np.array_equal(vals[c], b[code][1][c]) for c in MINUTE_CHANNELS)
        stop = np.zeros(t.size, dtype=bool)
        for s0, s1 in stops[code]:
            stop |= (t >= s0) & (t < s1)
        run = ~stop
        assert 8 < np.median(vals["a19001"][run]) < 12 and np.median(vals["a01012"][run]) > 40
        # minute values vary: an hour of a working analyser never repeats one value (CEMS-04 frozen)
        assert np.mean(np.diff(vals["a21026"][run]) == 0) < 0.05
        if stop.any():
            assert vals["a19001"][stop].min() > 19 and np.median(vals["a00000"][stop]) < 0.2 * np.median(vals["a00000"][run])
    assert any(stops.values())
