"""Simulated hourly series of flue-gas CEMS outlets and surface-water stations, as station frames.

The frames have the layout :mod:`tianlan.sim.fraud` injects into: ``station``, ``time_utc`` (UTC
epoch seconds, start of the hour), one Float64 column per HJ 212 code (rounded to the factor's wire
decimals) and ``mark`` (enterprise marks, null = none). Each generator also returns a site table.
Everything is deterministic by seed.

* :func:`cems_frame` — coal power units (ultra-low emission, reference O2 6 %), one
  :class:`~tianlan.sim.profiles.SourceProfile` per outlet sampled every minute and averaged to the
  hour (as the DAS does, HJ 76-2017 App. B), plus the unit's ``load`` (% of rated) that drives it.
  Units stop now and then (``shutdowns_per_month``): load 0, flue gas cooling to ambient, O2 near
  air, concentrations near zero, the hours marked ``shutdown`` — the legitimate pattern that false
  marks and state checks must not confuse with fraud.
* :func:`water_frame` — rivers with ``stations_per_river`` automatic stations in a row; every
  station sees the upstream water ``travel_hours`` later with its own small local variation, so
  upstream/downstream coherence holds on clean data (:class:`~tianlan.sim.profiles.WaterProfile`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import polars as pl

from tianlan.sim.fraud import LOAD, MARK, STATION, TIME
from tianlan.sim.profiles import REFERENCE_O2, Factor, SourceProfile, WaterProfile

HOUR_S = 3600
#: Ultra-low emission limits of coal power units (mg/m³ at 6 % O2, converted): particulate 10,
#: SO2 35, NOx 50 (《全面实施燃煤电厂超低排放和节能改造工作方案》, 2015).
ULTRA_LOW_LIMITS: dict[str, float] = {"a34013": 10.0, "a21026": 35.0, "a21002": 50.0}
SHUTDOWN = "shutdown"
START_2019 = 1546272000  # 2019-01-01 00:00 Beijing time = 2018-12-31T16:00Z


class LoadSourceProfile(SourceProfile):
    """A :class:`SourceProfile` that also reports the unit's load (``load``, % of rated)."""

    factors = (*SourceProfile.factors, Factor(LOAD, "机组负荷 unit load", "%", 1, 0.0, 110.0))  # type: ignore[assignment]

    def _shape(self, t: np.ndarray, z: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = super()._shape(t, z)
        # SourceProfile sets velocity = rated velocity · load + noise; invert it for the load.
        out[LOAD] = 100.0 * (out["a01011"] - z["vel"]) / self.p("velocity", 14.0)
        return out


def _hourly(times: np.ndarray, values: Mapping[str, np.ndarray], per_hour: int) -> dict[str, np.ndarray]:
    n = times.size // per_hour
    return {k: v[: n * per_hour].reshape(n, per_hour).mean(axis=1) for k, v in values.items()}


def _shutdown(vals: dict[str, np.ndarray], sl: slice, rng: np.random.Generator, per_hour: int = 1) -> None:
    """A stopped unit over ``sl`` (``per_hour`` records an hour): no load, air in the duct, gas
    cooling to ambient."""
    n = sl.stop - sl.start
    k = np.arange(n) / per_hour
    vals[LOAD][sl] = 0.0
    vals["a19001"][sl] = 20.6 + rng.normal(0.0, 0.08, n)
    vals["a01011"][sl] = np.abs(rng.normal(0.3, 0.1, n))
    vals["a00000"][sl] = vals["a01011"][sl] * 12.0 * 0.85
    t0 = vals["a01012"][sl.start - 1] if sl.start > 0 else 50.0
    vals["a01012"][sl] = 8.0 + (t0 - 8.0) * np.exp(-k / 6.0) + rng.normal(0.0, 0.3, n)
    # the humidity analyser goes on measuring (ambient air in a cooling duct): it keeps its noise,
    # as every other channel here does, rather than settling on one exact value
    # (its own generator: the draws of the other channels and events stay as they were)
    hum = np.random.default_rng([sl.start, n, per_hour]).normal(0.0, 0.3, n)
    vals["a01014"][sl] = np.abs(2.0 + 9.0 * np.exp(-k / 4.0) + hum)
    vals["a01013"][sl] = rng.normal(0.0, 0.01, n)
    for code, level in (("a21026", 0.4), ("a21002", 1.5), ("a34013", 0.1)):
        vals[code][sl] = np.abs(level * np.exp(rng.normal(0.0, 0.3, n)) * np.exp(-k / 3.0))


def cems_frame(n_outlets: int = 12, *, start_utc: int = START_2019, days: int = 31, seed: int = 7,
               sample_s: int = 60, shutdowns_per_month: float = 0.5,
               upsets_per_month: float = 2.0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hourly CEMS series of ``n_outlets`` coal power outlets over ``days`` and their site table.

    Frame columns: station, time_utc, a21026 SO2, a21002 NOx, a34013 particulate (mg/m³ measured,
    dry standard state), a19001 O2 (%), a01012 flue temperature (°C), a01013 static pressure (kPa),
    a01014 humidity (%), a01011 velocity (m/s), a00000 flow (m³/s, dry standard), load (%), mark.
    Levels are drawn per outlet so converted SO2 sits at 45–80 % of the 35 mg/m³ limit, NOx
    50–80 % of 50, particulate 20–50 % of 10. ``upsets_per_month``: short desulphurisation
    upsets (converted SO2 peaking at 1.3–2.5 × the limit for 4–10 h, unmarked) — the genuine
    would-be exceedances that clipping and false marks hide. Sites: station, plant, o2_ref, limit_<code> for the
    three pollutants, lon, lat, city.
    """
    rng = np.random.default_rng(seed)
    per_hour = HOUR_S // sample_s
    n_hours = days * 24
    t_min = start_utc + np.arange(n_hours * per_hour, dtype=np.int64) * sample_s
    t_hour = start_utc + np.arange(n_hours, dtype=np.int64) * HOUR_S
    o2_ref = REFERENCE_O2["coal_power"]
    conv = (21.0 - o2_ref) / (21.0 - 9.8)  # converted/measured at the typical O2
    frames, sites = [], []
    for i in range(n_outlets):
        code = f"CEMS{i + 1:03d}"
        params = {
            "so2": float(rng.uniform(0.45, 0.8)) * ULTRA_LOW_LIMITS["a21026"] / conv,
            "nox": float(rng.uniform(0.5, 0.8)) * ULTRA_LOW_LIMITS["a21002"] / conv,
            "dust": float(rng.uniform(0.2, 0.5)) * ULTRA_LOW_LIMITS["a34013"] / conv,
            "o2": float(rng.uniform(9.0, 10.5)),
            "velocity": float(rng.uniform(12.0, 16.0)),
            "area": float(rng.uniform(8.0, 16.0)),
        }
        prof = LoadSourceProfile(params)
        sub = np.random.default_rng(int(rng.integers(2**63)))
        vals = _hourly(t_min, prof.sample_many(t_min.astype(float), sub), per_hour)
        marks = np.full(n_hours, None, dtype=object)
        n_stops = sub.poisson(shutdowns_per_month * days / 30.0)
        for _ in range(int(n_stops)):
            length = int(sub.integers(12, 49))
            s0 = int(sub.integers(24, max(25, n_hours - length - 24)))
            _shutdown(vals, slice(s0, min(s0 + length, n_hours)), sub)
            marks[s0:s0 + length] = SHUTDOWN
        so2_share = params["so2"] * conv / ULTRA_LOW_LIMITS["a21026"]
        for _ in range(round(upsets_per_month * days / 30.0)):
            length = int(sub.integers(4, 11))
            s0 = int(sub.integers(0, n_hours - length))
            if any(marks[s0:s0 + length]):
                continue  # no upset while the unit is stopped
            peak = sub.uniform(1.3, 2.5) / so2_share  # the peak converted SO2 is 1.3–2.5 × the limit
            bump = 1.0 + (peak - 1.0) * np.sin(np.pi * (np.arange(length) + 0.5) / length) ** 0.5
            vals["a21026"][s0:s0 + length] *= bump
        cols: dict[str, object] = {STATION: [code] * n_hours, TIME: t_hour}
        for f in prof.factors:
            cols[f.code] = np.round(np.clip(vals[f.code], f.low, f.high), f.decimals)
        cols[MARK] = pl.Series(MARK, list(marks), dtype=pl.String)
        frames.append(pl.DataFrame(cols))
        sites.append({STATION: code, "plant": "coal_power", "o2_ref": o2_ref,
                      **{f"limit_{k}": v for k, v in ULTRA_LOW_LIMITS.items()},
                      "lon": 114.0 + 0.2 * i, "lat": 38.0 + 0.05 * (i % 7), "city": "sim"})
    return pl.concat(frames), pl.DataFrame(sites)


MinuteSeries = tuple[np.ndarray, dict[str, np.ndarray]]
#: The six CEMS channels of :func:`cems_minute_series` (SO2, NOx, particulate, O2, flue temperature, flow).
MINUTE_CHANNELS = ("a21026", "a21002", "a34013", "a19001", "a01012", "a00000")


def cems_minute_series(n_outlets: int = 100, *, start_utc: int = START_2019, days: int = 30, seed: int = 7,
                       channels: tuple[str, ...] = MINUTE_CHANNELS, shutdowns_per_month: float = 0.5
                       ) -> tuple[dict[str, MinuteSeries], pl.DataFrame, dict[str, list[tuple[int, int]]]]:
    """Minute data (HJ 212 ``2051`` records, one a minute) of ``n_outlets`` coal power outlets over
    ``days``: ``{station: (times, {code: values})}`` for ``channels`` (rounded to the wire decimals),
    the site table (as :func:`cems_frame`) and each outlet's shutdowns as ``[start_utc, end_utc)``
    (the periods a plant would mark). Deterministic by seed; no hourly averaging — this is what the
    DAS sends every minute and what a minute-data scan reads."""
    rng = np.random.default_rng(seed)
    per_hour = 60
    n = days * 24 * per_hour
    t_min = start_utc + np.arange(n, dtype=np.int64) * 60
    o2_ref = REFERENCE_O2["coal_power"]
    conv = (21.0 - o2_ref) / (21.0 - 9.8)
    out: dict[str, MinuteSeries] = {}
    stops: dict[str, list[tuple[int, int]]] = {}
    sites = []
    for i in range(n_outlets):
        code = f"CEMS{i + 1:03d}"
        params = {
            "so2": float(rng.uniform(0.45, 0.8)) * ULTRA_LOW_LIMITS["a21026"] / conv,
            "nox": float(rng.uniform(0.5, 0.8)) * ULTRA_LOW_LIMITS["a21002"] / conv,
            "dust": float(rng.uniform(0.2, 0.5)) * ULTRA_LOW_LIMITS["a34013"] / conv,
            "o2": float(rng.uniform(9.0, 10.5)),
            "velocity": float(rng.uniform(12.0, 16.0)),
            "area": float(rng.uniform(8.0, 16.0)),
        }
        prof = LoadSourceProfile(params)
        sub = np.random.default_rng(int(rng.integers(2**63)))
        vals = prof.sample_many(t_min.astype(float), sub)
        stops[code] = []
        for _ in range(int(sub.poisson(shutdowns_per_month * days / 30.0))):
            length = int(sub.integers(12, 49)) * per_hour
            s0 = int(sub.integers(24 * per_hour, max(24 * per_hour + 1, n - length - 24 * per_hour)))
            _shutdown(vals, slice(s0, min(s0 + length, n)), sub, per_hour)
            stops[code].append((int(t_min[s0]), int(t_min[min(s0 + length, n) - 1]) + 60))
        dec = {f.code: (f.decimals, f.low, f.high) for f in prof.factors}
        out[code] = (t_min, {c: np.round(np.clip(vals[c], dec[c][1], dec[c][2]), dec[c][0]) for c in channels})
        sites.append({STATION: code, "plant": "coal_power", "o2_ref": o2_ref,
                      **{f"limit_{k}": v for k, v in ULTRA_LOW_LIMITS.items()},
                      "lon": 114.0 + 0.02 * i, "lat": 38.0 + 0.05 * (i % 7), "city": "sim"})
    return out, pl.DataFrame(sites), stops


def _ar1(n: int, tau_h: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    phi = math.exp(-1.0 / tau_h)
    e = rng.standard_normal(n) * sigma * math.sqrt(1.0 - phi * phi)
    z = np.empty(n)
    z[0] = sigma * rng.standard_normal()
    for k in range(1, n):
        z[k] = phi * z[k - 1] + e[k]
    return z


def water_frame(n_rivers: int = 3, stations_per_river: int = 4, *, start_utc: int = START_2019, days: int = 31,
                seed: int = 11, travel_hours: int = 6) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hourly series of surface-water stations along ``n_rivers`` rivers and their site table.

    Station ``j`` of a river (0 = most upstream) sees the river ``j·travel_hours`` later than the
    first, scaled by its own level (tributaries, 0.85–1.2 for concentrations) and with local
    AR(1) variation (5 %, 12 h; temperature ±0.3 °C, one day). Columns: the nine factors of
    :class:`WaterProfile` by HJ 212 code (pH w01001, DO w01009, temperature w01010, conductivity
    w01014, CODMn w01019, NH3-N w21003, TP w21011, TN w21001, turbidity w01003) and mark. Sites:
    station, river, order, km (along the river), travel_hours (from the station above), upstream,
    downstream, lon, lat, city.
    """
    rng = np.random.default_rng(seed)
    n_hours = days * 24
    lag_max = (stations_per_river - 1) * travel_hours
    t_hour = start_utc + np.arange(n_hours, dtype=np.int64) * HOUR_S
    t_ext = start_utc + np.arange(-lag_max, n_hours, dtype=np.int64) * HOUR_S
    frames, sites = [], []
    concentrations = ("w01014", "w01019", "w21003", "w21011", "w21001", "w01003")
    for r in range(n_rivers):
        prof = WaterProfile({"codmn": float(rng.uniform(2.5, 5.0)), "nh3n": float(rng.uniform(0.2, 0.6)),
                             "cond": float(rng.uniform(350.0, 700.0)), "temp": float(rng.uniform(12.0, 17.0))})
        sub = np.random.default_rng(int(rng.integers(2**63)))
        base = prof.sample_many(t_ext.astype(float), sub)
        codes = [f"W{r + 1}{j + 1:02d}" for j in range(stations_per_river)]
        for j, code in enumerate(codes):
            lo = lag_max - j * travel_hours
            vals = {c: v[lo:lo + n_hours].copy() for c, v in base.items()}
            level = sub.uniform(0.85, 1.2)
            for c in concentrations:
                vals[c] *= level * np.exp(_ar1(n_hours, 12.0, 0.05, sub))
            vals["w01010"] += _ar1(n_hours, 24.0, 0.3, sub)
            vals["w01009"] *= np.exp(_ar1(n_hours, 6.0, 0.03, sub))
            vals["w01001"] += _ar1(n_hours, 12.0, 0.03, sub)
            cols: dict[str, object] = {STATION: [code] * n_hours, TIME: t_hour}
            for f in prof.factors:
                cols[f.code] = np.round(np.clip(vals[f.code], f.low, f.high), f.decimals)
            cols[MARK] = pl.Series(MARK, [None] * n_hours, dtype=pl.String)
            frames.append(pl.DataFrame(cols))
            sites.append({STATION: code, "river": f"R{r + 1}", "order": j, "km": 18.0 * j, "travel_hours": travel_hours,
                          "upstream": codes[j - 1] if j else None,
                          "downstream": codes[j + 1] if j + 1 < len(codes) else None,
                          "lon": 115.0 + 0.15 * j, "lat": 37.0 + 0.4 * r, "city": "sim"})
    return pl.concat(frames), pl.DataFrame(sites)
