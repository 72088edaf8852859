"""Smoke test of benchmarks/detection.py: its core on tiny slices gives a full, sane table."""

from __future__ import annotations

import math
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
from bench_loader import load_benchmark
from rich.console import Console

ROOT = Path(__file__).resolve().parents[2]
HEBEI = ROOT.parent / "shared" / "data" / "cnemc-hebei-2019"


def _bench() -> ModuleType:
    return load_benchmark("detection.py")


def _check(bench: ModuleType, results: list, datasets: list) -> None:
    assert len(results) == 2 * len(datasets)
    for res in results:
        ds = next(d for d in datasets if d.name == res.dataset)
        text = _text(bench, res)
        if not res.available:  # e.g. a method whose modules have not landed: the table says why
            assert res.about and res.about in text.replace("\n", " ") or res.about[:40] in text
            continue
        assert [r.scenario for r in res.rows] == list(ds.scenarios)
        for r in res.rows:
            assert r.injections == 1, f"{res.method}/{r.scenario}: {r.note}"
            assert 0 <= r.detected <= r.injections
            assert 0 <= r.true_alarms <= r.alarms
            assert r.recall is None or 0.0 <= r.recall <= 1.0
            assert r.precision is None or 0.0 <= r.precision <= 1.0
            if r.recall is not None and r.precision is not None:
                assert r.f1 is not None and min(r.recall, r.precision) - 1e-9 <= r.f1 <= max(r.recall, r.precision) + 1e-9
            assert all(d >= 0 for d in r.delays_h) and len(r.delays_h) == r.detected
            assert r.scenario in text
        assert res.clean is not None and res.clean.per_station_month is not None
        assert math.isfinite(res.clean.per_station_month) and res.clean.per_station_month >= 0
        assert "clean data" in text
        # the random-outages control: innocent gaps, new level ≥ 2 alarms counted per station-month
        ctl = res.control
        assert ctl is not None and ctl.scenario == bench.OUTAGES_ROW and "random outages" in text
        assert ctl.per_station_month is not None and ctl.per_station_month >= 0
        assert 0 <= ctl.incidents <= ctl.alarms
        if res.method == "Tianlan":
            assert "detectors registered for" in res.about


def _text(bench: ModuleType, res) -> str:
    console = Console(record=True, width=240)
    console.print(bench.render(res))
    return console.export_text()


def test_simulated_cems_and_water_slices() -> None:
    bench = _bench()
    datasets = [bench.sim_cems(outlets=2, days=31, seed=3), bench.sim_water(rivers=1, days=31, seed=3)]
    results = bench.run(datasets, [bench.TianlanMethod(), bench.QartodMethod()], injections=1, seed=1)
    _check(bench, results, datasets)
    tables = bench.compare(results)
    if all(r.available for r in results):  # one side-by-side table per data set: a row per scenario + clean + control
        assert len(tables) == len(datasets)
        assert [t.row_count for t in tables] == [len(d.scenarios) + 2 for d in datasets]


@pytest.mark.skipif(not HEBEI.exists(), reason=f"real data not present: {HEBEI}")
def test_hebei_slice_two_stations_one_month() -> None:
    bench = _bench()
    ds = bench.load_hebei(months=1, stations=2, directory=HEBEI)
    assert ds.n_stations == 2 and ds.frame.height == 2 * 31 * 24
    results = bench.run([ds], [bench.TianlanMethod(), bench.QartodMethod()], injections=1, seed=1)
    _check(bench, results, [ds])
    qartod = next(r for r in results if r.method == "ioos_qc QARTOD")
    if qartod.available:  # QARTOD's flat-line test finds a flat series
        assert next(r for r in qartod.rows if r.scenario == "flat").detected == 1


def test_rescanning_only_touched_stations_gives_the_full_scan_alarms() -> None:
    bench = _bench()
    tianlan = bench.TianlanMethod()
    if not tianlan.available:
        pytest.skip(f"Tianlan detection not available: {tianlan.reason}")
    from tianlan.sim.fraud import random_injections

    ds = bench.sim_water(rivers=2, days=31, seed=5)
    tianlan.alarms(ds, ds.frame)  # the clean run is cached
    frame, truths = random_injections(ds.frame, ["water_dilution", "flat"], 1, seed=4)
    assert bench.changed_stations(ds.frame, frame) == {g.station for g in truths}
    incremental = tianlan.alarms(ds, frame)
    full = bench.TianlanMethod().alarms(ds, frame)
    assert sorted(incremental, key=repr) == sorted(full, key=repr)


def test_a_missing_runner_gives_a_table_that_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _bench()
    monkeypatch.setitem(sys.modules, "tianlan.qc.runner", None)  # import fails as if not yet written
    method = bench.TianlanMethod()
    assert not method.available and "not available" in method.reason
    ds = bench.sim_water(rivers=1, days=10, seed=1)
    res = bench.evaluate(ds, method, injections=1, seed=1)
    assert not res.available and res.rows == []
    assert "not available" in _text(bench, res)


