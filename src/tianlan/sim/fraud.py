"""Fraud scenario injector: falsify station series the way 环发〔2015〕175号 describes, and say exactly how.

The input is a table of station series — a Polars frame or a mapping of NumPy arrays — with a
``station`` column, a ``time_utc`` column (UTC epoch seconds, period start) and one numeric column
per monitored parameter (NaN or null = missing); an optional ``mark`` column holds enterprise data
marks (``"maintenance"``…, null = none). Other columns pass through untouched. Rows may come in any
order and a station's hours need not be complete.

:func:`inject` applies one scenario to one station over ``[start_utc, start_utc + hours·3600)`` and
returns the falsified copy with a :class:`GroundTruth`: scenario, station, the parameters it
touched, the window, and every parameter of the scenario including those drawn at random, so the
injection can be replayed. Values change only inside the window, and only in the parameters the
ground truth names (plus ``mark``). Falsified values are rounded to the resolution the column
already has (integers for the CNEMC real-time release, one decimal for CO), so no detector can tell
an injection from the digits alone. :func:`random_injections` places ``n`` injections of each
scenario at random stations and times, deterministically by seed, never two on the same station
closer than ``min_gap_hours``.

Scenarios (reference ``qc_fraud.md`` §A.1 clause of 环发〔2015〕175号, §A.8 behaviour class):

==================  =====  ======  ================================================================
name                class  clause  what changes in the window
==================  =====  ======  ================================================================
spray               B1     4(2)    PM2.5 and PM10 × U(0.2, 0.5) (sprayed or blocked inlet); gases
                                   untouched; RH + 10–25 points where an RH column exists
selective_missing   B5     4(10)   every parameter missing at the hours the trigger (PM2.5) is at or
                                   above its window quantile (power cut when pollution is high)
flat                B4     5(5)    one parameter held at its last value (stuck or simulated)
copied              B4     5(1)    a day's values replaced by the same hours of another day of the
                                   station, or of another station
scaling             B3     4(8)    one parameter × k, k ∈ U(0.5, 0.8) (changed slope parameter)
clipping            B7     4(12)   values above limit − ε replaced by values in [limit − ε, limit)
cems_dilution       B2     4(4)    dilution air: O2 up, concentrations down, flow up; load steady
cems_lockstep       B4     4(8)    a channel becomes an affine copy of another (temperature wired in
                                   as particulate and flow, the manganese-plant case)
false_marks         B8     2022    a would-be exceedance under a false "maintenance" mark, its values
                    marking rule   kept but marked, or removed; process signals normal
water_dilution      B2     4(6)    CODMn, NH3-N, TP, TN, conductivity, turbidity mixed toward clean
                                   water; temperature decouples from the river (tank water)
==================  =====  ======  ================================================================

Column names: air frames use the CNEMC names (``PM2.5 PM10 SO2 NO2 CO O3``, optional ``RH``);
CEMS and water frames use HJ 212 codes as :mod:`tianlan.sim.profiles` and
:mod:`tianlan.sim.cems_series` write them (``a21026`` SO2, ``a19001`` O2, ``w01014`` conductivity…),
with ``load`` (% of rated load) for the unit's load.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tianlan.errors import InputError

STATION = "station"
TIME = "time_utc"
MARK = "mark"
HOUR_S = 3600
DAY_S = 86400
BEIJING_OFFSET_S = 8 * 3600
#: Mark written by :func:`false_marks` (the 2022 marking rule's equipment-maintenance mark).
MAINTENANCE = "maintenance"

AIR_POLLUTANTS = ("PM2.5", "PM10", "SO2", "NO2", "CO", "O3")
CEMS_POLLUTANTS = ("a21026", "a21002", "a34013")  # SO2, NOx, particulate (mg/m³, dry standard state)
WATER_POLLUTANTS = ("w01019", "w21003", "w21011", "w21001", "w01014")  # CODMn, NH3-N, TP, TN, conductivity
O2, FLOW, VELOCITY, FLUE_TEMP, LOAD = "a19001", "a00000", "a01011", "a01012", "load"
WATER_TEMP = "w01010"
RH_COLUMNS = ("RH", "a01002")

#: Defaults of the limit-based scenarios per kind of frame: the parameter, its limit and ε.
#: Air: PM2.5 75 µg/m³ (GB 3095-2012 grade II 24-h limit and the IAQI-100 breakpoint). CEMS:
#: the ultra-low emission limit of coal power units, SO2 35 mg/m³ at 6 % O2 (converted, 折算).
#: Water: NH3-N 1.0 mg/L (GB 3838-2002 class III).
LIMITS: dict[str, dict[str, Any]] = {
    "air": {"parameter": "PM2.5", "limit": 75.0, "epsilon": 5.0},
    "cems": {"parameter": "a21026", "limit": 35.0, "epsilon": 2.0, "o2_column": O2, "o2_ref": 6.0},
    "water": {"parameter": "w21003", "limit": 1.0, "epsilon": 0.05},
}
#: Clean (tap or purified) water that a diluted sample tends to, by HJ 212 code (mg/L, µS/cm, NTU).
CLEAN_WATER: dict[str, float] = {"w01019": 0.8, "w21003": 0.03, "w21011": 0.01, "w21001": 0.3,
                                 "w01014": 60.0, "w01003": 0.5}


@dataclass(frozen=True)
class GroundTruth:
    """What one injection did: the label a detector benchmark scores against.

    ``parameters`` are the monitored parameters whose values the injection may have changed (the
    ``mark`` column is named when marks were written); ``start_utc``/``end_utc`` the window
    [start, end), UTC epoch seconds; ``params`` every setting of the scenario, drawn or given;
    ``changed`` how many values actually changed; ``behaviour`` the §A.8 class, ``clause`` the
    article of 环发〔2015〕175号 (or the marking rule).
    """

    scenario: str
    station: str
    parameters: tuple[str, ...]
    start_utc: int
    end_utc: int
    params: dict[str, Any] = field(default_factory=dict)
    changed: int = 0
    behaviour: str = ""
    clause: str = ""

    @property
    def hours(self) -> float:
        return (self.end_utc - self.start_utc) / HOUR_S

    def overlaps(self, station: str, start_utc: int, end_utc: int) -> bool:
        """True when [start_utc, end_utc) on ``station`` overlaps this injection's window."""
        return station == self.station and start_utc < self.end_utc and end_utc > self.start_utc

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["parameters"] = list(self.parameters)
        return d


