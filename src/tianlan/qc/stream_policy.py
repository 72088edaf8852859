"""What streaming QC runs, how often and over how much history (:mod:`tianlan.qc.stream`).

The cadences and horizons here are in seconds of *data* time (the periods' own timestamps), per
kind of period data (``hour``, ``min``); the measurements that chose them are in docs/qc.md
("Streaming QC"). Batch scans (``tianlan qc scan``) and the scheduled scan
(:mod:`tianlan.qc.scheduled`) run what is left out here.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from tianlan.model.timeutil import BEIJING_OFFSET_S
from tianlan.qc.core import DetectorSpec

#: Period kinds checked in streaming, with their nominal step (minute data: refined from the data).
KIND_STEP: dict[str, int] = {"hour": 3600, "min": 60}
#: Default history kept per kind, seconds.
DEFAULT_HISTORY_S: dict[str, int] = {"hour": 8 * 86400, "min": 2 * 86400}
#: Longest history a detector's parameters may ask for, per kind.
MAX_HISTORY_S: dict[str, int] = {"hour": 62 * 86400, "min": 7 * 86400}
#: Detectors that need months or years of a station's own record (climatology, seasonal bands,
#: change points, mark statistics, rolling 30-day regressions): batch scans only.
BATCH_ONLY: frozenset[str] = frozenset({"RNG-02", "TMP-04", "TMP-07", "XV-02", "SPA-03", "SPA-04", "MARK-02", "MARK-04",
                                        "CEMS-03", "CEMS-05", "CEMS-06", "CEMS-07"})
BATCH_ONLY_FAMILIES: frozenset[str] = frozenset({"for"})
#: How often a detector re-runs on a station, in seconds of *data* time, per kind: hour data every
#: 3 hours, minute data once per hour (when the station's data reach a new hour). A detector call
#: costs ~50–150 µs whatever the window (NumPy and Python overhead, measured on the Hebei network),
#: and a station-hour of six pollutants is ~140 calls: re-running every detector at every new value
#: cost 5.7 ms per hour frame. Each run sees the whole window, so nothing is missed; a finding is
#: reported at most this much data time later. Runs are staggered by station (:func:`phase`), so a
#: network's checks spread evenly over the hours instead of all falling on the same one.
CHECK_EVERY_S: dict[str, int] = {"hour": 3 * 3600, "min": 3600}
#: Window analyses that cost the most per call (measured: ~0.3–3 ms per call on the Hebei network)
#: and whose findings span hours to days: every 12 hours of hour data, every 6 hours of minute
#: data. Batch scans are unaffected.
SLOW: frozenset[str] = frozenset({"SPA-01", "XV-03", "XV-04", "TMP-05", "TMP-06", "CMP-01", "CMP-02", "CMP-04",
                                  "META-02", "MARK-01", "MARK-03", "CEMS-02", "CEMS-04", "WAT-03", "WAT-04"})
SLOW_EVERY_S: dict[str, int] = {"hour": 12 * 3600, "min": 6 * 3600}
#: Of those, the analyses over weeks of the station and its neighbours (SPA-01: 45 days of the
#: neighbours' data; XV-03: 30 days; XV-04: every pair of the station's parameters; TMP-06: 7-day
#: runs), half of the streaming time at 12 h (measured, 46 days of history): once a day of data.
DAILY: frozenset[str] = frozenset({"SPA-01", "XV-03", "XV-04", "TMP-06"})
DAILY_EVERY_S: dict[str, int] = {"hour": 24 * 3600, "min": 12 * 3600}
#: A finding that ends more than this (data time, per kind) before the data end of the run that found
#: it, less the detector's cadence, is not reported — unless data that old arrived since (a backfill,
#: a catch-up, a worker that took many hours at once). Such a finding concerns data the detector had
#: already seen and passed: it surfaces only because the window slid (statistics over a window move
#: with it — robust scales, neighbour residuals, data resolution), and it is what a batch scan of
#: the whole record mostly does not find (measured on the Hebei network, benchmarks/detection_streaming.py:
#: such late findings were most of the streaming path's extra false alarms). A condition still going
#: on, an episode recognised when it ends, a growing flat line all end near the data end and are kept.
LATE_S: dict[str, int] = {"hour": 48 * 3600, "min": 12 * 3600}
#: Opt-in (``forensic_every_s``): the forensic family (FOR-xx, tests of a station's calendar months)
#: on hour data every 7 days of data, over the previous and the current Beijing calendar month (so a
#: month is seen whole at the first run after it ends). Off by default: batch scans run them.
FORENSIC_EVERY_S: dict[str, int] = {"hour": 7 * 86400}


def streams_by_default(spec: DetectorSpec) -> bool:
    """Whether streaming QC runs ``spec`` under its defaults; the others (:data:`BATCH_ONLY`, the
    forensic family, tests over a whole window) run in batch scans — ``tianlan qc scan`` and the
    platform's scheduled scan (:mod:`tianlan.qc.scheduled`)."""
    return not (spec.id in BATCH_ONLY or spec.history_s == 0
                or (spec.family in BATCH_ONLY_FAMILIES and not spec.history_s))


def month_window_start(end: int) -> int:
    """Start (UTC s) of the Beijing calendar month before the one that holds the period ending at ``end``."""
    m = np.datetime64(int(end) - 1 + BEIJING_OFFSET_S, "s").astype("datetime64[M]") - 1
    return int(m.astype("datetime64[s]").astype(np.int64)) - BEIJING_OFFSET_S


def phase(station: str, every_s: int, step_s: int) -> int:
    """A station's fixed offset in [0, every_s), a multiple of ``step_s``, that staggers its runs."""
    slots = max(1, every_s // max(step_s, 1))
    return (zlib.crc32(station.encode("utf-8")) % slots) * step_s


def history_needed(spec: DetectorSpec, params: Mapping[str, Any], kind: str) -> int:
    """Seconds of history ``spec`` needs on ``kind`` data: its ``history_s``, else the default raised
    to cover any ``*_days``/``*_hours``/``*_h`` parameter plus one day (bounded by :data:`MAX_HISTORY_S`)."""
    if spec.history_s:
        return min(int(spec.history_s), MAX_HISTORY_S[kind])
    need = DEFAULT_HISTORY_S[kind]
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if k.endswith("_days"):
            need = max(need, int(v * 86400) + 86400)
        elif k.endswith(("_hours", "_h")):
            need = max(need, int(v * 3600) + 86400)
    return min(need, MAX_HISTORY_S[kind])