def test_a_broken_detector_module_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _bench()
    try:
        from tianlan.qc import fraud
    except ImportError as e:
        pytest.skip(f"detectors not available: {e}")
    modules = sorted(m.name for m in pkgutil.iter_modules(fraud.__path__))
    if not modules:
        pytest.skip("no fraud detector module yet")
    victim = f"tianlan.qc.fraud.{modules[0]}"
    real = bench.importlib.import_module

    def flaky(name: str, *a, **k):
        if name == victim:
            raise SyntaxError("half-written module")
        return real(name, *a, **k)

    monkeypatch.setattr(bench.importlib, "import_module", flaky)
    method = bench.TianlanMethod()
    if not method.available:
        pytest.skip(f"Tianlan detection not available: {method.reason}")
    assert victim in method.broken
    ds = bench.sim_water(rivers=1, days=10, seed=1)
    assert f"failed to import: {victim} (SyntaxError" in method.describe(ds)


def test_scoring_counts_overlaps_on_the_station() -> None:
    bench = _bench()
    from tianlan.sim.fraud import GroundTruth

    g = GroundTruth("spray", "A", ("PM2.5",), 10 * 3600, 14 * 3600)
    alarms = [
        bench.Alarm("A", "a34004", 12 * 3600, 20 * 3600, 2, "SPA-01"),  # overlaps: detected, 2 h late
        bench.Alarm("A", "a34004", 13 * 3600, 15 * 3600, 1, "TMP-02"),  # level 1: ignored
        bench.Alarm("B", "a34004", 10 * 3600, 12 * 3600, 3, "SPA-01"),  # other station: false alarm
        bench.Alarm("A", "a34002", 14 * 3600, 16 * 3600, 2, "TMP-05"),  # starts at the window's end: false
    ]
    row = bench.score("spray", alarms, [g])
    assert (row.injections, row.detected, row.alarms, row.true_alarms) == (1, 1, 3, 1)
    assert row.recall == 1.0 and row.precision == pytest.approx(1 / 3) and row.median_delay_h == 2.0
    assert row.top == [("SPA-01", 1)]


def test_incidents_merge_a_stations_alarms_and_score_by_any_true_alarm() -> None:
    """Ten alarms over one anomaly are one incident: alarm precision rewards splitting, incident
    precision does not; an incident of background alarms only is false."""
    bench = _bench()
    from tianlan.sim.fraud import GroundTruth

    h = 3600
    g = GroundTruth("flat", "A", ("CO",), 100 * h, 140 * h)
    split = [bench.Alarm("A", f"p{i}", (100 + 4 * i) * h, (102 + 4 * i) * h, 2, "TMP-03") for i in range(10)]
    far = bench.Alarm("A", "CO", 300 * h, 301 * h, 2, "SPA-01")  # 159 h later: its own (false) incident
    near = bench.Alarm("A", "CO", 144 * h, 145 * h, 2, "XV-03")  # 6 h after the last (138 h): joins it
    other = bench.Alarm("B", "CO", 100 * h, 101 * h, 2, "SPA-01")  # another station: another incident
    groups = bench.incidents([far, *split, near, other])
    assert sorted(len(x) for x in groups) == [1, 1, 11]
    row = bench.score("flat", [*split, far, near, other], [g])
    assert (row.alarms, row.true_alarms, row.incidents, row.true_incidents) == (13, 10, 3, 1)
    assert row.precision == pytest.approx(10 / 13) and row.precision_incidents == pytest.approx(1 / 3)
    assert row.f1_incidents == pytest.approx(2 * (1 / 3) / (1 + 1 / 3))
    # an incident made of background alarms only is false; one with a new alarm in it is true
    row = bench.score("flat", [far, split[0]], [g], background=[split[0]])
    assert (row.incidents, row.true_incidents) == (2, 0)


def test_background_alarms_are_not_detections() -> None:
    """An alarm the clean data raise identically is not caused by the injection it overlaps: it
    neither detects it nor counts as a true alarm (the lenient 'any alarm' columns count it)."""
    bench = _bench()
    from tianlan.sim.fraud import GroundTruth

    g = GroundTruth("selective_missing", "A", ("PM2.5",), 0, 30 * 86400)
    old = bench.Alarm("A", "a21004", 5 * 86400, 5 * 86400 + 7200, 2, "SPA-01")  # raised on the clean data too
    new = bench.Alarm("A", "a34004", 0, 30 * 86400, 2, "FOR-05")
    row = bench.score("selective_missing", [old], [g], background=[old])
    assert (row.detected, row.true_alarms, row.detected_any, row.true_alarms_any) == (0, 0, 1, 1)
    assert row.recall == 0.0 and row.recall_any == 1.0 and row.precision == 0.0 and row.precision_any == 1.0
    row = bench.score("selective_missing", [old, new], [g], background=[old])
    assert (row.detected, row.true_alarms, row.alarms) == (1, 1, 2) and row.top == [("FOR-05", 1)]
    # an alarm the injection changed (here: longer) is new
    longer = bench.Alarm("A", "a21004", 5 * 86400, 6 * 86400, 2, "SPA-01")
    assert bench.score("selective_missing", [longer], [g], background=[old]).detected == 1


def test_no_alarm_at_all_scores_f1_zero() -> None:
    """A method that raised nothing on a scenario has no precision but an F1 of 0 (it compares as
    behind, not as incomparable)."""
    bench = _bench()
    from tianlan.sim.fraud import GroundTruth

    row = bench.score("flat", [], [GroundTruth("flat", "A", ("CO",), 0, 3600)])
    assert row.precision is None and row.recall == 0.0 and row.f1 == 0.0 and row.f1_incidents == 0.0
