"""Scheduled batch QC (``tianlan.qc.scheduled``) and store scans that raise alarms, on SQLite and
PostgreSQL: the detectors streaming leaves to batch run on a timer over the previous and current
month, store their results and raise each finding once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from test_scan_cli import _store_network, _values
from typer.testing import CliRunner

from tianlan.model.timeutil import parse_user_time
from tianlan.qc.config import config_from, default_config, load_config
from tianlan.qc.core import load_all
from tianlan.qc.scheduled import batch_only_config, scan_window, scheduled_scan, scheduled_scans
from tianlan.qc.stream import streams_by_default
from tianlan.store.alarms_repo import AlarmsRepo
from tianlan.store.qc_repo import QcRepo

T0 = 1551369600  # 2019-03-01 00:00 Beijing
BATCH_CONFIG = """version: 1
base: none
detectors:
  - id: ZQ-FLAT
    parameters: [PM2.5]
    params: {min_len: 5}
    stream: false
  - id: ZQ-HIGH
"""


def test_the_default_batch_part_is_what_streaming_leaves_out() -> None:
    cfg = default_config()
    sub = batch_only_config(cfg)
    assert sub is not None
    ids = set(sub.detector_ids)
    assert {"FOR-01", "FOR-02", "FOR-05", "FOR-06"} <= ids
    specs = load_all()
    assert all(not streams_by_default(specs[i]) for i in ids)
    assert {"TMP-03", "XV-03", "SPA-01", "CMP-01"}.isdisjoint(ids)
    assert sub.hash != cfg.hash
    # nothing batch-only: no scheduled work
    assert batch_only_config(config_from([{"id": "TMP-03"}])) is None


def test_scan_window_is_previous_month_and_current_month_to_its_checkpoint() -> None:
    def window(now: str) -> tuple[int, int]:
        return scan_window(parse_user_time(now))

    # just after midnight, Beijing: March has begun, February is scanned whole, March not yet
    assert window("2019-03-01T00:30") == (parse_user_time("2019-02-01"), parse_user_time("2019-03-01"))
    assert window("2019-03-10T23:59") == (parse_user_time("2019-02-01"), parse_user_time("2019-03-01"))
    # from the 11th the first ten days, from the 21st twenty: two looks at a filling month, not 120
    assert window("2019-03-11T00:00") == (parse_user_time("2019-02-01"), parse_user_time("2019-03-11"))
    assert window("2019-03-31T23:59") == (parse_user_time("2019-02-01"), parse_user_time("2019-03-21"))
    assert window("2019-02-28T23:59") == (parse_user_time("2019-01-01"), parse_user_time("2019-02-21"))
    assert window("2019-01-05T12:00") == (parse_user_time("2018-12-01"), parse_user_time("2019-01-01"))


def test_scheduled_scan_stores_results_and_raises_each_finding_once(store, toys, put_observations,
                                                                   tmp_path: Path) -> None:
    _store_network(store, _values(), T0, put_observations)
    cfg_path = tmp_path / "C.yaml"
    cfg_path.write_text(BATCH_CONFIG, encoding="utf-8")
    cfg = load_config(cfg_path)
    now = T0 + 10 * 86400 + 3600  # 2019-03-11 01:00 Beijing: March's first ten days are scanned
    rep = scheduled_scan(store, config=cfg, now_utc=now)
    assert rep.detectors == ["ZQ-FLAT"]  # ZQ-HIGH streams; only the batch part runs
    assert (rep.start_utc, rep.end_utc) == scan_window(now) and rep.stations == 3 and rep.raised == 1
    (alarm,) = AlarmsRepo(store).list_alarms()
    assert (alarm.station, alarm.parameter, alarm.detector) == ("1002A", "a34004", "ZQ-FLAT")
    assert (alarm.start_utc, alarm.end_utc) == (T0 + 30 * 3600, T0 + 37 * 3600)
    stored = QcRepo(store).results(detector="ZQ-FLAT")
    assert [(r.station, r.start_utc) for r in stored] == [("1002A", T0 + 30 * 3600)]
    assert QcRepo(store).results(detector="ZQ-HIGH") == []
    again = scheduled_scan(store, config=cfg, now_utc=now + 6 * 3600)  # the next run: nothing new
    assert (again.raised, again.extended, again.unchanged) == (0, 0, 1)
    assert len(AlarmsRepo(store).list_alarms()) == 1 and len(QcRepo(store).results(detector="ZQ-FLAT")) == 1


def test_scheduled_scans_run_on_a_timer_until_stopped(store, toys, put_observations, tmp_path: Path) -> None:
    _store_network(store, _values(), T0, put_observations)
    cfg_path = tmp_path / "C.yaml"
    cfg_path.write_text(BATCH_CONFIG, encoding="utf-8")
    settings = SimpleNamespace(qc_batch_interval_s=0.05, live_qc_config=cfg_path)

    async def go() -> None:
        stop = asyncio.Event()
        # the data are from 2019: the timer's "now" must be within a month of them
        task = asyncio.create_task(scheduled_scans(store, settings, stop, first_delay_s=0.0,
                                                   clock=lambda: T0 + 10 * 86400 + 3600))
        for _ in range(400):
            await asyncio.sleep(0.05)
            if AlarmsRepo(store).list_alarms():
                break
        stop.set()
        await asyncio.wait_for(task, 30)

    asyncio.run(go())
    assert [a.detector for a in AlarmsRepo(store).list_alarms()] == ["ZQ-FLAT"]
    off = SimpleNamespace(qc_batch_interval_s=0, live_qc_config=cfg_path)
    asyncio.run(asyncio.wait_for(scheduled_scans(store, off, asyncio.Event()), 5))  # 0: returns at once


def test_store_scan_raises_alarms_unless_told_not_to(store, toys, put_observations, tmp_path: Path) -> None:
    import typer

    from tianlan.qc.commands import register

    app = typer.Typer()
    register(app)
    _store_network(store, _values(), T0, put_observations)
    cfg_path = tmp_path / "C.yaml"
    cfg_path.write_text(BATCH_CONFIG, encoding="utf-8")
    url = store.url.render_as_string(hide_password=False)
    base = ["scan", "--database-url", url, "--from", "2019-03-01", "--to", "2019-03-04", "--config", str(cfg_path)]
    r = CliRunner().invoke(app, [*base, "--no-alarms"])
    assert r.exit_code == 0, r.output
    assert AlarmsRepo(store).list_alarms() == []
    r = CliRunner().invoke(app, base)
    assert r.exit_code == 0, r.output
    assert "2 raised" in r.output
    assert sorted(a.detector for a in AlarmsRepo(store).list_alarms()) == ["ZQ-FLAT", "ZQ-HIGH"]
    r = CliRunner().invoke(app, base)
    assert r.exit_code == 0 and "0 raised" in r.output and "2 unchanged" in r.output
