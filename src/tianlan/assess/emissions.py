"""Flue-gas CEMS results: conversions, hourly values, emission rate and mass, exceedance of limits.

Pure functions over numbers and NumPy arrays. Concentrations are mg/m³; "dry standard state"
(标干) means dry flue gas at 273 K and 101 325 Pa (GB 13271-2014 §3.5; every limit of GB 13271-2014
and GB 13223-2011 is such a value). O2 is the dry-basis volume percentage. Times are UTC epoch
seconds; an hour is named by its start (HJ 212 ``DataTime`` convention).

Sources (reference ``standards/cems.md``, ``hj212.md`` §8): the formula chain of HJ/T 75-2007 /
HJ 75-2017 appendices as restated in HJ 212-2017 Appendix D and a code base citing HJ 1045-2019
(clause text not seen); the O2 correction of GB 13271-2014 §5.2 eq. (1) (confirmed). Scalar
arguments give a float and raise :class:`~tianlan.errors.InputError` on impossible input; array
arguments give an array with NaN where the scalar call would raise.

Decisions where the reference is UNCONFIRMED (recorded in results where they matter):

* Valid hour: ≥ 45 valid minute means (HJ 212-2017 App. D (from HJ/T 75-2007), ``hj212.md`` §8).
  ``cems.md`` §4 calls the 45-minute rule UNCONFIRMED for HJ 75-2017; HJ 212-2017 C.18 says a
  flue-gas hour value is normal only when ≥ 75 % of its values are normal — the same threshold
  (45 of 60). For other minute intervals the 75 % share is used (e.g. 9 of 12 five-minute means).
  A valid minute is one flagged N with a finite value.
* Order: the hourly mean concentration and hourly mean O2 are averaged first, then converted
  (``cems.md`` §4: "apply §2.5 to the hourly mean concentration with the hourly mean O2").
* O2 ≥ 21 % cannot be converted (the factor diverges); such hours are excluded from judgement and
  recorded, never converted. ``max_o2`` lets a standard or permit exclude a lower ceiling; none is
  applied by default. O2 below the reference lowers the converted value (``CEMS-005``); no floor.
* Exceedance: only hours whose device flag is N are judged (HJ 212 flags F, M, S, D, C, T, B and
  unknown flags exclude the hour, T included although it is a lower bound of the true value — the
  exclusion says so); hours overlapping an enterprise mark interval are excluded; each exclusion
  is recorded with its reason. A value equal to the limit complies (exceeds means "> limit").
* NOx as NO2 uses the exact molar-mass ratio 46.0055 / 30.0061 by default (``CEMS-009``); the
  rounded 1.53 is available and the factor is a parameter.
* Emission mass sums the measured hours; missing hours are counted, not substituted (HJ 75
  substitution rules UNCONFIRMED, ``cems.md`` §5).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tianlan.errors import InputError
from tianlan.hj212.codes import data_flag

__all__ = [
    "M_NO",
    "M_NO2",
    "M_SO2",
    "NO2_PER_NO",
    "NO2_PER_NO_ROUNDED",
    "EmissionLimit",
    "ExceedanceReport",
    "Exclusion",
    "HourExceedance",
    "HourlyValues",
    "MassResult",
    "OutletLimits",
    "daily_mass_t",
    "emission_limit_table",
    "emission_mass",
    "emission_rate_kg_h",
    "flow_to_dry_standard",
    "from_dry",
    "from_standard_state",
    "hourly_means",
    "judge_exceedances",
    "mg_to_ppm",
    "min_valid_minutes",
    "nox_as_no2",
    "o2_correct",
    "o2_uncorrect",
    "overlaps",
    "pollutant_code",
    "ppm_to_mg",
    "to_dry",
    "to_standard_state",
]

Number = float | int
Arr = npt.NDArray[np.float64]

STANDARD_T_K = 273.0
"""Standard temperature of the HJ/T 75 / HJ 75 formulas, K (the formulas print 273)."""
STANDARD_P_PA = 101325.0
MOLAR_VOLUME_L = 22.4
"""Molar volume at standard state, L/mol, as the HJ 75 formula prints it."""
M_SO2 = 64.06
M_NO = 30.0061
M_NO2 = 46.0055
NO2_PER_NO = M_NO2 / M_NO
"""Exact NO → NO2 mass factor (≈ 1.53321)."""
NO2_PER_NO_ROUNDED = 1.53
"""The rounded factor many systems use; gives 158.0 instead of 158.3 in ``CEMS-009``."""
O2_CODE = "a19001"
HOUR_S = 3600

_POLLUTANTS: dict[str, str] = {
    "so2": "a21026", "二氧化硫": "a21026", "nox": "a21002", "氮氧化物": "a21002", "no": "a21003",
    "no2": "a21004", "pm": "a34013", "pmsoot": "a34013", "soot": "a34013", "dust": "a34013", "烟尘": "a34013",
    "颗粒物": "a34013", "co": "a21005", "hg": "a20057", "汞": "a20057", "hcl": "a21024", "nh3": "a21001",
    "h2s": "a21028", "nmhc": "a24088", "fluoride": "a21018", "o2": O2_CODE, "co2": "a05001",
}


def pollutant_code(name: str) -> str:
    """HJ 212-2017 factor code for a pollutant name or code: SO2 → a21026, NOx → a21002, PM → a34013…"""
    s = "".join(ch for ch in name.strip().lower() if ch not in " _-()（）")
    if len(s) == 6 and s[0] == "a" and s[1:].isdigit():
        return s
    if s in _POLLUTANTS:
        return _POLLUTANTS[s]
    raise InputError(name, "未知污染物 / unknown pollutant; 用 HJ 212 编码 / use an HJ 212 code such as a21026 "
                     "or SO2, NOx, PM, CO, Hg")


# -- element-wise conversions ---------------------------------------------------------------------


def _arrays(*xs: npt.ArrayLike) -> tuple[list[Arr], bool]:
    arrs = [np.asarray(x, dtype=np.float64) for x in xs]
    return arrs, all(a.ndim == 0 for a in arrs)


def _finish(r: Arr, bad: npt.NDArray[np.bool_], scalar: bool, fld: str, reason: str) -> Any:
    if scalar:
        if bool(bad):
            raise InputError(fld, reason)
        return float(r)
    return np.where(bad, np.nan, r)


def to_standard_state(c_actual: npt.ArrayLike, *, temp_c: npt.ArrayLike, ba_pa: npt.ArrayLike,
                      ps_pa: npt.ArrayLike = 0.0) -> Any:
    """Concentration at standard state (273 K, 101 325 Pa) from the working state (HJ 75 App. formula).

    ``C_std = C × 101325 / (Ba + Ps) × (273 + ts) / 273``; ``ba_pa`` barometric pressure (Pa),
    ``ps_pa`` duct static pressure (Pa, signed), ``temp_c`` flue-gas temperature (°C). Same wet/dry
    basis on both sides.
    """
    (c, t, ba, ps), scalar = _arrays(c_actual, temp_c, ba_pa, ps_pa)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = c * STANDARD_P_PA / (ba + ps) * (STANDARD_T_K + t) / STANDARD_T_K
    bad = ~((ba + ps) > 0) | ~(t > -STANDARD_T_K)
    return _finish(r, bad, scalar, "pressure/temperature",
                   "绝对压力须 > 0 且温度 > −273 °C / absolute pressure must be > 0 and temperature > −273 °C")


def from_standard_state(c_std: npt.ArrayLike, *, temp_c: npt.ArrayLike, ba_pa: npt.ArrayLike,
                        ps_pa: npt.ArrayLike = 0.0) -> Any:
    """Inverse of :func:`to_standard_state`: working-state concentration from a standard-state one."""
    (c, t, ba, ps), scalar = _arrays(c_std, temp_c, ba_pa, ps_pa)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = c * (ba + ps) / STANDARD_P_PA * STANDARD_T_K / (STANDARD_T_K + t)
    bad = ~((ba + ps) > 0) | ~(t > -STANDARD_T_K)
    return _finish(r, bad, scalar, "pressure/temperature",
                   "绝对压力须 > 0 且温度 > −273 °C / absolute pressure must be > 0 and temperature > −273 °C")


def to_dry(c_wet: npt.ArrayLike, moisture_pct: npt.ArrayLike) -> Any:
    """Dry-basis concentration ``C_wet / (1 − Xsw)``; ``moisture_pct`` = Xsw × 100 (HJ 212 a01014, %).

    Example ``CEMS-008``: 20 mg/m³ wet at 10 % moisture → 22.22 mg/m³ dry. 0 ≤ moisture < 100.
    """
    (c, m), scalar = _arrays(c_wet, moisture_pct)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = c / (1.0 - m / 100.0)
    return _finish(r, ~((m >= 0) & (m < 100)), scalar, "moisture_pct",
                   "烟气湿度须在 0–100% 之间（不含100）/ moisture must be in [0, 100) %")


def from_dry(c_dry: npt.ArrayLike, moisture_pct: npt.ArrayLike) -> Any:
    """Wet-basis concentration from a dry one, ``C_dry × (1 − Xsw)`` (inverse of :func:`to_dry`)."""
    (c, m), scalar = _arrays(c_dry, moisture_pct)
    r = c * (1.0 - m / 100.0)
    return _finish(r, ~((m >= 0) & (m < 100)), scalar, "moisture_pct",
                   "烟气湿度须在 0–100% 之间（不含100）/ moisture must be in [0, 100) %")


def flow_to_dry_standard(q_actual_m3_h: npt.ArrayLike, *, temp_c: npt.ArrayLike, ba_pa: npt.ArrayLike,
                         ps_pa: npt.ArrayLike = 0.0, moisture_pct: npt.ArrayLike = 0.0) -> Any:
    """Dry standard-state flow (m³/h) from the working-state wet flow (HJ 75 App. formula).

    ``Qsn = Qs × 273 / (273 + ts) × (Ba + Ps) / 101325 × (1 − Xsw)``.
    """
    (q, t, ba, ps, m), scalar = _arrays(q_actual_m3_h, temp_c, ba_pa, ps_pa, moisture_pct)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = q * STANDARD_T_K / (STANDARD_T_K + t) * (ba + ps) / STANDARD_P_PA * (1.0 - m / 100.0)
    bad = ~((ba + ps) > 0) | ~(t > -STANDARD_T_K) | ~((m >= 0) & (m < 100))
    return _finish(r, bad, scalar, "flow conditions",
                   "压力须 > 0、温度 > −273 °C、湿度在 [0, 100)% / pressure > 0, temperature > −273 °C, moisture in [0, 100) %")


def ppm_to_mg(ppm: npt.ArrayLike, molar_mass: float) -> Any:
    """mg/m³ at standard state from µmol/mol: ``ppm × M / 22.4`` (``CEMS-010``: 35 ppm SO2 → 100.09)."""
    (p,), scalar = _arrays(ppm)
    if not molar_mass > 0:
        raise InputError("molar_mass", f"须 > 0 / must be > 0, got {molar_mass!r}")
    r = p * molar_mass / MOLAR_VOLUME_L
    return float(r) if scalar else r


def mg_to_ppm(mg_m3: npt.ArrayLike, molar_mass: float) -> Any:
    """µmol/mol from mg/m³ at standard state (inverse of :func:`ppm_to_mg`)."""
    (c,), scalar = _arrays(mg_m3)
    if not molar_mass > 0:
        raise InputError("molar_mass", f"须 > 0 / must be > 0, got {molar_mass!r}")
    r = c * MOLAR_VOLUME_L / molar_mass
    return float(r) if scalar else r


def nox_as_no2(no_mg_m3: npt.ArrayLike, no2_mg_m3: npt.ArrayLike = 0.0, *, factor: float = NO2_PER_NO) -> Any:
    """NOx expressed as NO2 (mg/m³): ``NO × factor + NO2`` (GB 13223-2011 "以NO2计"; HJ 212-2017 App. D).

    ``factor`` defaults to M(NO2)/M(NO) = 46.0055/30.0061; pass :data:`NO2_PER_NO_ROUNDED` for 1.53.
    """
    (no, no2), scalar = _arrays(no_mg_m3, no2_mg_m3)
    r = no * factor + no2
    return float(r) if scalar else r


def _o2_bad(o2: Arr, max_o2: float | None) -> npt.NDArray[np.bool_]:
    bad = ~((o2 >= 0) & (o2 < 21))
    if max_o2 is not None:
        bad |= o2 > max_o2
    return bad


def _check_o2_ref(o2_ref: float) -> None:
    if isinstance(o2_ref, bool) or not isinstance(o2_ref, int | float) or not 0 <= o2_ref < 21:
        raise InputError("o2_ref", f"基准氧含量须在 [0, 21)% / reference O2 must be in [0, 21) %, got {o2_ref!r}")


def o2_correct(c: npt.ArrayLike, o2: npt.ArrayLike, o2_ref: float, *, max_o2: float | None = None) -> Any:
    """Concentration converted to the reference oxygen content (折算浓度), mg/m³.

    ``C_ref = C × (21 − O2_ref) / (21 − O2)`` (GB 13271-2014 §5.2 eq. (1)); ``c`` dry standard
    state, ``o2`` measured dry O2 %, ``o2_ref`` the standard's reference O2 % (6 coal power
    boilers GB 13223-2011; 9 coal / 3.5 oil-gas industrial boilers GB 13271-2014). O2 ≥ 21 %
    (or above ``max_o2``) is refused: a scalar raises InputError, an array gives NaN there.
    """
    _check_o2_ref(o2_ref)
    (cc, o), scalar = _arrays(c, o2)
    bad = _o2_bad(o, max_o2)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = cc * (21.0 - o2_ref) / (21.0 - o)
    return _finish(r, bad, scalar, "O2",
                   "氧含量须在 [0, 21)%，≥21% 时无法折算（停运/吹扫）/ O2 must be in [0, 21) %; at ≥ 21 % "
                   "(stopped, purge) the value cannot be converted" + ("" if max_o2 is None else f" (max {max_o2:g} %)"))


def o2_uncorrect(c_ref: npt.ArrayLike, o2: npt.ArrayLike, o2_ref: float) -> Any:
    """Measured concentration from a converted one (inverse of :func:`o2_correct`)."""
    _check_o2_ref(o2_ref)
    (cc, o), scalar = _arrays(c_ref, o2)
    r = cc * (21.0 - o) / (21.0 - o2_ref)
    return _finish(r, _o2_bad(o, None), scalar, "O2", "氧含量须在 [0, 21)% / O2 must be in [0, 21) %")


def emission_rate_kg_h(c_mg_m3: npt.ArrayLike, q_dry_std_m3_h: npt.ArrayLike) -> Any:
    """Emission rate G (kg/h) = C × Qsn × 10⁻⁶ (HJ 75 practice; ``CEMS-006``: 30 × 1.2e6 → 36 kg/h).

    ``c_mg_m3``: measured (NOT O2-converted) dry standard-state hourly mean; ``q``: dry
    standard-state hourly mean flow, m³/h.
    """
    (c, q), scalar = _arrays(c_mg_m3, q_dry_std_m3_h)
    r = c * q * 1e-6
    return _finish(r, ~(q >= 0) & ~np.isnan(q), scalar, "flow", "流量不能为负 / flow must not be negative")


# -- mass over a period ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MassResult:
    """Emission mass over a period: ``kg`` (and ``t``) summed over ``hours_counted`` hours.

    ``hours_missing`` hours in the period had no valid rate; they are counted, not substituted
    (HJ 75-2017 substitution rules UNCONFIRMED), so ``kg`` is a lower bound when it is not 0.
    """

    kg: float
    hours_counted: int
    hours_missing: int

    @property
    def t(self) -> float:
        return self.kg / 1000.0


def emission_mass(rate_kg_h: npt.ArrayLike, hour_start_utc: npt.ArrayLike | None = None, *,
                  start_utc: int | None = None, end_utc: int | None = None) -> MassResult:
    """Mass (kg) emitted over hourly rates: Σ G_h × 1 h, hours with NaN rate counted as missing.

    With ``hour_start_utc`` and a window, only hours starting in [start_utc, end_utc) count and the
    window's hours absent from the data are counted missing too.
    """
    g = np.atleast_1d(np.asarray(rate_kg_h, dtype=np.float64))
    if hour_start_utc is not None:
        h = np.atleast_1d(np.asarray(hour_start_utc, dtype=np.int64))
        if h.shape != g.shape:
            raise InputError("hour_start_utc", f"长度 {h.size} 与速率 {g.size} 不符 / length differs from the rates")
        sel = np.ones(h.shape, dtype=bool)
        if start_utc is not None:
            sel &= h >= start_utc
        if end_utc is not None:
            sel &= h < end_utc
        g, h = g[sel], h[sel]
        expected = None
        if start_utc is not None and end_utc is not None:
            expected = len(range(-(-start_utc // HOUR_S) * HOUR_S, end_utc, HOUR_S))
            if np.unique(h).size != h.size:
                raise InputError("hour_start_utc", "小时重复 / duplicate hours")
    elif start_utc is not None or end_utc is not None:
        raise InputError("hour_start_utc", "给定时段时须给出小时时间 / needed when a window is given")
    else:
        expected = None
    ok = np.isfinite(g)
    if np.any(g[ok] < 0):
        raise InputError("rate_kg_h", "排放速率不能为负 / rates must not be negative")
    counted = int(ok.sum())
    missing = int((~ok).sum()) if expected is None else expected - counted
    return MassResult(kg=math.fsum(g[ok].tolist()), hours_counted=counted, hours_missing=missing)


def daily_mass_t(hourly_kg: Sequence[float] | npt.ArrayLike) -> float:
    """Daily mass in tonnes from the day's hourly masses in kg (``CEMS-007``: 20×36 + 4×30 kg → 0.84 t)."""
    return emission_mass(hourly_kg).t


