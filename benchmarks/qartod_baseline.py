"""The ioos_qc QARTOD baseline of the detection benchmark: four single-series tests, as alarms.

Tests (``ioos_qc.qartod``, ioos_qc 3.x, reference ``qc_fraud.md`` §B.1): ``gross_range_test``,
``spike_test`` (method "average"), ``rate_of_change_test`` and ``flat_line_test``, on every
monitored parameter of every station, each series on its own.

Configuration ("sensible", and generous to the baseline — it is calibrated on the very data it
is then scored on, as ``ioos_qc.config_creator`` derives thresholds from climatology):

* gross range: FAIL outside the analyser's range (:data:`FAIL_SPANS`, the clamps of
  :mod:`tianlan.sim.profiles`), SUSPECT outside the 0.01–99.99 % percentiles of the clean series
  of that parameter over all stations;
* spike: SUSPECT above the 99.9th percentile of |x(n) − (x(n−1) + x(n+1))/2| on the clean data,
  FAIL above twice that;
* rate of change: SUSPECT above the 99.9th percentile of |Δx| per hour on the clean data;
* flat line: range below half the published resolution for ≥ :data:`FLAT_HOURS` (PM, CEMS 6 h;
  gases and water 12 h) SUSPECT, twice as long FAIL (catalogue TMP-03 defaults).

Alarms: per station and parameter, the hours flagged SUSPECT or FAIL by any test, runs joined
across gaps of up to ``merge_gap_h`` hours, form one alarm; its level is 3 if any hour FAILed,
else 2 — a platform running only QARTOD alarms on every flag, so every baseline alarm counts at
level ≥ 2. Missing values (flag 9) raise nothing.

**Matched alarm budget.** The settings above raise about ten alarms per station-month on clean
data, so QARTOD "detects" whatever overlaps that many alarms. To compare detectors at one false-
alarm rate, :func:`match_budget` turns ONE strictness knob (:class:`Strictness`, the fixed grid
:data:`STRICTNESS_GRID`) that tightens all four tests together — the spike and rate-of-change
quantile, the gross-range suspect percentiles and the flat-line hours — and keeps the least strict
grid point whose clean-data alarm rate (alarms per station-month) is within a budget. Level 0 is
the generous configuration above.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

try:
    from ioos_qc import qartod

    IOOS_QC_VERSION: str | None = __import__("ioos_qc").__version__
except ImportError:  # the benchmark says so in its table title
    qartod = None
    IOOS_QC_VERSION = None

SUSPECT, FAIL = 3, 4
#: Analyser ranges (FAIL outside), by parameter name or HJ 212 code.
FAIL_SPANS: dict[str, tuple[float, float]] = {
    "PM2.5": (0.0, 1500.0), "PM10": (0.0, 3000.0), "SO2": (0.0, 1500.0), "NO2": (0.0, 600.0), "CO": (0.0, 30.0),
    "O3": (0.0, 600.0),
    "a21026": (0.0, 5000.0), "a21002": (0.0, 5000.0), "a34013": (0.0, 1000.0), "a19001": (0.0, 21.0),
    "a01012": (-20.0, 300.0), "a01013": (-10.0, 10.0), "a01014": (0.0, 40.0), "a01011": (0.0, 40.0),
    "a00000": (0.0, 5000.0),
    "w01001": (4.0, 11.0), "w01009": (0.0, 20.0), "w01010": (0.0, 38.0), "w01014": (10.0, 5000.0),
    "w01019": (0.3, 40.0), "w21003": (0.01, 20.0), "w21011": (0.005, 5.0), "w21001": (0.05, 30.0),
    "w01003": (0.1, 2000.0),
}
#: Flat-line SUSPECT duration in hours (FAIL: twice as long).
FLAT_HOURS: dict[str, float] = {"PM2.5": 6, "PM10": 6, "SO2": 12, "NO2": 12, "CO": 12, "O3": 12}
FLAT_DEFAULT_H = {"air": 12.0, "cems": 6.0, "water": 12.0}


@dataclass(frozen=True)
class QartodConfig:
    """The four tests' settings for one parameter (thresholds in the parameter's unit; rate per s)."""

    fail_span: tuple[float, float]
    suspect_span: tuple[float, float]
    spike_suspect: float
    spike_fail: float
    roc_per_s: float
    flat_suspect_s: int
    flat_fail_s: int
    flat_tolerance: float

    def as_ioos(self) -> dict[str, dict[str, object]]:
        """The ``qartod`` section of an ioos_qc stream config for this parameter."""
        return {
            "gross_range_test": {"fail_span": list(self.fail_span), "suspect_span": list(self.suspect_span)},
            "spike_test": {"suspect_threshold": self.spike_suspect, "fail_threshold": self.spike_fail,
                           "method": "average"},
            "rate_of_change_test": {"threshold": self.roc_per_s},
            "flat_line_test": {"suspect_threshold": self.flat_suspect_s, "fail_threshold": self.flat_fail_s,
                               "tolerance": self.flat_tolerance},
        }


@dataclass(frozen=True)
class BaselineAlarm:
    station: str
    parameter: str
    start_utc: int
    end_utc: int
    level: int
    detector: str


def _resolution(v: np.ndarray) -> float:
    v = v[np.isfinite(v)][:20000]
    for d in range(5):
        if not v.size or np.all(np.abs(v * 10**d - np.round(v * 10**d)) < 1e-6):
            return 10.0**-d
    return 1e-5


@dataclass(frozen=True)
class Strictness:
    """One point of the strictness knob: how far into the clean data's tails the tests look.

    ``tail``: spike and rate-of-change SUSPECT above the (1 − tail) quantile of the clean statistic
    (FAIL: twice that); ``span_tail``: gross-range SUSPECT outside the span_tail and 1 − span_tail
    quantiles of the clean values; ``flat_factor``: the flat-line SUSPECT and FAIL durations
    (:data:`FLAT_HOURS`) times this. A tail of 0 is the clean maximum (the test then flags no clean
    value: the thresholds are strict inequalities)."""

    level: float  # a grid index; a point between two grid points (:func:`between`) has a fraction
    tail: float
    span_tail: float
    flat_factor: float

    def label(self) -> str:
        q = f"q {1 - self.tail:.6g}" if self.tail else "above the clean maximum"
        span = (f"{100 * self.span_tail:.5g}–{100 * (1 - self.span_tail):.7g} %" if self.span_tail
                else "the clean minimum–maximum")
        return f"level {self.level:g}: spike/rate-of-change {q}, suspect span {span}, flat-line hours × {self.flat_factor:g}"


#: The knob's grid, least strict first (level 0 = the generous default of :func:`calibrate`): the
#: tails shrink by √10 a step with the flat-line durations growing from 1× to 8×; from level 7 the
#: tails are the clean extremes (below one value in 10⁶ a quantile only interpolates between the
#: two most extreme values, so a tail step there flags each parameter's top value or nothing) and
#: the flat-line durations alone grow, to 24× (PM and CEMS 6 h → 144 h; gases and water 12 h → 288 h).
STRICTNESS_GRID: tuple[Strictness, ...] = (
    Strictness(0, 1e-3, 1e-4, 1.0),
    Strictness(1, 3e-4, 3e-5, 1.5),
    Strictness(2, 1e-4, 1e-5, 2.0),
    Strictness(3, 3e-5, 3e-6, 3.0),
    Strictness(4, 1e-5, 1e-6, 4.0),
    Strictness(5, 3e-6, 3e-7, 6.0),
    Strictness(6, 1e-6, 1e-7, 8.0),
    Strictness(7, 0.0, 0.0, 8.0),
    Strictness(8, 0.0, 0.0, 12.0),
    Strictness(9, 0.0, 0.0, 24.0),
)
DEFAULT_STRICTNESS = STRICTNESS_GRID[0]


def between(a: Strictness, b: Strictness, f: float) -> Strictness:
    """The knob a fraction ``f`` of the way from ``a`` to ``b``: tails geometrically (the grid steps
    them by a factor), flat-line factor linearly; a zero tail (the clean extreme) is approached from
    the other point's tail divided by √10 per remaining step, as the grid would."""
    def geo(x: float, y: float) -> float:
        if x <= 0 and y <= 0:
            return 0.0
        if x <= 0 or y <= 0:  # one end is "the clean maximum": no finite geometric mean
            return (x or y) * (10 ** -0.5) ** f if y <= 0 else y * (10 ** -0.5) ** (1 - f)
        return float(np.exp((1 - f) * np.log(x) + f * np.log(y)))
    return Strictness(round(a.level + f * (b.level - a.level), 4), geo(a.tail, b.tail), geo(a.span_tail, b.span_tail),
                      (1 - f) * a.flat_factor + f * b.flat_factor)


