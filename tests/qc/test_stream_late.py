"""Streaming QC does not report findings about data it had already passed (they surface only as the
window slides) unless such old data have just arrived; live QC's auto-resolve waits for the slowest
detector to look again."""

from __future__ import annotations

import calendar
from collections.abc import Iterator

import numpy as np
import pytest

from tianlan.ingest.item import ACCEPTED, IngestItem
from tianlan.qc.config import config_from
from tianlan.qc.core import REGISTRY, Context, DetectorSpec, Finding, Series, Status, detector
from tianlan.qc.inputs import StationMeta
from tianlan.qc.stream import LATE_S, StreamingQc

PM25 = "a34004"


def beijing_to_utc(y: int, m: int, d: int, h: int = 0) -> int:
    return calendar.timegm((y, m, d, h, 0, 0, 0, 0, 0)) - 8 * 3600
T0 = 1551369600  # 2019-03-01 00:00 Beijing
HOUR = 3600


def _late(series: Series, ctx: Context) -> list[Finding]:
    """Toy: once the window holds 100 values, the hours [T0, T0 + 2 h) look wrong (a statistic over
    the window that moved)."""
    if np.isfinite(series.values).sum() < 100:
        return []
    idx = np.flatnonzero((series.times >= T0) & (series.times < T0 + 2 * HOUR))
    return [Finding(int(idx[0]), int(idx[-1]) + 1, Status.SUSPECT, "late")] if idx.size else []


@pytest.fixture
def late_toy() -> Iterator[DetectorSpec]:
    REGISTRY.pop("ZQ-LATE", None)
    detector("ZQ-LATE", name="toy late finding", family="tmp")(_late)
    yield REGISTRY["ZQ-LATE"]
    REGISTRY.pop("ZQ-LATE", None)


def _item(t: int, v: float) -> IngestItem:
    return IngestItem(b"", t + HOUR + 60.0, "test", status=ACCEPTED, device_id=1,
                      obs=[(t, PM25, "hour", v, "N", None, None, None, None, None)])


def _stream(late_toy: DetectorSpec, **kw) -> StreamingQc:  # type: ignore[no-untyped-def]
    cfg = config_from([{"id": "ZQ-LATE"}], registry={"ZQ-LATE": late_toy})
    return StreamingQc(None, cfg, stations={"A": StationMeta("A", "石家庄", 114.5, 38.0)},
                       device_sites={1: ("A", "air")}, **kw)


def _feed(sq: StreamingQc, hours: range) -> list:  # type: ignore[no-untyped-def]
    out = []
    for h in hours:
        out += sq.on_committed([_item(T0 + h * HOUR, 40.0 + (h % 7))])
    return out


def test_a_finding_about_data_long_passed_is_not_reported(late_toy: DetectorSpec) -> None:
    assert LATE_S["hour"] == 48 * HOUR
    sq = _stream(late_toy)
    out = _feed(sq, range(130)) + sq.flush(0.0)
    assert [r for r in out if r.detector == "ZQ-LATE"] == []
    assert sq.stats.stale > 0
    # without the horizon the stream reports it, 100 hours after the data
    sq = _stream(late_toy, late_s=None)
    out = _feed(sq, range(130))
    assert [(r.start_utc, r.end_utc) for r in out if r.detector == "ZQ-LATE"] == [(T0, T0 + 2 * HOUR)]
    assert sq.stats.stale == 0