# -- hourly values from minute data ---------------------------------------------------------------


def min_valid_minutes(interval_s: int = 60) -> int:
    """Valid minute means an hour needs: 75 % of the hour's expected means (45 for 1-minute data).

    HJ 212-2017 App. D (from HJ/T 75-2007): hour mean needs ≥ 45 valid minute means; HJ 212-2017
    C.18: a flue-gas hour value is normal only with ≥ 75 % normal values. ``cems.md`` §4 marks the
    HJ 75-2017 figure UNCONFIRMED.
    """
    if interval_s <= 0 or HOUR_S % interval_s:
        raise InputError("interval_s", f"须整除 3600 / must divide 3600 s, got {interval_s!r}")
    return math.ceil(0.75 * HOUR_S / interval_s)


@dataclass(frozen=True)
class HourlyValues:
    """Hourly means of one parameter over a contiguous run of hours.

    ``hour_start_utc`` (int64, s) names each hour by its start; ``mean`` the mean of the valid
    minute values (NaN when the hour is invalid); ``n_valid`` / ``n_total`` minute records that
    were valid / present; ``valid`` n_valid ≥ ``min_valid``; ``flag`` "N" for a valid hour, else
    the most frequent invalid minute flag (so an hour stopped for 40 minutes reads "F", not a
    generic fault as HJ 212-2017 C.18 would write "D"), or "" when the minutes were missing
    (or carried no flag).
    """

    hour_start_utc: npt.NDArray[np.int64]
    mean: Arr
    n_valid: npt.NDArray[np.int64]
    n_total: npt.NDArray[np.int64]
    valid: npt.NDArray[np.bool_]
    flag: npt.NDArray[np.str_]
    min_valid: int