def write_ground_truth(path: str | Path, truths: Iterable[GroundTruth]) -> Path:
    """Write ground truths as JSON lines (one injection a line) and return the path."""
    p = Path(path)
    with p.open("w", encoding="utf-8") as fh:
        for g in truths:
            fh.write(json.dumps(g.to_dict(), ensure_ascii=False, default=_json_default) + "\n")
    return p


def read_ground_truth(path: str | Path) -> list[GroundTruth]:
    """Ground truths written by :func:`write_ground_truth`."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            d["parameters"] = tuple(d["parameters"])
            out.append(GroundTruth(**d))
    return out


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray | tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# --- the table the scenarios work on -------------------------------------------------------


class _Table:
    """Columns as NumPy arrays (float64, NaN = missing), rows grouped by station and sorted by time."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        if STATION not in data or TIME not in data:
            raise InputError("frame", f"needs columns {STATION!r} and {TIME!r}")
        self.station = np.asarray(data[STATION]).astype(str)
        self.time = np.asarray(data[TIME], dtype=np.int64)
        n = self.time.size
        self.values: dict[str, np.ndarray] = {}
        for name, col in data.items():
            if name in (STATION, TIME, MARK):
                continue
            arr = np.asarray(col)
            if arr.dtype.kind in "fiub" and arr.shape == (n,):
                self.values[name] = arr.astype(np.float64, copy=True)
        self.mark: np.ndarray | None = None
        if MARK in data:
            self.mark = np.asarray(data[MARK], dtype=object).copy()
        self.touched: set[str] = set()
        order = np.lexsort((self.time, self.station))
        st_sorted = self.station[order]
        cuts = np.r_[0, np.flatnonzero(st_sorted[1:] != st_sorted[:-1]) + 1, n] if n else np.array([0])
        self.rows: dict[str, np.ndarray] = {str(st_sorted[a]): order[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)}
        self.kind = frame_kind(self.values)
        self._decimals: dict[str, int] = {}

    @property
    def stations(self) -> list[str]:
        return sorted(self.rows)

    def station_rows(self, station: str) -> np.ndarray:
        try:
            return self.rows[station]
        except KeyError:
            raise InputError("station", f"{station!r} is not in the frame") from None

    def decimals(self, col: str) -> int:
        """Fraction digits the column is published with (the fewest that represent every value)."""
        if col not in self._decimals:
            v = self.values[col]
            v = v[np.isfinite(v)][:20000]
            d = 0
            while d < 4 and v.size and np.any(np.abs(v * 10**d - np.round(v * 10**d)) > 1e-6):
                d += 1
            self._decimals[col] = d
        return self._decimals[col]

    def floor(self, col: str) -> float:
        """The smallest value a falsified value may take: one resolution step if the column is
        positive throughout (an analyser's floor), else zero."""
        v = self.values[col]
        ok = v[np.isfinite(v)]
        return 10.0 ** -self.decimals(col) if ok.size and ok.min() > 0 else 0.0

    def ensure_mark(self) -> np.ndarray:
        if self.mark is None:
            self.mark = np.full(self.time.size, None, dtype=object)
        return self.mark


def frame_kind(columns: Iterable[str]) -> str:
    """``air``, ``cems`` or ``water`` from the columns a frame has (``generic`` if none fits)."""
    cols = set(columns)
    if "PM2.5" in cols or "a34004" in cols:
        return "air"
    if O2 in cols:
        return "cems"
    if "w01014" in cols or "w21003" in cols:
        return "water"
    return "generic"


def _pollutants(tab: _Table) -> list[str]:
    want = {"air": AIR_POLLUTANTS, "cems": CEMS_POLLUTANTS, "water": WATER_POLLUTANTS}.get(tab.kind)
    cols = [c for c in (want or ()) if c in tab.values]
    return cols or [c for c in tab.values if c not in (LOAD,)]