def calibrate(frame: pl.DataFrame, columns: Iterable[str], kind: str,
              strictness: Strictness = DEFAULT_STRICTNESS) -> dict[str, QartodConfig]:
    """QARTOD settings per column from a clean frame (station, time_utc, values on a complete
    hourly grid), as the module docstring describes, at one point of the strictness knob."""
    s = strictness
    out: dict[str, QartodConfig] = {}
    frame = frame.sort("station", "time_utc")
    stations = frame.get_column("station").to_numpy()
    breaks = np.r_[True, stations[1:] != stations[:-1]]
    for col in columns:
        v = frame.get_column(col).cast(pl.Float64).fill_null(np.nan).to_numpy()
        ok = v[np.isfinite(v)]
        if ok.size < 10:
            continue
        d = np.abs(np.diff(v))
        d[breaks[1:]] = np.nan
        mid = (v[:-2] + v[2:]) / 2.0
        sp = np.abs(v[1:-1] - mid)
        sp[breaks[1:-1] | breaks[2:]] = np.nan
        spike = float(np.nanquantile(sp, 1.0 - s.tail))
        roc = float(np.nanquantile(d, 1.0 - s.tail))
        res = _resolution(v)
        lo, hi = (float(x) for x in np.quantile(ok, [s.span_tail, 1.0 - s.span_tail]))
        flat_h = FLAT_HOURS.get(col, FLAT_DEFAULT_H.get(kind, 12.0)) * s.flat_factor
        fail = FAIL_SPANS.get(col, (float(ok.min()) - abs(float(ok.min())), 10.0 * float(ok.max())))
        out[col] = QartodConfig(
            fail_span=fail, suspect_span=(max(lo, fail[0]), min(hi, fail[1])),  # ioos_qc: suspect ⊆ fail
            spike_suspect=max(spike, res), spike_fail=2.0 * max(spike, res),
            roc_per_s=max(roc, res) / 3600.0, flat_suspect_s=int(flat_h * 3600), flat_fail_s=int(2 * flat_h * 3600),
            flat_tolerance=res / 2.0)
    return out


