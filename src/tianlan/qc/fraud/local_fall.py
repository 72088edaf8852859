"""Did the station's own PM fall abruptly? The onset test of XV-03 (qc_fraud.md §D.2(d), rule E).

XV-03 (mist signature) measures a drop of the neighbour residual ``r = ln(x + c) − median_k
ln(y_k + c)`` against its flank hours. That residual falls in two ways, of which only the first
is a sprayed, covered or blocked inlet (catalogue 4(2): "PM falls sharply while neighbours and
gases do not"):

1. the station's PM falls at once — the spray starts, the inlet is covered — while its
   neighbours' does not;
2. the station's PM drifts or holds while its neighbours' rises — a plume or a front reaching
   the other stations hours before this one (or never).

An inlet acts at once: whatever the air does, the station's own PM drops within the hour the
spray starts. The reference study's rule E (§D.2(d): "abrupt drop, Δlog < −0.3 within 4 h") asks
for that onset, and it cut the false flags of the multi-pollutant rule (D) while keeping its
recall. Here: a finding must contain an hour at which the station's own log PM (mean of ln(x + c)
of PM2.5 and PM10) lies at least ``abrupt_ln`` below its highest value of the ``lookback`` hours
before. A test on the station's own fall against its flank medians was tried first and left out:
a spray started during a pollution build-up turns the rise into a plateau, so the station's PM
does not fall against its flanks although it drops abruptly against the hour before.

Measured on the clean Hebei 2019 release (January–June, 53 stations) and the benchmark's spray
injections (seeds 2019, 7, 31 × 50): docs/qc-benchmark-log.md, "XV-03/SPA-01 background (clean alarms)".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def own_log_pm(channels: Mapping[str, Mapping[str, Any]]) -> np.ndarray:
    """Per hour, the mean over the PM codes of ``channels`` of ``ln(x + c)`` (ln units; NaN where
    no code has a value). ``channels``: per PM code, ``values`` (the station's series) and
    ``offset`` (the log offset ``c``)."""
    rows = []
    for ch in channels.values():
        v = np.asarray(ch["values"], dtype=np.float64)
        c = float(ch["offset"])
        with np.errstate(invalid="ignore", divide="ignore"):
            rows.append(np.log(np.where(v > -c, v, np.nan) + c))
    return mean_rows(rows)


def mean_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Per element, the mean of the finite values of ``rows`` (arrays of one length; NaN where none is)."""
    if not rows:
        return np.empty(0)
    m = np.vstack(rows)
    ok = np.isfinite(m)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(ok, m, 0.0).sum(axis=0) / np.maximum(n, 1), np.nan)


def onset_drops(own_log: np.ndarray, lookback: int) -> np.ndarray:
    """Per hour: its value less the highest of the ``lookback`` hours before (ln units; NaN where
    the hour or all of those hours are missing). Negative: the station fell within ``lookback`` hours."""
    n = own_log.size
    out = np.full(n, np.nan)
    if n == 0 or lookback < 1:
        return out
    pad = np.concatenate([np.full(lookback, np.nan), own_log])
    w = np.lib.stride_tricks.sliding_window_view(pad, lookback)[:n]  # row j: hours j − lookback … j − 1
    fin = np.isfinite(w)
    has = fin.any(axis=1)
    top = np.where(fin, w, -np.inf).max(axis=1)
    out[has] = own_log[has] - top[has]
    return out


def drop_start(low: np.ndarray, s: int) -> int:
    """The first hour of the drop that the run starting at ``s`` belongs to: back from ``s`` while
    the hour before is still ``low`` (XV-03: its PM z below −shallow_z)."""
    a = s
    while a > 0 and low[a - 1]:
        a -= 1
    return a


def abrupt_onset(drops: np.ndarray, low: np.ndarray, s: int, e: int, abrupt_ln: float) -> tuple[bool, float]:
    """Whether the drop holding the run [s, e) fell abruptly: some hour from the drop's start
    (:func:`drop_start` on ``low``) to ``e`` lies at least ``abrupt_ln`` below the highest of its
    look-back hours; and the deepest such fall. A drop whose first hour follows missing data (its
    onset cannot be seen) is not vetoed."""
    a = drop_start(low, s)
    d = drops[a:e]
    fin = d[np.isfinite(d)]
    deepest = float(fin.min()) if fin.size else float("nan")
    if not np.isfinite(drops[a]):
        return True, deepest
    return deepest <= -abrupt_ln, deepest