class Window:
    """One station's series and the rows of the injection window; what a scenario function edits.

    ``times`` are the station's times (ascending), ``mask`` selects the window among them. ``get``
    returns a copy of a column over the station; ``put`` writes new values at the window rows (or at
    a sub-mask of them) rounded to the column's resolution; ``changed`` counts what differs.
    """

    def __init__(self, tab: _Table, station: str, start_utc: int, end_utc: int) -> None:
        self.tab = tab
        self.station = station
        self.start_utc = int(start_utc)
        self.end_utc = int(end_utc)
        self.rows = tab.station_rows(station)
        self.times = tab.time[self.rows]
        self.mask = (self.times >= self.start_utc) & (self.times < self.end_utc)
        self.parameters: list[str] = []
        self._orig: dict[str, np.ndarray] = {}  # station values of each touched column before any write

    @property
    def changed(self) -> int:
        """Values (and marks) that differ now from before the scenario ran."""
        n = 0
        for col, old in self._orig.items():
            if col == MARK:
                assert self.tab.mark is not None
                n += int(np.sum(self.tab.mark[self.rows] != old))
            else:
                new = self.tab.values[col][self.rows]
                n += int(np.sum(~((old == new) | (np.isnan(old) & np.isnan(new)))))
        return n

    @property
    def n(self) -> int:
        return int(self.mask.sum())

    def has(self, col: str) -> bool:
        return col in self.tab.values

    def get(self, col: str) -> np.ndarray:
        if col not in self.tab.values:
            raise InputError("parameters", f"{col!r} is not a numeric column of the frame; "
                                           f"columns: {', '.join(self.tab.values)}")
        return self.tab.values[col][self.rows]

    def window(self, col: str) -> np.ndarray:
        return self.get(col)[self.mask]

    def put(self, col: str, new: np.ndarray | float, where: np.ndarray | None = None, *,
            rounding: str = "nearest") -> None:
        """Write ``new`` at the window rows (``where``: a boolean mask over the station, inside the
        window) rounded to the column's resolution (``rounding`` nearest or down), never below the
        column's floor; NaN writes a missing value."""
        sel = self.mask if where is None else (where & self.mask)
        if not sel.any():
            self._note(col)
            return
        d = self.tab.decimals(col)
        vals = np.broadcast_to(np.asarray(new, dtype=np.float64), (int(sel.sum()),)).copy()
        scale = 10.0**d
        vals = np.floor(vals * scale + 1e-9) / scale if rounding == "down" else np.round(vals, d)
        ok = np.isfinite(vals)
        vals[ok] = np.maximum(vals[ok], self.tab.floor(col))
        self._orig.setdefault(col, self.tab.values[col][self.rows].copy())
        self.tab.values[col][self.rows[sel]] = vals
        self.tab.touched.add(col)
        self._note(col)

    def put_mark(self, mark: str, where: np.ndarray | None = None) -> None:
        sel = self.mask if where is None else (where & self.mask)
        marks = self.tab.ensure_mark()
        self._orig.setdefault(MARK, marks[self.rows].copy())
        marks[self.rows[sel]] = mark
        self.tab.touched.add(MARK)
        self._note(MARK)

    def _note(self, col: str) -> None:
        if col not in self.parameters:
            self.parameters.append(col)

    def last_valid_before(self, col: str, max_lookback_s: int = DAY_S) -> float:
        v = self.get(col)
        before = np.flatnonzero((self.times < self.start_utc) & (self.times >= self.start_utc - max_lookback_s)
                                & np.isfinite(v))
        return float(v[before[-1]]) if before.size else math.nan

    def valid_share(self, col: str) -> float:
        w = self.window(col)
        return float(np.isfinite(w).mean()) if w.size else 0.0


# --- scenarios ---------------------------------------------------------------------------------


ScenarioFunc = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Scenario:
    """A registered scenario: the function, its behaviour class and clause, the kinds of frame it
    applies to, the window lengths :func:`random_injections` draws from (hours, inclusive), and an
    eligibility test for candidate windows (data present, the condition the fraud needs)."""

    name: str
    func: ScenarioFunc
    behaviour: str
    clause: str
    kinds: tuple[str, ...]
    hours: tuple[int, int]
    eligible: Callable[[Window, Mapping[str, Any]], bool] | None = None
    align_day: bool = False
    doc: str = ""


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, *, behaviour: str, clause: str, kinds: Sequence[str], hours: tuple[int, int],
             eligible: Callable[[Window, Mapping[str, Any]], bool] | None = None,
             align_day: bool = False) -> Callable[[ScenarioFunc], ScenarioFunc]:
    """Register a scenario function ``func(w: Window, rng, **params) -> params used``."""

    def wrap(func: ScenarioFunc) -> ScenarioFunc:
        SCENARIOS[name] = Scenario(name, func, behaviour, clause, tuple(kinds), hours, eligible, align_day,
                                   (func.__doc__ or "").strip())
        return func

    return wrap


def scenarios_for(kind: str) -> list[str]:
    """Names of the scenarios that apply to a frame of ``kind`` (air, cems, water)."""
    return [s.name for s in SCENARIOS.values() if kind in s.kinds]


def _pm_columns(w: Window) -> list[str]:
    return [c for c in ("PM2.5", "PM10", "a34004", "a34002") if w.has(c)]


def _spray_eligible(w: Window, params: Mapping[str, Any]) -> bool:
    pm = _pm_columns(w)
    if not pm or w.valid_share(pm[0]) < 0.75:
        return False
    first = w.window(pm[0])[:1]
    return bool(first.size and np.isfinite(first[0]) and first[0] >= params.get("min_level", 75.0))