def flags(values: np.ndarray, times_utc: np.ndarray, cfg: QartodConfig) -> dict[str, np.ndarray]:
    """The four tests' flags (1 good, 2 not evaluated, 3 suspect, 4 fail, 9 missing) per value."""
    if qartod is None:
        raise RuntimeError("ioos_qc is not installed (.venv/bin/pip install ioos_qc)")
    t = np.asarray(times_utc, dtype=np.int64).astype("datetime64[s]")
    out = {
        "gross_range": qartod.gross_range_test(values, fail_span=cfg.fail_span, suspect_span=cfg.suspect_span),
        "spike": qartod.spike_test(values, suspect_threshold=cfg.spike_suspect, fail_threshold=cfg.spike_fail,
                                   method="average"),
        "rate_of_change": qartod.rate_of_change_test(values, t, threshold=cfg.roc_per_s),
        "flat_line": qartod.flat_line_test(values, t, suspect_threshold=cfg.flat_suspect_s,
                                           fail_threshold=cfg.flat_fail_s, tolerance=cfg.flat_tolerance),
    }
    return {k: np.ma.filled(np.ma.asarray(f), 2).astype(np.int64) for k, f in out.items()}


def alarms_for_series(station: str, parameter: str, times_utc: np.ndarray, test_flags: Mapping[str, np.ndarray], *,
                      step_s: int = 3600, merge_gap_h: int = 3) -> list[BaselineAlarm]:
    """Runs of SUSPECT/FAIL hours (any test), joined across gaps ≤ ``merge_gap_h`` h, as alarms."""
    worst = np.zeros(times_utc.size, dtype=np.int64)
    which = {k: (f == SUSPECT) | (f == FAIL) for k, f in test_flags.items()}
    for f in test_flags.values():
        worst = np.maximum(worst, np.where((f == SUSPECT) | (f == FAIL), f, 0))
    idx = np.flatnonzero(worst > 0)
    if idx.size == 0:
        return []
    t = times_utc[idx]
    cut = np.flatnonzero(np.diff(t) > (merge_gap_h + 1) * step_s) + 1
    out = []
    for a, b in zip(np.r_[0, cut], np.r_[cut, idx.size], strict=True):
        rows = idx[a:b]
        tests = sorted(k for k, m in which.items() if m[rows].any())
        out.append(BaselineAlarm(station, parameter, int(t[a]), int(t[b - 1]) + step_s,
                                 FAIL if (worst[rows] == FAIL).any() else 2, "+".join(tests)))
    return out


