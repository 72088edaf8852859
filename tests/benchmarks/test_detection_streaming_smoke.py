"""Smoke test of benchmarks/detection_streaming.py: on a tiny Hebei slice the three paths (batch, live
QC, live QC + scheduled scans) give a full table, the streaming path yields alarms with the moment they
first existed, the scheduled scans' alarms land in the same alarm table at the data time of the scan,
and re-streaming only the changed stations gives the alarms of a full stream."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import polars as pl
import pytest
from bench_loader import load_benchmark
from rich.console import Console

ROOT = Path(__file__).resolve().parents[2]
HEBEI = ROOT.parent / "shared" / "data" / "cnemc-hebei-2019"
needs_hebei = pytest.mark.skipif(not HEBEI.exists(), reason=f"real data not present: {HEBEI}")


def _bench() -> ModuleType:
    return load_benchmark("detection_streaming.py")


def _slice(bench: ModuleType, stations: int, days: int):  # type: ignore[no-untyped-def]
    ds = bench.load_hebei(months=1, stations=stations, directory=HEBEI)
    t0 = int(ds.frame["time_utc"].min())
    return bench.DataSet(ds.name, ds.kind, ds.frame.filter(pl.col("time_utc") < t0 + days * 86400), ds.sites,
                         ds.scenarios, ds.description)


@needs_hebei
def test_both_paths_on_a_slice_give_the_side_by_side_table() -> None:
    bench = _bench()
    ds = _slice(bench, 3, 14)
    day = 24 * 3600
    side = bench.compare(ds, injections=1, seed=1, only=["flat", "spray"], scheduled_every_s=7 * day)
    assert side.scheduled is not None
    for res in (side.batch, side.stream, side.scheduled):
        assert res.available, res.about
        assert [r.scenario for r in res.rows] == ["spray", "flat"]  # the data set's order
        for r in res.rows:
            assert r.injections == 1 and 0 <= r.detected <= 1 and 0 <= r.true_alarms <= r.alarms
            assert len(r.delays_h) == r.detected and all(d >= 0 for d in r.delays_h)
        assert res.clean is not None and res.clean.per_station_month is not None
    assert "streamed hour by hour through live QC" in side.stream.about and "scheduled" not in side.stream.about
    assert "scheduled scans of the batch-only detectors every 168 h" in side.scheduled.about
    for res, realtime in ((side.stream, side.realtime), (side.scheduled, side.realtime_scheduled)):
        for r in res.rows:  # a real-time delay for each streamed detection, never before the alarm's start
            rt = realtime[r.scenario]
            assert len(rt) == r.detected
            assert all(t >= d for t, d in zip(sorted(rt), sorted(r.delays_h), strict=True))
    # one scan after 7 days of data in each pass (clean, spray, flat), one after the stream stops at 14 days
    assert len(side.scans) == 3 * 2
    assert all({"FOR-01", "FOR-05", "FOR-06"} <= set(s.detectors) and s.stations >= 1 for s in side.scans)
    cost = bench.scan_cost(side)
    assert cost["scans"] == 6 and 0 < cost["mean_s"] <= cost["max_s"]
    console = Console(record=True, width=240)
    console.print(bench.render_side(side))
    text = console.export_text()
    assert "recall batch / stream / +scheduled" in text and "real-time delay +scheduled" in text
    assert "flat" in text and "spray" in text


@needs_hebei
def test_restreaming_changed_stations_with_scheduled_scans_gives_the_full_stream_alarms() -> None:
    bench = _bench()
    from tianlan.sim.fraud import inject

    day = 24 * 3600
    every = 2 * day
    ds = _slice(bench, 4, 12)
    t0 = int(ds.frame["time_utc"].min())
    method = bench.StreamingMethod(scheduled_every_s=every)
    clean = method.alarms(ds, ds.frame)
    run = method.runs[-1]
    assert run.frames > 0 and run.live["errors"] == 0 and run.live["processed"] == run.frames
    # scans before the month's first checkpoint (the 11th) see only December (no data); later ones the
    # first ten days of January, every station (the store holds them all)
    from tianlan.model.timeutil import parse_user_time

    jan11 = parse_user_time("2019-01-11")
    assert len(run.scans) == 6 and [s.end_utc for s in run.scans].count(jan11) == 2
    assert all(s.stations == 4 for s in run.scans if s.end_utc == jan11)
    # each final alarm has the states the service wrote, the last one its final state
    for a in clean:
        states = run.history[run.ids[a]]
        assert states[-1][1:] == (a.start_utc, a.end_utc, a.level)
        assert all(held >= s for held, s, _e, _l in states)  # an alarm exists only after its data arrived
    # clipping just below a limit: FOR-01 (batch-only) finds it only in a scheduled scan
    station = sorted(ds.frame["station"].unique().to_list())[1]
    frame, truth = inject(ds.frame, "clipping", station=station, start_utc=t0 + 3 * day, hours=8 * 24, rng=3)
    incremental = method.alarms(ds, frame)
    scan_run = method.runs[-1]
    # the changed station and its neighbours
    assert len(scan_run.scans) == 6 and all(1 < s.stations <= 4 for s in scan_run.scans if s.end_utc == jan11)
    full_run = bench.StreamingMethod(scheduled_every_s=every).stream(ds, frame)
    # the changed station's alarms are those of a full stream (a neighbour's cross-station findings,
    # XV-03 residuals against this station, can move with the injection: kept from the clean run)
    assert sorted((a for a in incremental if a.station == station), key=repr) == \
        sorted((a for a in full_run.alarms if a.station == station), key=repr)
    found = [a for a in incremental if a.station == station and a.level >= 2 and a.detector == "FOR-01"
             and truth.overlaps(a.station, a.start_utc, a.end_utc)]
    assert found
    first_held, _s, first_end, _l = scan_run.history[scan_run.ids[found[0]]][0]
    # raised by a scan that covers the first ten days (from the 11th; scans every 2 days, and one at
    # the end), and its result ends at that checkpoint
    scan_times = {t0 + 3600 + bench.ARRIVAL_S + k * every for k in range(1, 6)} | {t0 + 12 * day + bench.ARRIVAL_S}
    assert first_held in scan_times and first_held >= jan11 and first_end <= jan11
    plain = bench.StreamingMethod().stream(ds, frame, [station]).alarms  # live QC alone does not run FOR-01
    assert not any(a.detector == "FOR-01" for a in plain)


def test_realtime_delay_is_when_the_alarm_first_overlapped_the_injection_at_level_2() -> None:
    bench = _bench()
    from tianlan.sim.fraud import GroundTruth

    h = 3600
    g = GroundTruth("flat", "A", ("PM2.5",), 10 * h, 40 * h)
    grown = bench.Alarm("A", "a34004", 12 * h, 30 * h, 3, "TMP-03")
    old = bench.Alarm("A", "a21004", 0, 50 * h, 2, "XV-03")  # a clean-data alarm: not a detection
    run = bench.StreamRun(alarms=[grown, old], ids={grown: 1, old: 2}, history={
        1: [(14 * h, 12 * h, 13 * h, 1), (17 * h, 12 * h, 16 * h, 2), (31 * h, 12 * h, 30 * h, 3)],
        2: [(5 * h, 0, 4 * h, 2)]})
    # raised at level 1 at 14 h, level 2 from 17 h: 7 h after the injection began
    assert bench.realtime_delays(run, [g], background=[old]) == [7.0]
    assert bench.realtime_delays(run, [g], background=[old, grown]) == []
    assert bench.realtime_delays(run, [GroundTruth("flat", "B", ("PM2.5",), 10 * h, 40 * h)], background=[]) == []