def hourly_means(times_utc: npt.ArrayLike, values: npt.ArrayLike, flags: npt.ArrayLike | None = None, *,
                 interval_s: int = 60, min_valid: int | None = None, valid_flags: Iterable[str] = ("N",),
                 start_utc: int | None = None, end_utc: int | None = None) -> HourlyValues:
    """Hourly means from minute means (vectorised; a year of minutes takes milliseconds).

    ``times_utc``: start of each minute period (UTC s); ``values`` same length; ``flags`` HJ 212
    ``xxx-Flag`` of each value (None = all N). A minute counts when its flag is in
    ``valid_flags`` and its value is finite; a missing flag (None, "") never counts. An hour is
    valid with ≥ ``min_valid`` such minutes (default :func:`min_valid_minutes` of ``interval_s``:
    45 for 1-minute data). The hours run
    contiguously from ``start_utc`` (or the first minute's hour) to ``end_utc`` (exclusive; or the
    last minute's hour), so hours without data appear as invalid rather than disappearing; minutes
    outside that window are not used. Duplicated minutes are the ingest's business (each counts).
    """
    t = np.atleast_1d(np.asarray(times_utc))
    if t.size and not np.issubdtype(t.dtype, np.integer):
        tf = t.astype(np.float64)
        if not np.all(np.isfinite(tf)) or np.any(tf != np.floor(tf)):
            raise InputError("times_utc", "须为整数秒 / must be whole UTC seconds")
    t = t.astype(np.int64)
    v = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if v.shape != t.shape:
        raise InputError("values", f"长度 {v.size} 与时间 {t.size} 不符 / length differs from times")
    if flags is None:
        f = np.full(t.shape, "N")
    else:
        f = np.atleast_1d(np.asarray(flags))
        if f.dtype.kind == "U":
            f = np.char.strip(f)
        else:  # objects (None for a missing flag) or bytes
            f = np.array(["" if x is None else (x.decode() if isinstance(x, bytes) else str(x)).strip()
                          for x in f.tolist()], dtype=str).reshape(f.shape)
        if f.shape != t.shape:
            raise InputError("flags", f"长度 {f.size} 与时间 {t.size} 不符 / length differs from times")
    need = min_valid_minutes(interval_s) if min_valid is None else int(min_valid)
    if need < 1:
        raise InputError("min_valid", "须 ≥ 1 / must be ≥ 1")
    hour = np.floor_divide(t, HOUR_S)
    if start_utc is not None:
        h0 = start_utc // HOUR_S
    elif t.size:
        h0 = int(hour.min())
    else:
        raise InputError("times_utc", "无数据且未给出起止时间 / no data and no start/end given")
    if end_utc is not None:
        h1 = -(-end_utc // HOUR_S)
    elif t.size:
        h1 = int(hour.max()) + 1
    else:
        raise InputError("end_utc", "无数据且未给出截止时间 / no data and no end given")
    if h1 <= h0:
        raise InputError("end_utc", "须晚于起始 / must be after the start")
    nh = h1 - h0
    inside = (hour >= h0) & (hour < h1)
    idx = (hour - h0)[inside]
    v, f = v[inside], f[inside]
    good = np.isin(f, list(valid_flags)) & np.isfinite(v)
    n_total = np.bincount(idx, minlength=nh).astype(np.int64)
    n_valid = np.bincount(idx[good], minlength=nh).astype(np.int64)
    sums = np.bincount(idx[good], weights=v[good], minlength=nh)
    valid = n_valid >= need
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(valid, sums / np.maximum(n_valid, 1), np.nan)
    # The hour's flag: N when valid; otherwise the most frequent invalid minute flag, "" if none.
    hflag = np.where(valid, "N", "").astype("<U8")
    bad = ~np.isin(f, list(valid_flags)) & (f != "")
    if bad.any():
        codes, inv = np.unique(f[bad], return_inverse=True)
        counts = np.bincount(idx[bad] * codes.size + inv, minlength=nh * codes.size).reshape(nh, codes.size)
        top = counts.argmax(axis=1)
        has = counts.max(axis=1) > 0
        pick = ~valid & has
        hflag[pick] = codes[top[pick]]
    return HourlyValues(
        hour_start_utc=(np.arange(h0, h1, dtype=np.int64) * HOUR_S), mean=mean, n_valid=n_valid,
        n_total=n_total, valid=valid, flag=hflag, min_valid=need,
    )


def overlaps(starts_utc: npt.ArrayLike, intervals: Iterable[tuple[int, int, str]], *,
             duration_s: int = HOUR_S) -> npt.NDArray[np.bool_]:
    """Which periods [start, start + duration) overlap any interval [s, e) — e.g. enterprise marks."""
    h = np.atleast_1d(np.asarray(starts_utc, dtype=np.int64))
    out = np.zeros(h.shape, dtype=bool)
    for s, e, _ in intervals:
        out |= (h < e) & (h + duration_s > s)
    return out


# -- limits ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutletLimits:
    """Concentration limits of one outlet (mg/m³, dry standard state, at ``o2_ref`` % O2).

    ``limits`` maps HJ 212 codes to limits; ``o2_ref`` None means the limits apply to the measured
    values without O2 conversion; ``standard`` names the standard or permit they come from.
    """

    limits: Mapping[str, float]
    o2_ref: float | None
    standard: str = ""

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> OutletLimits:
        """Read a registry site's ``attrs``: ``{"limits": {"a21026": 35, …}, "o2_ref": 6, "standard": "GB 13223-2011"}``.

        Pollutants may be HJ 212 codes or names (SO2, NOx, PM …). Raises InputError naming the key.
        """
        if not isinstance(attrs, Mapping):
            raise InputError("attrs", "应为映射 / must be a mapping")
        raw = attrs.get("limits")
        if not isinstance(raw, Mapping) or not raw:
            raise InputError("attrs.limits", "缺少或为空；应为 {编码: 限值} / missing or empty; expected {code: limit mg/m3}")
        limits: dict[str, float] = {}
        for k, v in raw.items():
            code = pollutant_code(str(k))
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
                raise InputError(f"attrs.limits.{k}", f"限值须为正数 / limit must be a positive number, got {v!r}")
            if code in limits:
                raise InputError(f"attrs.limits.{k}", f"与另一键同为 {code} / duplicates another key for {code}")
            limits[code] = float(v)
        o2_ref = attrs.get("o2_ref")
        if o2_ref is not None:
            if isinstance(o2_ref, bool) or not isinstance(o2_ref, int | float) or not 0 <= o2_ref < 21:
                raise InputError("attrs.o2_ref", f"基准氧含量须在 [0, 21)% / must be in [0, 21) %, got {o2_ref!r}")
            o2_ref = float(o2_ref)
        standard = attrs.get("standard", "")
        if not isinstance(standard, str):
            raise InputError("attrs.standard", f"应为文本 / must be text, got {standard!r}")
        return cls(limits=limits, o2_ref=o2_ref, standard=standard)


@dataclass(frozen=True, slots=True)
class EmissionLimit:
    """One row of ``standards/emission_limits.csv`` (mg/m³ dry standard state at the reference O2)."""

    standard: str
    valid_from: str
    table: str
    facility: str
    fuel_or_unit: str
    condition: str
    pollutant: str
    code: str
    limit_mg_m3: float
    reference_o2: float | None
    reference_o2_text: str
    applies_from: str
    confirmation: str
    notes: str


def emission_limit_table() -> list[EmissionLimit]:
    """GB 13271-2014, GB 13223-2011 (partly confirmed) and ultra-low targets, with confirmation status."""
    path = Path(__file__).parent / "standards" / "emission_limits.csv"
    out = []
    with open(path, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            ref = r["reference_o2_pct"].strip()
            try:
                ref_f: float | None = float(ref)
            except ValueError:
                ref_f = None  # "3 (boiler) / 15 (turbine)": depends on the unit
            pol = r["pollutant"].split(" ")[0]
            out.append(EmissionLimit(
                standard=r["standard"], valid_from=r["valid_from"], table=r["table"], facility=r["facility"],
                fuel_or_unit=r["fuel_or_unit"], condition=r["condition"], pollutant=r["pollutant"],
                code=pollutant_code(pol), limit_mg_m3=float(r["limit_mg_m3"]), reference_o2=ref_f,
                reference_o2_text=ref, applies_from=r["applies_from"], confirmation=r["confirmation"], notes=r["notes"],
            ))
    return out


# -- exceedance judgement -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HourExceedance:
    """An hour whose converted concentration exceeds the limit; ``multiple`` = (C − L) / L."""

    pollutant: str
    hour_start_utc: int
    value: float
    measured: float
    o2: float | None
    limit: float
    multiple: float


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A run of hours left out of the judgement of ``pollutant``, with why.

    ``source``: ``device_flag`` (HJ 212 flag of the pollutant or of O2), ``enterprise_mark``,
    ``missing`` (no valid hourly value) or ``oxygen`` (O2 missing, ≥ 21 % or above ``max_o2``);
    ``reason``: the flag (``F``, ``O2:M``…), the mark as given, or a short code; ``detail``:
    Chinese then English. [start_utc, end_utc) covers ``hours`` consecutive hours.
    """

    pollutant: str
    start_utc: int
    end_utc: int
    hours: int
    source: str
    reason: str
    detail: str


@dataclass(frozen=True)
class ExceedanceReport:
    """Result of :func:`judge_exceedances` for one outlet over a run of hours.

    ``judged`` hours per pollutant; ``exceedances`` and ``exclusions`` in time order per
    pollutant; ``converted`` the values compared with the limits (NaN where excluded);
    ``no_limit`` pollutants given without a limit, ``no_data`` limits without data.
    """

    standard: str
    o2_ref: float | None
    already_converted: bool
    hours: int
    judged: Mapping[str, int]
    exceedances: tuple[HourExceedance, ...]
    exclusions: tuple[Exclusion, ...]
    converted: Mapping[str, Arr] = field(repr=False)
    no_limit: tuple[str, ...] = ()
    no_data: tuple[str, ...] = ()
    conversion_order: str = "hourly mean concentration and hourly mean O2, then converted"

    def exceeded_hours(self, pollutant: str) -> int:
        code = pollutant_code(pollutant)
        return sum(1 for e in self.exceedances if e.pollutant == code)

    def excluded_hours(self, pollutant: str) -> int:
        """Distinct hours excluded for ``pollutant`` (an hour excluded for two reasons counts once)."""
        code = pollutant_code(pollutant)
        return self.hours - self.judged.get(code, 0) if code in self.judged else 0


def _flag_detail(flag: str) -> str:
    if flag == "":
        return "缺少数据标记 / data flag missing"
    meaning = data_flag(flag)
    if meaning is None:
        return f"未知数据标记 {flag!r}，不作判定 / unknown data flag {flag!r}; not judged"
    text = f"数据标记 {flag}：{meaning.zh} / flag {flag}: {meaning.en}"
    if flag == "T":
        text += "；真实值不低于此值，需人工核查 / the true value is at least this; review manually"
    return text


def _runs(mask: npt.NDArray[np.bool_], hours: npt.NDArray[np.int64]) -> list[tuple[int, int, int]]:
    """(start_utc, end_utc, n) of runs of True over consecutive hours."""
    if not mask.any():
        return []
    i = np.flatnonzero(mask)
    brk = np.flatnonzero((np.diff(i) != 1) | (np.diff(hours[i]) != HOUR_S)) + 1
    out = []
    for seg in np.split(i, brk):
        out.append((int(hours[seg[0]]), int(hours[seg[-1]]) + HOUR_S, int(seg.size)))
    return out


def _flag_array(flags: Mapping[str, npt.ArrayLike] | None, code: str, n: int) -> npt.NDArray[np.str_] | None:
    if flags is None:
        return None
    for k, v in flags.items():
        if pollutant_code(str(k)) == code:
            a = np.atleast_1d(np.asarray(v, dtype=object))
            if a.shape != (n,):
                raise InputError(f"flags.{k}", f"长度 {a.size} 与小时数 {n} 不符 / length differs from the {n} hours")
            return np.array(["" if x is None else str(x).strip() for x in a], dtype=str)
    return None


def judge_exceedances(hour_start_utc: npt.ArrayLike, concentrations: Mapping[str, npt.ArrayLike],
                      limits: OutletLimits, *, o2: npt.ArrayLike | None = None,
                      flags: Mapping[str, npt.ArrayLike] | None = None,
                      marks: Iterable[tuple[int, int, str]] = (), already_converted: bool = False,
                      max_o2: float | None = None) -> ExceedanceReport:
    """Exceedances of an outlet's hourly values against its limits, recording every exclusion.

    ``concentrations``: pollutant (HJ 212 code or name) → hourly mean, mg/m³ dry standard state,
    measured (not O2-converted unless ``already_converted``, e.g. HJ 212 ``ZsAvg``); NaN = no
    valid value. ``o2``: hourly mean dry O2 %, needed when ``limits.o2_ref`` is set. ``flags``:
    pollutant code → hourly HJ 212 flags (``a19001`` for O2; None = every hour N; a pollutant not
    in the mapping is taken as N). ``marks``: enterprise marks as (start_utc, end_utc, mark);
    an hour overlapping one is excluded. Only hours flagged N, unmarked, with a value and (when
    converting) a usable O2 are judged; an hour exceeds when the converted value is > the limit.
    """
    h = np.atleast_1d(np.asarray(hour_start_utc, dtype=np.int64))
    n = h.size
    if n and (np.any(h % HOUR_S) or np.any(np.diff(h) <= 0)):
        raise InputError("hour_start_utc", "须为整点且严格递增 / must be whole hours, strictly increasing")
    marks = list(marks)
    for i, m in enumerate(marks):
        if len(m) != 3 or not int(m[0]) < int(m[1]):
            raise InputError(f"marks[{i}]", f"应为 (起, 止, 标记) 且起 < 止 / expected (start_utc, end_utc, mark) "
                             f"with start < end, got {m!r}")
    convert = limits.o2_ref is not None and not already_converted
    o2a: Arr | None = None
    if o2 is not None:
        o2a = np.atleast_1d(np.asarray(o2, dtype=np.float64))
        if o2a.shape != (n,):
            raise InputError("o2", f"长度 {o2a.size} 与小时数 {n} 不符 / length differs from the {n} hours")
    if convert and o2a is None:
        raise InputError("o2", f"限值以基准氧 {limits.o2_ref:g}% 计，须给出氧含量 / limits are at {limits.o2_ref:g} % O2; "
                         "hourly O2 is required")
    conc: dict[str, Arr] = {}
    for k, v in concentrations.items():
        code = pollutant_code(str(k))
        a = np.atleast_1d(np.asarray(v, dtype=np.float64))
        if a.shape != (n,):
            raise InputError(f"concentrations.{k}", f"长度 {a.size} 与小时数 {n} 不符 / length differs from the {n} hours")
        if code in conc:
            raise InputError(f"concentrations.{k}", f"与另一键同为 {code} / duplicates another key for {code}")
        conc[code] = a

    # Exclusions common to every pollutant: enterprise marks, O2 flag and O2 value.
    common: list[tuple[npt.NDArray[np.bool_], str, str, str]] = []
    for s, e, mark in marks:
        mm = overlaps(h, [(int(s), int(e), str(mark))])
        common.append((mm, "enterprise_mark", str(mark),
                       f"企业标记“{mark}”覆盖该时段 / enterprise mark {mark!r} covers the period"))
    if convert:
        assert o2a is not None
        of = _flag_array(flags, O2_CODE, n)
        o2_flag_bad = np.zeros(n, dtype=bool)
        if of is not None:
            o2_flag_bad = (of != "N") & ~((of == "") & ~np.isfinite(o2a))
            for fl in np.unique(of[o2_flag_bad]):
                common.append(((of == fl) & o2_flag_bad, "device_flag", f"O2:{fl}", "氧含量 " + _flag_detail(str(fl)) + " (O2)"))
        o2_bad = _o2_bad(o2a, max_o2) & ~o2_flag_bad
        common.append((o2_bad, "oxygen", "o2_unusable",
                       "氧含量缺失或≥21%" + ("" if max_o2 is None else f"或>{max_o2:g}%") + "，无法折算 / O2 missing or ≥ 21 %"
                       + ("" if max_o2 is None else f" or > {max_o2:g} %") + "; cannot be converted"))

    judged: dict[str, int] = {}
    exceed: list[HourExceedance] = []
    excl: list[Exclusion] = []
    converted: dict[str, Arr] = {}
    for code, c in conc.items():
        if code not in limits.limits:
            continue
        limit = limits.limits[code]
        excluded = np.zeros(n, dtype=bool)
        reasons: list[tuple[npt.NDArray[np.bool_], str, str, str]] = []
        fa = _flag_array(flags, code, n)
        # "" with no value is a missing hour (hourly_means writes "" for hours without minutes);
        # "" with a value is a value without its flag, excluded as such.
        flag_bad = np.zeros(n, dtype=bool) if fa is None else (fa != "N") & ~((fa == "") & ~np.isfinite(c))
        if fa is not None:
            for fl in np.unique(fa[flag_bad]):
                reasons.append(((fa == fl) & flag_bad, "device_flag", str(fl), _flag_detail(str(fl))))
        missing = ~np.isfinite(c) & ~flag_bad
        reasons.append((missing, "missing", "no_valid_value",
                        "无有效小时值（有效分钟数不足或缺测）/ no valid hourly value (too few valid minutes or no data)"))
        reasons.extend(common)
        for mask, source, reason, detail in reasons:
            excluded |= mask
            for r0, r1, nrun in _runs(mask, h):
                excl.append(Exclusion(code, r0, r1, nrun, source, reason, detail))
        ok = ~excluded & np.isfinite(c)
        if convert:
            assert o2a is not None and limits.o2_ref is not None
            with np.errstate(divide="ignore", invalid="ignore"):
                conv = np.where(ok, c * (21.0 - limits.o2_ref) / (21.0 - o2a), np.nan)
        else:
            conv = np.where(ok, c, np.nan)
        converted[code] = conv
        judged[code] = int(ok.sum())
        # Values within 1e-9 (relative) of the limit are at the limit: floating-point noise of the
        # conversion must not create an exceedance the exact arithmetic would not.
        over = ok & (conv - limit > 1e-9 * max(1.0, limit))
        for j in np.flatnonzero(over).tolist():
            exceed.append(HourExceedance(
                pollutant=code, hour_start_utc=int(h[j]), value=float(conv[j]), measured=float(c[j]),
                o2=None if o2a is None else float(o2a[j]), limit=limit, multiple=float((conv[j] - limit) / limit),
            ))
    excl.sort(key=lambda x: (x.pollutant, x.start_utc, x.source, x.reason))
    return ExceedanceReport(
        standard=limits.standard, o2_ref=limits.o2_ref, already_converted=already_converted, hours=n,
        judged=judged, exceedances=tuple(exceed), exclusions=tuple(excl), converted=converted,
        no_limit=tuple(sorted(k for k in conc if k not in limits.limits)),
        no_data=tuple(sorted(k for k in limits.limits if k not in conc)),
    )