class QartodBaseline:
    """Runs the four tests over a station frame and turns the flags into alarms.

    Flags are cached by the bytes of each series, so that scoring an injected copy of a frame
    recomputes only the series the injections changed.
    """

    name = "ioos_qc QARTOD"

    def __init__(self, config: Mapping[str, QartodConfig], *, merge_gap_h: int = 3) -> None:
        self.config = dict(config)
        self.merge_gap_h = merge_gap_h
        self._cache: dict[tuple[str, str, bytes], list[BaselineAlarm]] = {}

    @property
    def detectors(self) -> list[str]:
        return ["gross_range_test", "spike_test", "rate_of_change_test", "flat_line_test"]

    def alarms(self, frame: pl.DataFrame) -> list[BaselineAlarm]:
        out: list[BaselineAlarm] = []
        for (station,), part in frame.sort("station", "time_utc").group_by(["station"], maintain_order=True):
            t = part.get_column("time_utc").to_numpy()
            for col, cfg in self.config.items():
                if col not in part.columns:
                    continue
                v = part.get_column(col).cast(pl.Float64).fill_null(np.nan).to_numpy()
                key = (str(station), col, hashlib.blake2b(v.tobytes() + t.tobytes(), digest_size=16).digest())
                if key not in self._cache:
                    self._cache[key] = alarms_for_series(str(station), col, t, flags(v, t, cfg),
                                                         merge_gap_h=self.merge_gap_h)
                out.extend(self._cache[key])
        return out


def station_months(frame: pl.DataFrame, *, days_per_month: float = 30.44) -> float:
    """Stations × days of the frame's span / ``days_per_month`` (the benchmark's clean-row unit)."""
    t = frame.get_column("time_utc")
    days = (int(t.max()) - int(t.min()) + 3600) / 86400  # type: ignore[arg-type]
    return frame.get_column("station").n_unique() * days / days_per_month


@dataclass
class MatchedCalibration:
    """The outcome of :func:`match_budget`: the chosen grid point, its calibrated baseline (its
    flag cache already holds the clean series) and every grid point tried with its clean rate."""

    strictness: Strictness
    rate: float  # clean-data alarms (level ≥ 2) per station-month at the chosen point
    alarms: int
    budget: float
    met: bool  # False: no grid point reaches the budget; the strictest one is kept
    baseline: QartodBaseline
    tried: list[tuple[Strictness, float]]


def match_budget(frame: pl.DataFrame, columns: Iterable[str], kind: str, budget: float, months: float, *,
                 grid: Iterable[Strictness] = STRICTNESS_GRID, merge_gap_h: int = 3,
                 min_level: int = 2, refine: int = 0) -> MatchedCalibration:
    """The least strict point of ``grid`` (least strict first) whose clean-data alarm rate — alarms
    of level ≥ ``min_level`` on ``frame`` per station-month, ``months`` station-months — is at most
    ``budget``; the strictest point (``met`` False) when none is. Calibrates on ``frame`` itself.

    ``refine``: that many bisection steps between the chosen grid point and the looser one before it
    (:func:`between`), keeping the least strict point found within the budget — the grid's steps
    are coarse (a step can move the clean rate from 0.57 to 0.11 per station-month on Hebei), and a
    baseline far below the budget would be compared at a lower false-alarm rate than Tianlan's."""
    cols = list(columns)
    tried: list[tuple[Strictness, float]] = []
    last: MatchedCalibration | None = None

    def attempt(s: Strictness) -> MatchedCalibration:
        base = QartodBaseline(calibrate(frame, cols, kind, s), merge_gap_h=merge_gap_h)
        n = sum(a.level >= min_level for a in base.alarms(frame))
        rate = n / months
        tried.append((s, rate))
        return MatchedCalibration(s, rate, n, budget, rate <= budget, base, tried)

    points = list(grid)
    for k, s in enumerate(points):
        last = attempt(s)
        if last.met:
            if k > 0 and refine > 0:
                lo, hi = 0.0, 1.0  # fractions from the looser point (over budget) to the chosen one
                for _ in range(refine):
                    mid = (lo + hi) / 2
                    m = attempt(between(points[k - 1], s, mid))
                    if m.met:
                        last, hi = m, mid
                    else:
                        lo = mid
                last.tried = tried
            break
    if last is None:
        raise ValueError("match_budget: empty grid")
    return last