@scenario("spray", behaviour="B1", clause="4(2)", kinds=("air",), hours=(2, 8), eligible=_spray_eligible)
def spray(w: Window, rng: np.random.Generator, *, factor: float | None = None,
          parameters: Sequence[str] | None = None, rh_rise: float | None = None, min_level: float = 75.0) -> dict:
    """Sprayed, covered or blocked inlet: PM suppressed by ``factor`` (±15 % hour to hour, the same
    for PM2.5 and PM10), gases untouched, relative humidity up by ``rh_rise`` points where the frame
    has an RH column. ``min_level``: :func:`random_injections` starts only at hours with PM2.5 at or
    above it (spraying pays when pollution is high, qc_fraud §D.2(d))."""
    cols = list(parameters) if parameters else _pm_columns(w)
    if not cols:
        raise InputError("parameters", "spray needs PM2.5/PM10 columns")
    factor = float(rng.uniform(0.2, 0.5)) if factor is None else float(factor)
    per_hour = factor * rng.uniform(0.85, 1.15, w.n)
    for c in cols:
        w.put(c, w.window(c) * per_hour)
    out: dict[str, Any] = {"factor": round(factor, 4), "parameters": cols, "min_level": min_level}
    rh = next((c for c in RH_COLUMNS if w.has(c)), None)
    if rh is not None:
        rise = float(rng.uniform(10.0, 25.0)) if rh_rise is None else float(rh_rise)
        w.put(rh, np.minimum(w.window(rh) + rise, 100.0))
        out["rh_rise"] = round(rise, 2)
    return out


def _trigger_default(w: Window) -> str:
    for c in ("PM2.5", "a34004", "a21026", "w21003"):
        if w.has(c):
            return c
    return next(iter(w.tab.values))


def _selective_eligible(w: Window, params: Mapping[str, Any]) -> bool:
    return w.valid_share(params.get("trigger") or _trigger_default(w)) >= 0.8


@scenario("selective_missing", behaviour="B5", clause="4(10)", kinds=("air", "cems", "water"), hours=(168, 720),
          eligible=_selective_eligible)
def selective_missing(w: Window, rng: np.random.Generator, *, trigger: str | None = None, quantile: float | None = None,
                      threshold: float | None = None, parameters: Sequence[str] | None = None,
                      pad_hours: int = 1) -> dict:
    """Power cuts timed to pollution: at every hour the ``trigger`` parameter is at or above
    ``threshold`` (default: its ``quantile`` within the window, drawn from U(0.6, 0.8)), and
    ``pad_hours`` either side, every parameter (or ``parameters``) goes missing."""
    trig = trigger or _trigger_default(w)
    v = w.get(trig)
    q = float(rng.uniform(0.6, 0.8)) if quantile is None else float(quantile)
    win = v[w.mask]
    thr = float(threshold) if threshold is not None else float(np.nanquantile(win, q)) if np.isfinite(win).any() else math.inf
    hit = w.mask & np.isfinite(v) & (v >= thr)
    if pad_hours > 0 and hit.any():
        t_hit = w.times[hit]
        pos = np.searchsorted(t_hit, w.times)
        near = np.zeros_like(hit)
        for k in (pos - 1, pos):
            ok = (k >= 0) & (k < t_hit.size)
            near[ok] |= np.abs(w.times[ok] - t_hit[k[ok]]) <= pad_hours * HOUR_S
        hit = near & w.mask
    cols = list(parameters) if parameters else list(w.tab.values)
    for c in cols:
        w.put(c, math.nan, hit)
    return {"trigger": trig, "quantile": None if threshold is not None else round(q, 4), "threshold": thr,
            "pad_hours": pad_hours, "parameters": cols, "missing_hours": int(hit.sum())}


def _has_data(w: Window, params: Mapping[str, Any]) -> bool:
    cols = params.get("parameters") or _pollutants(w.tab)[:1]
    return all(w.valid_share(c) >= 0.75 for c in cols)


@scenario("flat", behaviour="B4", clause="5(5)", kinds=("air", "cems", "water"), hours=(12, 48), eligible=_has_data)
def flat(w: Window, rng: np.random.Generator, *, parameters: Sequence[str] | None = None,
         value: float | None = None) -> dict:
    """Stuck or simulated value: one parameter (drawn among the pollutants unless ``parameters``)
    held at ``value`` (default its last value in the 24 h before the window, else the window's
    median) at every hour of the window, missing hours included."""
    cols = list(parameters) if parameters else [str(rng.choice(_pollutants(w.tab)))]
    held: dict[str, float] = {}
    for c in cols:
        val = value if value is not None else w.last_valid_before(c)
        if not np.isfinite(val):
            val = float(np.nanmedian(w.window(c))) if np.isfinite(w.window(c)).any() else 0.0
        w.put(c, val)
        held[c] = float(np.round(val, w.tab.decimals(c)))
    return {"parameters": cols, "value": held}


def _lookup(tab: _Table, station: str, times: np.ndarray, col: str) -> tuple[np.ndarray, np.ndarray]:
    """(found, values) of ``col`` at ``station`` for each of ``times`` (NaN where not found)."""
    rows = tab.station_rows(station)
    t = tab.time[rows]
    if t.size == 0:
        return np.zeros(times.size, bool), np.full(times.size, math.nan)
    pos = np.clip(np.searchsorted(t, times), 0, t.size - 1)
    found = t[pos] == times
    return found, np.where(found, tab.values[col][rows][pos], math.nan)


