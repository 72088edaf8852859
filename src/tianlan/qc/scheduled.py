"""Scheduled batch QC in the running platform: the detectors streaming leaves to batch scans.

Live QC (:mod:`tianlan.qc.live`) checks every committed batch with the detectors that work on a
sliding window. The others — the forensic family (FOR-01 bunching below limits, FOR-02 digits,
FOR-05 selective missingness, FOR-06 copied sequences: tests of a station's calendar months) and
:data:`~tianlan.qc.stream.BATCH_ONLY` (month-long and year-long tests) — would otherwise run only
when someone types ``tianlan qc scan``. ``tianlan serve`` runs them on a timer instead
(setting ``qc_batch_interval_s``, default every 6 hours; 0 turns it off):

- the window is the previous Beijing calendar month and the current one up to its latest
  **checkpoint** — the 11th and the 21st, 00:00 Beijing time (:func:`scan_window`, :data:`CHECKPOINT_DAYS`):
  a month is judged whole at the first run after it ends and the current month twice as it fills.
  Not up to the hour: these are statistical tests of a month, and testing a filling month every
  6 hours would look ~120 times a month and raise what one of those looks finds by chance (the
  streaming benchmark measured clean false alarms 1.26 → 1.90 per station-month that way); between
  checkpoints the data scanned are the same, so the results are too (late data aside);
- the results replace the previous run's in ``qc_results`` (same configuration hash, same window),
  exactly as a store scan does;
- they go through the alarm service like live QC's: an alarm already open for the same finding is
  extended or left unchanged, so running every 6 hours raises each finding once and notifies it once.

The scan runs in a worker thread of the server, one at a time; a run that fails is logged and the
next one tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Engine

from tianlan.model.timeutil import BEIJING_OFFSET_S
from tianlan.qc.config import QcConfig, load_config
from tianlan.qc.stream import month_window_start, streams_by_default

__all__ = ["ScheduledReport", "batch_only_config", "scan_window", "scheduled_scan", "scheduled_scans"]

log = logging.getLogger(__name__)

HOUR_S = 3600
DAY_S = 86400
#: Days into a Beijing calendar month after which its data so far are scanned (the 11th and the
#: 21st, 00:00); the whole month is scanned once it has ended.
CHECKPOINT_DAYS: tuple[int, ...] = (10, 20)


@dataclass
class ScheduledReport:
    """What one scheduled scan did: the window (UTC s, [start, end)), stations and results, alarms
    raised / extended / unchanged, and the seconds it took."""

    start_utc: int
    end_utc: int
    detectors: list[str]
    stations: int = 0
    results: int = 0
    raised: int = 0
    extended: int = 0
    unchanged: int = 0
    seconds: float = 0.0


def batch_only_config(cfg: QcConfig) -> QcConfig | None:
    """The part of ``cfg`` that streaming does not run: entries marked ``stream: false`` and entries
    of detectors that do not stream by default (:func:`~tianlan.qc.stream.streams_by_default`);
    None when there are none. Its ``alarms:`` section is ``cfg``'s."""
    entries = [e for e in cfg.entries
               if e.id in cfg.registry and (not e.stream or not streams_by_default(cfg.registry[e.id]))]
    if not entries:
        return None
    sub = QcConfig(entries, cfg.registry, origin=f"{cfg.origin or 'config'} (batch-only detectors)")
    sub.alarms = dict(cfg.alarms)
    return sub


def scan_window(now_utc: float) -> tuple[int, int]:
    """[start of the previous Beijing calendar month, the current month's latest checkpoint at or
    before ``now_utc`` — its start when none has passed), UTC s (:data:`CHECKPOINT_DAYS`)."""
    start = month_window_start(int(now_utc) + 1)  # the previous month of the month holding now
    m = np.datetime64(int(now_utc) + BEIJING_OFFSET_S, "s").astype("datetime64[M]")
    month = int(m.astype("datetime64[s]").astype(np.int64)) - BEIJING_OFFSET_S  # the month holding now
    end = month
    for d in CHECKPOINT_DAYS:
        if month + d * DAY_S <= now_utc:
            end = month + d * DAY_S
    return start, end


def scheduled_scan(engine: Engine, settings: Any = None, *, now_utc: float | None = None,
                   config: QcConfig | str | None = None) -> ScheduledReport:
    """One scheduled scan (see the module docstring): batch-only detectors of ``config`` (default
    the setting ``live_qc_config``, else the built-in configuration) over :func:`scan_window`."""
    from tianlan.alarms.policy import policy_for
    from tianlan.alarms.service import AlarmService
    from tianlan.qc.inputs import load_store
    from tianlan.qc.runner import run_batch
    from tianlan.store.qc_repo import QcRepo

    t0 = time.perf_counter()
    now = time.time() if now_utc is None else float(now_utc)
    if config is None:
        config = getattr(settings, "live_qc_config", None)
    cfg = config if isinstance(config, QcConfig) else load_config(config)
    sub = batch_only_config(cfg)
    a, b = scan_window(now)
    report = ScheduledReport(a, b, sub.detector_ids if sub is not None else [])
    if sub is None:
        return report
    ds = load_store(engine, a, b)
    for ctx in ds.contexts.values():  # detectors of stale data judge the last values' age at the window's end
        ctx.attrs = {**ctx.attrs, "now_utc": b}
    results = run_batch(ds.series, ds.contexts, sub)
    QcRepo(engine).replace(results, config_hash=sub.hash, stations=list(ds.series), start_utc=a, end_utc=b)
    rep = AlarmService.from_settings(engine, settings, policy=policy_for(sub)).raise_results(results)
    report.stations, report.results = len(ds.series), len(results)
    report.raised, report.extended, report.unchanged = len(rep.raised), len(rep.extended), rep.unchanged
    report.seconds = time.perf_counter() - t0
    return report


async def scheduled_scans(engine: Engine, settings: Any, stop: asyncio.Event, *, first_delay_s: float = 60.0,
                          clock: Callable[[], float] = time.time) -> None:
    """Run :func:`scheduled_scan` every ``settings.qc_batch_interval_s`` seconds (the first after
    ``first_delay_s``, or the interval if shorter) until ``stop`` is set; 0 or less: never.
    ``clock``: "now" of each run (UTC s)."""
    interval = float(getattr(settings, "qc_batch_interval_s", 0.0) or 0.0)
    if interval <= 0:
        return
    delay = min(first_delay_s, interval)
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
            return
        except TimeoutError:
            pass
        try:
            rep = await asyncio.to_thread(scheduled_scan, engine, settings, now_utc=clock())
            log.info("scheduled QC: %d stations, %d results, %d alarms raised, %d extended (%.1f s)",
                     rep.stations, rep.results, rep.raised, rep.extended, rep.seconds)
        except Exception:  # a failed run must not end the schedule; the next one tries again
            log.exception("scheduled QC failed")
        delay = interval
