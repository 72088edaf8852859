"""Shared helpers of the forensic detectors (FOR family, :mod:`tianlan.qc.fraud.forensic`): Beijing
calendar months and day windows, alignment of a neighbour's series, exact binomial and Poisson
tails, prefix counts and the evidence score. Registers no detector.

Times are UTC epoch seconds; months and days are Beijing calendar ones (UTC+8).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from tianlan.qc.checks._common import reporting_resolution as resolution  # noqa: F401 (re-exported)
from tianlan.qc.core import Context, Series

BEIJING_OFFSET_S = 8 * 3600

#: Pollutants the forensic tests run on when a configuration names none (HJ 212 codes): the six air
#: criteria pollutants, flue-gas SO2/NOx/NO/particulates and the water-quality pollutants. Not
#: meteorology or process signals: neighbouring stations legitimately share a weather feed, and
#: temperature or flow digits say nothing about editing.
FORENSIC_PARAMETERS: tuple[str, ...] = (
    "a34004", "a34002", "a21026", "a21004", "a21005", "a05024",
    "a21002", "a21003", "a34013",
    "w01018", "w01019", "w21003", "w21011", "w21001", "w01009",
)

#: Series parameter (HJ 212 code or CNEMC column name) → HJ 633 breakpoint column of its hourly value.
#: Hourly PM is published against the 24 h breakpoints (HJ 633-2012 published practice).

# ----------------------------------------------------------------------------------------------- helpers

def _months(times: np.ndarray) -> Iterator[tuple[str, int, int]]:
    """(``YYYY-MM``, start, end) index ranges of the Beijing calendar months of ascending ``times``."""
    if times.size == 0:
        return
    m = (times + BEIJING_OFFSET_S).astype("datetime64[s]").astype("datetime64[M]")
    cut = np.flatnonzero(m[1:] != m[:-1]) + 1
    starts = np.concatenate(([0], cut))
    ends = np.concatenate((cut, [times.size]))
    for s, e in zip(starts, ends, strict=True):
        yield str(m[s]), int(s), int(e)


def _month_bounds(label: str) -> tuple[int, int]:
    """UTC epoch seconds [start, end) of a Beijing calendar month ``YYYY-MM``."""
    m = np.datetime64(label, "M")
    return (int(m.astype("datetime64[s]").astype(np.int64)) - BEIJING_OFFSET_S,
            int((m + 1).astype("datetime64[s]").astype(np.int64)) - BEIJING_OFFSET_S)


def _aligned(times: np.ndarray, other: Series) -> np.ndarray:
    """``other``'s values at ``times`` (NaN where it has none)."""
    if other.times.size == times.size and np.array_equal(other.times, times):
        return other.values
    out = np.full(times.size, np.nan)
    if len(other) == 0:
        return out
    i = np.searchsorted(other.times, times)
    i = np.minimum(i, other.times.size - 1)
    hit = other.times[i] == times
    out[hit] = other.values[i[hit]]
    return out


def _neighbour_series(series: Series, ctx: Context) -> dict[str, Series]:
    """The neighbours' series of the same parameter, by station."""
    out = {}
    for st, by_code in ctx.neighbours.items():
        s = by_code.get(series.parameter)
        if s is not None and st != series.station and len(s):
            out[st] = s
    return out


def _binom_sf(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), exact (log-space sum)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    total = 0.0
    for j in range(k, n + 1):
        term = math.exp(math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * lp + (n - j) * lq)
        total += term
        if term < total * 1e-17:
            break
    return min(1.0, total)


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X ≤ k) for X ~ Binomial(n, p), exact (log-space sum of the lower terms)."""
    if k >= n:
        return 1.0
    if p <= 0:
        return 1.0
    if p >= 1:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    return min(1.0, sum(math.exp(math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * lp + (n - j) * lq)
                        for j in range(k + 1)))


def _index_range(times: np.ndarray, t0: int, t1: int) -> tuple[int, int]:
    return int(np.searchsorted(times, t0, "left")), int(np.searchsorted(times, t1, "left"))


def _iso(t: int) -> str:
    return str(np.datetime64(int(t), "s")) + "Z"


def _score(effect: float, threshold: float) -> float:
    """Evidence score on the alarm policy's [0, 1] scale: 0.8 at the effect-size floor, 1 at 1.25 × it."""
    if threshold <= 0:
        return 1.0
    return round(min(1.0, 0.8 * effect / threshold), 4)


def _windows(times: np.ndarray, days: float) -> Iterator[tuple[int, int]]:
    """Index ranges of windows of ``days`` Beijing days, starting at midnight every ``days``/2 days."""
    if times.size == 0:
        return
    length = int(round(days * 86400))
    hop = max(86400, length // 2)
    t = int(times[0]) - (int(times[0]) + BEIJING_OFFSET_S) % 86400
    while t <= int(times[-1]):
        s, e = int(np.searchsorted(times, t, "left")), int(np.searchsorted(times, t + length, "left"))
        if e > s:
            yield s, e
        if t + length > int(times[-1]):
            break
        t += hop



def _prefix(mask: np.ndarray) -> np.ndarray:
    """Prefix counts of ``mask`` (length n + 1): the count over [s, e) is ``p[e] − p[s]``."""
    return np.concatenate(([0], np.cumsum(np.asarray(mask, dtype=np.int64))))



def _poisson_cdf(k: int, mu: float) -> float:
    """P(X ≤ k) for X ~ Poisson(mu)."""
    if mu <= 0:
        return 1.0
    return min(1.0, sum(math.exp(j * math.log(mu) - mu - math.lgamma(j + 1)) for j in range(k + 1)))



def _column_median(a: np.ndarray, n_finite: np.ndarray) -> np.ndarray:
    """Median of each column of ``a`` over its finite values (NaN where none)."""
    srt = np.sort(a, axis=0)  # NaN sort last
    k = np.maximum(n_finite, 1)
    lo = np.take_along_axis(srt, ((k - 1) // 2)[None, :], axis=0)[0]
    hi = np.take_along_axis(srt, (k // 2)[None, :], axis=0)[0]
    out: np.ndarray = np.where(n_finite > 0, (lo + hi) / 2, np.nan)
    return out