def _copy_source(w: Window, rng: np.random.Generator, mode: str, source_station: str | None,
                 days_back: int | None, cols: Sequence[str]) -> tuple[str, int]:
    """Pick the source (station, offset in s) with ≥ 80 % of the window present, else the best."""
    t_win = w.times[w.mask]

    def coverage(station: str, offset: int) -> float:
        found, values = _lookup(w.tab, station, t_win - offset, cols[0])
        return float(np.mean(found & np.isfinite(values))) if t_win.size else 0.0

    if mode == "day":
        options = [days_back] if days_back else list(rng.permutation(np.arange(1, 15)))
        cands = [(w.station, int(d) * DAY_S) for d in options]
    else:
        others = [s for s in w.tab.stations if s != w.station]
        if source_station:
            others = [source_station]
        if not others:
            raise InputError("source_station", "copying from another station needs a second station")
        cands = [(str(s), 0) for s in rng.permutation(others)]
    best, best_cov = cands[0], -1.0
    for c in cands:
        cov = coverage(*c)
        if cov >= 0.8:
            return c
        if cov > best_cov:
            best, best_cov = c, cov
    return best


@scenario("copied", behaviour="B4", clause="5(1)", kinds=("air", "cems", "water"), hours=(24, 24),
          eligible=_has_data, align_day=True)
