"""The station's own co-pollutant as the hour-by-hour predictor of FOR-01's paired tail test.

PM2.5 is part of PM10, and the PM2.5/PM10 ratio at a station changes over hours to days (lower on
dusty days, higher in secondary-aerosol haze), not from one hour to the next. Clipping PM2.5 under
its limit while PM10 goes on at 150 µg/m³ makes exactly the parked hours' ratio fall. This module
predicts the parked parameter at each hour from the station's own companion series (PM10 for
PM2.5, :data:`COMPANIONS`):

    predicted(t) = base(t) · exp(m(t)),   m(t) = median ln(value ÷ base) over t ± W hours,

base = the companion, or with neighbours √(companion × the neighbours' median of the parameter),

leaving out the hour t itself and every hour whose value is above limit − h (the hours the
paired test asks about). Parking maps such hours to such hours, so the prediction of every hour is
the same with and without the parking: a parked value never predicts itself or its fellows, and
an exceedance is not explained by the exceedances around it. The residuals ln(value ÷ predicted),
taken from the hours predicted at least half the limit that have a left-out hour within ±W (they
are predicted as the tested hours are: from the shoulders of an episode, which under-predict its
peak — the empirical distribution carries that bias, so π stays calibrated), form the distribution
that :class:`~tianlan.qc.fraud.forensic_tail.NeighbourTailPrefix` turns into
π = P(value > limit | value > limit − h, predicted). Values in the series' unit (µg/m³); the grid
is the series' regular one (a missing hour is NaN).

Measured on the Hebei 2019 PM2.5 (January–June, 53 stations with neighbours): the residuals'
10–90 % spread over all hours predicted ≥ half the limit is 0.28 ln (±3 h) against 0.47 for the
neighbours' level × the station's usual ratio — but over the hours that matter, next to left-out
ones, it is 0.31–0.45, about the neighbours' (a peak's PM2.5/PM10 ratio rises above its
shoulders'). Alone, the companion model finds no more clippings than the neighbours; its use is
as the second, independent opinion of FOR-01's companion test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tianlan.qc.checks._common import canonical
from tianlan.qc.core import Context, Series
from tianlan.qc.fraud.forensic_common import _aligned

#: Parameter (HJ 212 code) → the station's own series that predicts it at the same hour: PM2.5 from
#: PM10. Not PM10 from PM2.5: dust lifts PM10 alone, and on the clean Hebei data PM10 with PM2.5 as
#: its companion raised two findings (1070A June, 1078A May) and found nothing injected.
COMPANIONS: dict[str, str] = {"a34004": "a34002"}

#: Fewest residuals of the distribution (else the model is not used).
MIN_RESIDUALS = 100


def min_local_hours(half_window: int) -> int:
    """Fewest hours in t ± W with a ratio before m(t) is estimated: W ÷ 2, at least 2."""
    return max(2, int(half_window) // 2)


def companion_series(series: Series, ctx: Context) -> tuple[str, np.ndarray] | None:
    """(companion code, its values on ``series.times``) from ``ctx.series``, or None."""
    code = COMPANIONS.get(canonical(series.parameter))
    if code is None:
        return None
    other = next((s for k, s in ctx.series.items() if canonical(k) == code and len(s)), None)
    if other is None:
        return None
    return code, _aligned(series.times, other)


def local_ratio(values: np.ndarray, companion: np.ndarray, exclude: np.ndarray, half_window: int) -> np.ndarray:
    """m(t): median ln(values ÷ companion) over the hours t − W … t + W other than t and the
    ``exclude`` hours (NaN where fewer than :func:`min_local_hours` of them have both values)."""
    n = values.size
    ok = np.isfinite(values) & np.isfinite(companion) & (values > 0) & (companion > 0) & ~exclude
    lr = np.full(n, np.nan)
    lr[ok] = np.log(values[ok] / companion[ok])
    w = int(half_window)
    pad = np.concatenate((np.full(w, np.nan), lr, np.full(w, np.nan)))
    win = sliding_window_view(pad, 2 * w + 1)
    win = np.concatenate((win[:, :w], win[:, w + 1:]), axis=1)  # leave the hour itself out
    enough = np.isfinite(win).sum(axis=1) >= min_local_hours(w)
    out = np.full(n, np.nan)
    if enough.any():
        srt = np.sort(win[enough], axis=1)  # NaN last
        k = np.isfinite(srt).sum(axis=1)
        lo = np.take_along_axis(srt, ((k - 1) // 2)[:, None], axis=1)[:, 0]
        hi = np.take_along_axis(srt, (k // 2)[:, None], axis=1)[:, 0]
        out[enough] = (lo + hi) / 2
    return out


def companion_model(values: np.ndarray, companion: np.ndarray, cut: float, h: float, *, half_window: int = 3,
                    neighbour_level: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]] | None:
    """(predicted level, sorted residuals ln(value ÷ predicted), description) of the model above at
    the limit ``cut`` with the bin just below it (cut − h, cut]; None when fewer than
    :data:`MIN_RESIDUALS` residuals are available. With ``neighbour_level`` (the neighbours' median
    of the same parameter) the base is the geometric mean √(companion × neighbours) instead of the
    companion alone: the two err apart (a local dust source lifts PM10 only, a plume passing one
    neighbour lifts that neighbour only), and on the Hebei 2019 PM2.5 the residuals' 10–90 %
    spread, over the hours predicted at least half the limit (leaving out only the bin just below),
    is 0.28 ln with the mean, 0.33 with PM10 alone, 0.47 with the neighbours' level and the
    station's usual ratio to it (±3 h)."""
    with np.errstate(invalid="ignore"):
        near = values > cut - h
    base = companion
    if neighbour_level is not None:
        with np.errstate(invalid="ignore"):
            base = np.sqrt(companion * neighbour_level)
    m = local_ratio(values, base, near, half_window)
    with np.errstate(invalid="ignore", over="ignore"):
        level = base * np.exp(m)
    ok = np.isfinite(values) & np.isfinite(level) & (values > 0) & (level > 0)
    res = np.log(values[ok] / level[ok])
    # the residuals of hours predicted like the tested ones: high, next to hours left out
    w = int(half_window)
    k = np.concatenate(([0], np.cumsum(near)))
    idx = np.arange(values.size)
    beside = (k[np.minimum(idx + w + 1, values.size)] - k[np.maximum(idx - w, 0)] - near) > 0
    high = (level[ok] >= 0.5 * cut) & beside[ok]
    resid = np.sort(res[high]) if int(high.sum()) >= MIN_RESIDUALS else np.sort(res)
    if resid.size < MIN_RESIDUALS:
        return None
    q = np.quantile(resid, [0.1, 0.5, 0.9])
    return level, resid, {
        "model": "predicted = base × exp(median ln(value ÷ base) over ±W h, leaving out the hour and the hours "
                 "above limit − h); residual ln(value ÷ predicted), empirical",
        "base": "√(companion × neighbours' median)" if neighbour_level is not None else "companion",
        "half_window_h": int(half_window), "residual_hours": int(resid.size),
        "residuals_from": ("hours predicted ≥ half the limit, next to hours left out"
                           if int(high.sum()) >= MIN_RESIDUALS else "all hours"),
        "residual_quantiles_ln": {"p10": round(float(q[0]), 4), "p50": round(float(q[1]), 4), "p90": round(float(q[2]), 4)},
    }