def test_old_data_that_arrive_late_are_checked_whatever_their_age(late_toy: DetectorSpec) -> None:
    """A backfill (or a catch-up, or a round of many hours) brings data older than the horizon: the
    findings about them are new."""
    sq = _stream(late_toy)
    out = _feed(sq, range(3, 130))  # hours 0–2 are missing: the device was cut off
    assert [r for r in out if r.detector == "ZQ-LATE"] == []
    out = sq.on_committed([_item(T0 + h * HOUR, 90.0) for h in range(3)])  # they come in at last
    out += _feed(sq, range(130, 134))
    assert [(r.start_utc, r.end_utc) for r in out if r.detector == "ZQ-LATE"] == [(T0, T0 + 2 * HOUR)]
    # the exemption ends once every detector has run since: later findings about old data are late again
    out = _feed(sq, range(134, 134 + sq.recheck_s() // HOUR + 2))
    assert ("A", "hour") not in sq._late_from


def test_recheck_is_the_slowest_cadence() -> None:
    sq = StreamingQc(None, config_from([]), stations={}, device_sites={})
    assert sq.recheck_s() == 24 * HOUR
    sq = StreamingQc(None, config_from([]), stations={}, device_sites={}, check_every_s={"hour": 0, "min": 0},
                     slow_every_s={"hour": 6 * HOUR}, daily_every_s={})
    assert sq.recheck_s() == 6 * HOUR


@pytest.mark.parametrize("lag", [True, False])
def test_live_qc_keeps_an_alarm_open_between_two_runs_of_a_daily_detector(store, toys, lag: bool) -> None:
    """A daily analysis re-finds a continuing condition only a day of data later; auto-resolve (quiet
    for 6 h) must not close its alarm in between, or one episode becomes a new alarm every day."""
    from tianlan.alarms.service import AlarmService
    from tianlan.model.registry import Device, Registry, Site
    from tianlan.qc.live import LiveQc
    from tianlan.store.alarms_repo import AlarmsRepo
    from tianlan.store.registry_repo import RegistryRepo

    RegistryRepo(store).import_registry(Registry(sites=[Site("S0", "S0", "air", "130100", 114.5, 38.05)],
                                                 devices=[Device("MN0", "pw123456", "air", site="S0", parameters=[PM25])]))
    (dev,) = [r.id for r in RegistryRepo(store).device_rows()]
    cfg = config_from([{"id": "ZQ-FLAT", "params": {"min_len": 4}}], registry=toys)
    sq = StreamingQc(store, cfg, slow={"ZQ-FLAT"}, daily={"ZQ-FLAT"})
    if not lag:  # as before: quiet counted from the latest data checked
        sq.recheck_s = lambda: 0  # type: ignore[method-assign]
    now = [0.0]
    live = LiveQc(store, stream=sq, service=AlarmService(store, clock=lambda: now[0]), resolve_every_s=1.0,
                  clock=lambda: now[0]).start()
    try:
        for h in range(100):
            t = T0 + h * HOUR
            now[0] = t + HOUR + 60.0
            v = 33.0 if h >= 20 else 20.0 + h % 5  # flat from hour 20 on
            live.listener([IngestItem(b"", now[0], "test", status=ACCEPTED, device_id=dev,
                                      obs=[(t, PM25, "hour", v, "N", None, None, None, None, None)])])
            assert live.wait_idle(30)
    finally:
        live.stop()
    alarms = AlarmsRepo(store).list_alarms(station="S0")
    assert alarms and min(a.start_utc for a in alarms) == T0 + 20 * HOUR
    if lag:
        (alarm,) = alarms
        assert alarm.end_utc == T0 + 100 * HOUR
    else:
        assert len(alarms) >= 3  # split at each daily run


def test_month_window_start_is_the_previous_beijing_month() -> None:
    from tianlan.qc.stream import month_window_start

    assert month_window_start(beijing_to_utc(2019, 3, 15, 10)) == beijing_to_utc(2019, 2, 1)
    assert month_window_start(beijing_to_utc(2019, 3, 1, 0)) == beijing_to_utc(2019, 1, 1)  # the period before is February's
    assert month_window_start(beijing_to_utc(2019, 1, 2)) == beijing_to_utc(2018, 12, 1)


def test_the_forensic_family_streams_only_when_asked_weekly_over_two_calendar_months() -> None:
    seen: list[tuple[int, int]] = []

    def month_toy(series: Series, ctx: Context) -> list[Finding]:
        seen.append((int(series.times[0]), int(series.times[-1])))
        return []

    REGISTRY.pop("ZQ-MONTH", None)
    detector("ZQ-MONTH", name="toy forensic", family="for")(month_toy)
    try:
        cfg = config_from([{"id": "ZQ-MONTH"}], registry={"ZQ-MONTH": REGISTRY["ZQ-MONTH"]})
        t0 = beijing_to_utc(2019, 1, 1)
        kw = {"stations": {"A": StationMeta("A", "石家庄", 114.5, 38.0)}, "device_sites": {1: ("A", "air")}}
        for forensic in (None, {"hour": 7 * 86400}):
            seen.clear()
            sq = StreamingQc(None, cfg, forensic_every_s=forensic, **kw)  # type: ignore[arg-type]
            for h in range(24 * 70):  # 1 January – 11 March
                sq.on_committed([IngestItem(b"", t0 + (h + 1) * HOUR + 60.0, "t", status=ACCEPTED, device_id=1,
                                            obs=[(t0 + h * HOUR, PM25, "hour", 40.0 + h % 7, "N", None, None, None, None,
                                                  None)])])
            if forensic is None:
                assert seen == []  # batch scans run the forensic family
                continue
            assert 9 <= len(seen) <= 11  # weekly over 70 days
            starts = {a for a, _ in seen}
            # each run sees the previous and the current calendar month (from the data's start)
            assert starts <= {t0, beijing_to_utc(2019, 2, 1)} and beijing_to_utc(2019, 2, 1) in starts
            assert max(b for _, b in seen) >= beijing_to_utc(2019, 3, 4)
            assert sq._history["hour"] == 62 * 86400
    finally:
        REGISTRY.pop("ZQ-MONTH", None)