def copied(w: Window, rng: np.random.Generator, *, mode: str | None = None, source_station: str | None = None,
           days_back: int | None = None, parameters: Sequence[str] | None = None) -> dict:
    """Copied series: every pollutant (or ``parameters``) over the window replaced by the same hours
    ``days_back`` days earlier at the same station (``mode="day"``, 1–14 days) or by the same hours
    at ``source_station`` (``mode="station"``); hours the source lacks become missing. The source is
    chosen among those with at least 80 % of the hours present."""
    mode = mode or str(rng.choice(["day", "station"]))
    if mode not in ("day", "station"):
        raise InputError("mode", f"{mode!r}: day or station")
    cols = list(parameters) if parameters else _pollutants(w.tab)
    src, offset = _copy_source(w, rng, mode, source_station, days_back, cols)
    t_src = w.times[w.mask] - offset
    for c in cols:
        found, values = _lookup(w.tab, src, t_src, c)
        w.put(c, np.where(found, values, math.nan))
    return {"mode": mode, "source_station": src, "source_start_utc": int(w.start_utc - offset),
            "days_back": offset // DAY_S if mode == "day" else 0, "parameters": cols}


@scenario("scaling", behaviour="B3", clause="4(8)", kinds=("air", "cems", "water"), hours=(168, 720), eligible=_has_data)
def scaling(w: Window, rng: np.random.Generator, *, factor: float | None = None, offset: float = 0.0,
            parameters: Sequence[str] | None = None) -> dict:
    """Changed instrument parameter (slope, intercept): values × ``factor`` + ``offset`` from the
    window's start on. ``factor`` defaults to U(0.5, 0.8); the parameter to one drawn among those an
    assessment turns on (PM2.5/PM10; the pollutants of a CEMS; CODMn/NH3-N). A persistent change:
    pass ``hours`` long enough to reach the end of the data."""
    if parameters:
        cols = list(parameters)
    else:
        pick = {"air": ["PM2.5", "PM10"], "cems": list(CEMS_POLLUTANTS), "water": ["w01019", "w21003"]}.get(w.tab.kind)
        cols = [str(rng.choice([c for c in (pick or _pollutants(w.tab)) if w.has(c)]))]
    k = float(rng.uniform(0.5, 0.8)) if factor is None else float(factor)
    for c in cols:
        w.put(c, w.window(c) * k + offset)
    return {"factor": round(k, 4), "offset": offset, "parameters": cols}


def _limit_params(w: Window, params: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(LIMITS.get(w.tab.kind, {}))
    out.update({k: v for k, v in params.items() if v is not None})
    if "parameter" not in out or "limit" not in out:
        raise InputError("limit", f"a frame of kind {w.tab.kind!r} needs parameter= and limit=")
    out.setdefault("epsilon", 0.05 * float(out["limit"]))
    return out


def _converted(w: Window, col: str, o2_column: str | None, o2_ref: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(values as compared with the limit, factor that turns them back into the column's values)."""
    v = w.get(col)
    if o2_column and o2_ref is not None:
        o2 = np.minimum(w.get(o2_column), 20.5)
        f = (21.0 - o2_ref) / (21.0 - o2)
        return v * f, 1.0 / f
    return v, np.ones_like(v)


def _clipping_eligible(w: Window, params: Mapping[str, Any]) -> bool:
    p = _limit_params(w, params)
    if w.valid_share(p["parameter"]) < 0.75:
        return False
    conv, _ = _converted(w, p["parameter"], p.get("o2_column"), p.get("o2_ref"))
    return int(np.sum(conv[w.mask] >= p["limit"])) >= 3


@scenario("clipping", behaviour="B7", clause="4(12)", kinds=("air", "cems", "water"), hours=(72, 240),
          eligible=_clipping_eligible)
def clipping(w: Window, rng: np.random.Generator, *, parameter: str | None = None, limit: float | None = None,
             epsilon: float | None = None, o2_column: str | None = None, o2_ref: float | None = None) -> dict:
    """Values parked just under a limit: every value of ``parameter`` at or above ``limit −
    epsilon`` becomes U(limit − epsilon, limit), rounded down so it stays below the limit. For CEMS
    the comparison is on the converted (折算) value at ``o2_ref`` using ``o2_column``, and the
    written value is the measured one that converts to the parked value. Defaults: :data:`LIMITS`.
    :func:`random_injections` picks windows with at least three would-be exceedances."""
    p = _limit_params(w, {"parameter": parameter, "limit": limit, "epsilon": epsilon, "o2_column": o2_column,
                          "o2_ref": o2_ref})
    col, lim, eps = p["parameter"], float(p["limit"]), float(p["epsilon"])
    conv, back = _converted(w, col, p.get("o2_column"), p.get("o2_ref"))
    hit = w.mask & np.isfinite(conv) & (conv >= lim - eps)
    parked = rng.uniform(lim - eps, lim, int(hit.sum()))
    w.put(col, parked * back[hit], hit, rounding="down")
    would_exceed = int(np.sum(hit & (conv >= lim)))
    return {"parameter": col, "limit": lim, "epsilon": eps, "o2_column": p.get("o2_column"),
            "o2_ref": p.get("o2_ref"), "clipped": int(hit.sum()), "would_exceed": would_exceed}


def _cems_eligible(w: Window, params: Mapping[str, Any]) -> bool:
    return w.has(O2) and w.valid_share(O2) >= 0.75 and (not w.has(LOAD) or np.nanmin(w.window(LOAD)) > 30.0)


@scenario("cems_dilution", behaviour="B2", clause="4(4)", kinds=("cems",), hours=(6, 48), eligible=_cems_eligible)
def cems_dilution(w: Window, rng: np.random.Generator, *, fraction: float | None = None,
                  pollutants: Sequence[str] | None = None) -> dict:
    """Dilution air let into the flue ahead of the probe: with ``fraction`` f of the sampled gas
    being ambient air (default U(0.2, 0.45)), O2 → O2 + f·(20.9 − O2), concentrations × (1 − f),
    flow and velocity ÷ (1 − f); load and flue temperature stay as the process runs."""
    f = float(rng.uniform(0.2, 0.45)) if fraction is None else float(fraction)
    if not 0.0 < f < 1.0:
        raise InputError("fraction", f"{f}: must be in (0, 1)")
    o2 = w.window(O2)
    w.put(O2, o2 + f * (20.9 - o2))
    for c in (list(pollutants) if pollutants else [c for c in CEMS_POLLUTANTS if w.has(c)]):
        w.put(c, w.window(c) * (1.0 - f))
    for c in (FLOW, VELOCITY):
        if w.has(c):
            w.put(c, w.window(c) / (1.0 - f))
    return {"fraction": round(f, 4), "o2_rise_mean": round(float(np.nanmean(f * (20.9 - o2))), 3)}


@scenario("cems_lockstep", behaviour="B4", clause="4(8)", kinds=("cems",), hours=(24, 168), eligible=_cems_eligible)
def cems_lockstep(w: Window, rng: np.random.Generator, *, source: str = FLUE_TEMP,
                  targets: Sequence[str] | None = None) -> dict:
    """Signal substitution: each of ``targets`` becomes ``a + b·source`` over the window, with a and
    b chosen so its mean and spread stay as they were (default: flue temperature wired in as one or
    two of particulate, flow and SO2 — the manganese-plant case, qc_fraud §A.7)."""
    if targets:
        tcols = list(targets)
    else:
        pool = [c for c in ("a34013", FLOW, "a21026") if w.has(c) and c != source]
        tcols = [str(c) for c in rng.choice(pool, size=int(rng.integers(1, min(2, len(pool)) + 1)), replace=False)]
    s = w.window(source)
    s_sd = float(np.nanstd(s)) or 1.0
    coef: dict[str, list[float]] = {}
    for c in tcols:
        t = w.window(c)
        b = (float(np.nanstd(t)) or 1.0) / s_sd
        a = float(np.nanmean(t)) - b * float(np.nanmean(s))
        w.put(c, a + b * s)
        coef[c] = [round(a, 6), round(b, 6)]
    return {"source": source, "targets": tcols, "affine": coef}


def _marks_eligible(w: Window, params: Mapping[str, Any]) -> bool:
    p = _limit_params(w, params)
    return w.valid_share(p["parameter"]) >= 0.9 and (not w.has(LOAD) or np.nanmin(w.window(LOAD)) > 30.0)


@scenario("false_marks", behaviour="B8", clause="marking rule 2022", kinds=("cems",), hours=(4, 12),
          eligible=_marks_eligible)
def false_marks(w: Window, rng: np.random.Generator, *, parameter: str | None = None, limit: float | None = None,
                excess: float | None = None, pad_hours: int | None = None, hide: str | None = None,
                mark: str = MAINTENANCE, o2_column: str | None = None, o2_ref: float | None = None) -> dict:
    """A false maintenance mark over a would-be exceedance: ``parameter`` rises to ``excess`` ×
    ``limit`` (converted, default U(1.3, 2.5)) in the window less ``pad_hours`` (1–2) at each end,
    while load, O2, flow and temperature show normal operation; the whole window is marked ``mark``.
    ``hide="mark"`` keeps the high values under the mark (they no longer count as exceedances),
    ``hide="missing"`` also removes them; drawn at random by default."""
    p = _limit_params(w, {"parameter": parameter, "limit": limit, "o2_column": o2_column, "o2_ref": o2_ref})
    col, lim = p["parameter"], float(p["limit"])
    pad = int(rng.integers(1, 3)) if pad_hours is None else int(pad_hours)
    hide = hide or str(rng.choice(["mark", "missing"]))
    if hide not in ("mark", "missing"):
        raise InputError("hide", f"{hide!r}: mark or missing")
    x = float(rng.uniform(1.3, 2.5)) if excess is None else float(excess)
    core = w.mask & (w.times >= w.start_utc + pad * HOUR_S) & (w.times < w.end_utc - pad * HOUR_S)
    if not core.any():
        core = w.mask
    _, back = _converted(w, col, p.get("o2_column"), p.get("o2_ref"))
    upset = lim * x * np.exp(rng.normal(0.0, 0.1, int(core.sum())))
    w.put(col, upset * back[core], core)
    w.put_mark(mark)
    if hide == "missing":
        w.put(col, math.nan)
    return {"parameter": col, "limit": lim, "excess": round(x, 4), "pad_hours": pad, "hide": hide, "mark": mark,
            "would_be_max": round(float(upset.max()), 3)}


def _water_eligible(w: Window, params: Mapping[str, Any]) -> bool:
    return w.has("w01014") and w.valid_share("w01014") >= 0.75


@scenario("water_dilution", behaviour="B2", clause="4(6)", kinds=("water",), hours=(12, 72), eligible=_water_eligible)
def water_dilution(w: Window, rng: np.random.Generator, *, fraction: float | None = None,
                   clean: Mapping[str, float] | None = None, temperature: float | None = None) -> dict:
    """Sample diluted with clean water (the Shanghai 2022 tap-water case): each parameter of
    ``clean`` (default :data:`CLEAN_WATER`) → (1 − f)·value + f·clean with f = ``fraction``
    (default U(0.5, 0.9)); water temperature → (1 − f)·river + f·tank, the tank at ``temperature``
    (default U(14, 20) °C, ±0.1 °C), so it no longer follows the river's daily cycle."""
    f = float(rng.uniform(0.5, 0.9)) if fraction is None else float(fraction)
    ref = dict(CLEAN_WATER if clean is None else clean)
    for c, v_clean in ref.items():
        if w.has(c):
            w.put(c, (1.0 - f) * w.window(c) + f * v_clean)
    tank = float(rng.uniform(14.0, 20.0)) if temperature is None else float(temperature)
    if w.has(WATER_TEMP):
        w.put(WATER_TEMP, (1.0 - f) * w.window(WATER_TEMP) + f * (tank + rng.normal(0.0, 0.1, w.n)))
    return {"fraction": round(f, 4), "clean": ref, "tank_temperature": round(tank, 2)}


# --- entry points -----------------------------------------------------------------------------


def _as_table(frame: pl.DataFrame | Mapping[str, Any]) -> _Table:
    if isinstance(frame, pl.DataFrame):
        data: dict[str, Any] = {}
        for name, dtype in frame.schema.items():
            s = frame.get_column(name)
            if name == MARK:
                data[name] = np.array(s.to_list(), dtype=object)
            elif name == STATION:
                data[name] = s.cast(pl.String).to_numpy()
            elif dtype.is_numeric():
                data[name] = s.cast(pl.Float64).to_numpy() if name != TIME else s.cast(pl.Int64).to_numpy()
        return _Table(data)
    return _Table(frame)


def _write_back(frame: pl.DataFrame | Mapping[str, Any], tab: _Table) -> pl.DataFrame | dict[str, Any]:
    if isinstance(frame, pl.DataFrame):
        cols = [pl.Series(c, tab.values[c]).fill_nan(None) for c in sorted(tab.touched - {MARK})]
        if MARK in tab.touched and tab.mark is not None:
            cols.append(pl.Series(MARK, list(tab.mark), dtype=pl.String))
        return frame.with_columns(cols) if cols else frame
    out = dict(frame)
    for c in tab.touched - {MARK}:
        out[c] = tab.values[c]
    if MARK in tab.touched:
        out[MARK] = tab.mark
    return out


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _apply(tab: _Table, name: str, station: str, start_utc: int, hours: float, rng: np.random.Generator,
           params: Mapping[str, Any]) -> GroundTruth:
    spec = SCENARIOS.get(name)
    if spec is None:
        raise InputError("scenario", f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    if hours <= 0:
        raise InputError("hours", f"{hours}: must be positive")
    end = int(start_utc + round(hours * HOUR_S))
    w = Window(tab, station, int(start_utc), end)
    try:
        used = spec.func(w, rng, **params)
    except TypeError as e:
        raise InputError("params", f"{name}: {e}") from None
    return GroundTruth(name, station, tuple(w.parameters), int(start_utc), end, used, w.changed, spec.behaviour, spec.clause)


def inject(frame: pl.DataFrame | Mapping[str, Any], scenario: str, *, station: str, start_utc: int, hours: float,
           rng: np.random.Generator | int | None = None, **params: Any) -> tuple[pl.DataFrame | dict[str, Any], GroundTruth]:
    """Apply ``scenario`` to ``station`` over [start_utc, start_utc + hours·3600) and return the
    falsified copy of ``frame`` (same type; a Polars frame gets its touched columns as Float64, NaN
    written as null) and the :class:`GroundTruth`. Settings not given in ``params`` are drawn from
    ``rng`` (a Generator or a seed); the same seed gives the same injection."""
    tab = _as_table(frame)
    truth = _apply(tab, scenario, station, start_utc, hours, _rng(rng), params)
    return _write_back(frame, tab), truth


def random_injections(frame: pl.DataFrame | Mapping[str, Any], scenarios: Sequence[str], n_per_scenario: int,
                      seed: int, *, min_gap_hours: int = 48, overrides: Mapping[str, Mapping[str, Any]] | None = None,
                      hours: Mapping[str, tuple[int, int]] | None = None, max_tries: int = 2000,
                      strict: bool = True) -> tuple[pl.DataFrame | dict[str, Any], list[GroundTruth]]:
    """Inject ``n_per_scenario`` of each of ``scenarios`` at random stations and start hours.

    Deterministic by ``seed``. Window lengths come from each scenario's ``hours`` range, other
    settings are drawn by the scenario (``overrides``: fixed settings per scenario name, e.g.
    ``{"clipping": {"limit": 115}}``; ``hours``: other window-length ranges, e.g.
    ``{"scaling": (72, 168)}`` for short frames). A window is placed only where the scenario is eligible (data
    present, the condition it needs) and at least ``min_gap_hours`` from any other injection on the
    same station; a copy's source window is never itself injected. When a scenario cannot be placed
    ``n_per_scenario`` times in ``max_tries`` draws, raises :class:`InputError` (``strict``) or
    keeps the injections it placed.
    """
    tab = _as_table(frame)
    rng = np.random.default_rng(seed)
    stations = tab.stations
    taken: dict[str, list[tuple[int, int]]] = {s: [] for s in stations}
    gap = min_gap_hours * HOUR_S
    truths: list[GroundTruth] = []

    def free(station: str, start: int, end: int) -> bool:
        return all(end + gap <= s or start >= e + gap for s, e in taken[station])

    for name in scenarios:
        spec = SCENARIOS.get(name)
        if spec is None:
            raise InputError("scenario", f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
        if tab.kind not in spec.kinds and tab.kind != "generic":
            raise InputError("scenario", f"{name} does not apply to a frame of kind {tab.kind!r}")
        params = dict((overrides or {}).get(name, {}))
        placed = 0
        for _ in range(max_tries):
            if placed == n_per_scenario:
                break
            station = stations[int(rng.integers(len(stations)))]
            t = tab.time[tab.rows[station]]
            lo, hi = (hours or {}).get(name, spec.hours)
            n_hours = int(rng.integers(lo, hi + 1))
            span = n_hours * HOUR_S
            if t.size == 0 or t[-1] + HOUR_S - t[0] < span:
                continue
            start = int(t[int(rng.integers(t.size))])
            if spec.align_day:
                start -= (start + BEIJING_OFFSET_S) % DAY_S
            if start < t[0] or start + span > t[-1] + HOUR_S or not free(station, start, start + span):
                continue
            w = Window(tab, station, start, start + span)
            if spec.eligible is not None and not spec.eligible(w, params):
                continue
            sub = np.random.default_rng(int(rng.integers(2**63)))
            snapshot = {c: tab.values[c][w.rows].copy() for c in tab.values}
            truth = _apply(tab, name, station, start, n_hours, sub, params)
            src = truth.params.get("source_station")
            if src is not None and truth.params.get("mode") == "station":
                s0 = int(truth.params["source_start_utc"])
                if not free(str(src), s0, s0 + span):
                    for c, v in snapshot.items():  # undo: the source is itself falsified
                        tab.values[c][w.rows] = v
                    continue
                taken[str(src)].append((s0, s0 + span))
            if truth.changed == 0:
                continue
            taken[station].append((start, start + span))
            truths.append(truth)
            placed += 1
        if placed < n_per_scenario and strict:
            raise InputError("n_per_scenario", f"placed only {placed} of {n_per_scenario} {name!r} injections "
                                               f"(too little eligible data or too many injections for the frame)")
    return _write_back(frame, tab), truths


def ground_truth_frame(truths: Sequence[GroundTruth]) -> pl.DataFrame:
    """Ground truths as a frame: scenario, station, parameters (comma-joined), start_utc, end_utc,
    hours, changed, behaviour, clause, params (JSON)."""
    return pl.DataFrame({
        "scenario": [g.scenario for g in truths],
        "station": [g.station for g in truths],
        "parameters": [",".join(g.parameters) for g in truths],
        "start_utc": pl.Series([g.start_utc for g in truths], dtype=pl.Int64),
        "end_utc": pl.Series([g.end_utc for g in truths], dtype=pl.Int64),
        "hours": pl.Series([g.hours for g in truths], dtype=pl.Float64),
        "changed": pl.Series([g.changed for g in truths], dtype=pl.Int64),
        "behaviour": [g.behaviour for g in truths],
        "clause": [g.clause for g in truths],
        "params": [json.dumps(g.params, ensure_ascii=False, default=_json_default) for g in truths],
    })
