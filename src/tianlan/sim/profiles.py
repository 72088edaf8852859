"""Realistic, seed-deterministic value generators for simulated monitoring stations.

A :class:`Profile` turns a time (UTC epoch seconds) into one value per factor code. The shape of
each series is a deterministic function of Beijing local time (daily cycle) and of the day of the
year (season); on top of it sit AR(1) noise components, so that consecutive values are correlated
the way real analysers are. All randomness comes from the ``numpy.random.Generator`` the caller
passes in: the same seed and the same sequence of times give the same values, bit for bit.

The AR(1) state lives in the profile object (one profile per simulated device; ``profile_for``
returns a fresh one each call). With a time step ``dt`` the noise ``z`` of a component with
correlation time ``tau`` and stationary standard deviation ``sigma`` evolves as
``z ← φ·z + σ·√(1−φ²)·ε`` with ``φ = exp(−dt/τ)``, which is exact for any step size.

Kinds (``profile_for(kind)``):

* ``air`` — ambient air station (ST=22, HJ 212-2017 §6.6.1). PM2.5/PM10/SO2/NO2/O3 in µg/m³,
  CO in mg/m³ (what ambient networks report in practice, reference §4.7), temperature °C, relative
  humidity %, pressure kPa, wind speed m/s, wind direction degrees.
* ``water`` — surface-water quality station (ST=21), codes of HJ 525 as in reference Appendix A #12.
* ``wastewater`` — wastewater outlet of an enterprise (ST=32) with flow in L/s.
* ``source`` — flue-gas CEMS at a stack outlet (ST=31): measured (dry, standard state) and converted
  (折算, ``Zs…``) concentrations, see :class:`SourceProfile`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

BEIJING_OFFSET_S = 8 * 3600
_DAY_S = 86400.0
_YEAR_DAYS = 365.2425
_BLOCK = 64


@dataclass(frozen=True)
class Factor:
    """One monitored factor (pollutant or parameter) of a profile.

    ``code`` is the HJ 212-2017 code (Appendix B / HJ 524 / HJ 525), ``code_2005`` the 3-character
    code of HJ/T 212-2005 where one exists. ``decimals`` is the number of fraction digits written on
    the wire. ``low``/``high`` clamp generated values to what the analyser can report.
    ``cou_unit`` is set for factors that carry a ``-Cou`` (cumulative amount over the period:
    flow volume in m³, emitted mass in kg); ``converted`` marks flue-gas pollutants that also carry
    converted (折算) ``Zs…`` values.
    """

    code: str
    name: str
    unit: str
    decimals: int
    low: float
    high: float
    code_2005: str | None = None
    cou_unit: str | None = None
    cou_decimals: int = 3
    converted: bool = False

    def format(self, value: float) -> str:
        """The value as HJ 212 decimal text with this factor's number of decimals."""
        text = f"{value:.{self.decimals}f}"
        return "0" + text[2:] if text.startswith("-0") and float(text) == 0.0 else text


@dataclass(frozen=True)
class Noise:
    """An AR(1) noise component: correlation time ``tau_s`` (s), stationary std ``sigma``."""

    tau_s: float
    sigma: float


def _bump(h: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A Gaussian bump on the 24-hour circle, 1 at ``centre`` (hours), std ``width`` (hours)."""
    d = (h - centre + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (d / width) ** 2)


def _wave(h: np.ndarray, peak: float, period_h: float = 24.0) -> np.ndarray:
    """A cosine of the hour of day, +1 at ``peak`` (hours), −1 half a period later."""
    return np.cos(2.0 * math.pi * (h - peak) / period_h)


def beijing_hour(t_utc: np.ndarray) -> np.ndarray:
    """Fractional hour of day in Beijing time (0 ≤ h < 24) for UTC epoch seconds."""
    return ((t_utc + BEIJING_OFFSET_S) % _DAY_S) / 3600.0


def winter_index(t_utc: np.ndarray) -> np.ndarray:
    """+1 in mid-January, −1 in mid-July (cosine of the day of the year, Beijing time)."""
    days = (t_utc + BEIJING_OFFSET_S) / _DAY_S
    return np.cos(2.0 * math.pi * (days / _YEAR_DAYS - 15.0 / _YEAR_DAYS))


class Profile:
    """Base of the station profiles: factor table, AR(1) noise bank, sampling and formatting.

    Subclasses set ``kind``, ``st`` (HJ 212 system code), ``factors`` and ``noise`` and implement
    :meth:`_shape`, which maps times and noise arrays to values. ``params`` tunes levels (each
    subclass documents its keys and defaults); unknown keys are ignored so that a registry can
    carry extra settings.
    """

    kind: str = ""
    st: str = ""
    factors: tuple[Factor, ...] = ()
    noise: Mapping[str, Noise] = {}
    #: code of the flow factor whose ``-Cou`` is a volume (m³); None if the profile has no flow.
    flow_code: str | None = None

    def __init__(self, params: Mapping[str, float] | None = None) -> None:
        self.params: dict[str, float] = {k: float(v) for k, v in (params or {}).items()
                                         if isinstance(v, int | float)}
        self.by_code: dict[str, Factor] = {f.code: f for f in self.factors}
        self._last_t: float | None = None
        self._z: dict[str, float] = {}

    def p(self, key: str, default: float) -> float:
        """Parameter ``key`` from ``params`` or its default."""
        return self.params.get(key, default)

    def reset(self) -> None:
        """Forget the AR(1) state (the next sample starts from the stationary distribution)."""
        self._last_t = None
        self._z = {}

    def _advance(self, times: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """AR(1) noise at ``times`` continuing from the stored state, one array per component.

        The recursion ``z_i = φ_i·z_{i−1} + b_i`` is evaluated in blocks of 64 steps as
        ``z = P·(z_0 + cumsum(b/P))`` with ``P = cumprod(φ)``; φ is kept ≥ 10⁻³ (beyond that the
        correlation is nil anyway) so P never underflows within a block.
        """
        n = times.shape[0]
        eps = rng.standard_normal((len(self.noise), n))
        out: dict[str, np.ndarray] = {}
        if n == 0:
            return {name: np.empty(0) for name in self.noise}
        prev = self._last_t
        dt = np.abs(np.diff(times, prepend=times[0] if prev is None else prev))
        for row, (name, spec) in enumerate(self.noise.items()):
            phi = np.clip(np.exp(-dt / spec.tau_s), 1e-3, 1.0)
            b = spec.sigma * np.sqrt(1.0 - phi * phi) * eps[row]
            z = np.empty(n)
            last = self._z.get(name)
            first = 0
            if last is None or prev is None:
                z[0] = last = spec.sigma * float(eps[row, 0])
                first = 1
            for s in range(first, n, _BLOCK):
                e = min(s + _BLOCK, n)
                p = np.cumprod(phi[s:e])
                z[s:e] = p * (last + np.cumsum(b[s:e] / p))
                last = float(z[e - 1])
            self._z[name] = float(z[-1])
            out[name] = z
        self._last_t = float(times[-1])
        return out

    def _shape(self, t: np.ndarray, z: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def sample_many(self, t_utc: np.ndarray | list[float], rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Values at each time of ``t_utc`` (UTC epoch seconds, ascending), one array per code.

        Values are clamped to each factor's ``[low, high]`` and not rounded (see :meth:`format`).
        """
        t = np.asarray(t_utc, dtype=float)
        z = self._advance(t, rng)
        raw = self._shape(t, z)
        return {f.code: np.clip(raw[f.code], f.low, f.high) for f in self.factors}

    def sample(self, t_utc: float, rng: np.random.Generator) -> dict[str, float]:
        """Values at one time (UTC epoch seconds): ``{code: value}`` in each factor's unit."""
        arrays = self.sample_many(np.array([float(t_utc)]), rng)
        return {code: float(a[0]) for code, a in arrays.items()}

    def converted(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Converted (折算) concentrations for the factors that have them; none by default.

        Values may be floats or NumPy arrays (element-wise).
        """
        return {}

    def cumulative(self, avgs: Mapping[str, Any], period_s: float) -> dict[str, Any]:
        """``-Cou`` amounts over a period of ``period_s`` seconds from the period means.

        The flow factor gives a volume in m³; pollutants with ``cou_unit`` give a mass in kg
        (HJ 212-2017 Appendix D: ΔG = ΔD·C·10⁻³ for water, G = C·Q·10⁻⁶ for flue gas).
        """
        return {}

    def format(self, code: str, value: float) -> str:
        """``value`` of factor ``code`` as wire text with that factor's decimals."""
        f = self.by_code.get(code)
        return f.format(value) if f else f"{value:.3f}"


# --- ambient air --------------------------------------------------------------------------


class AirProfile(Profile):
    """Ambient air station (ST=22) in a North China Plain city.

    Shapes (Beijing time): PM2.5 high in winter (heating season, stagnation) and accumulating at
    night, lowest in the afternoon when the mixing layer is deep; PM10 = PM2.5 / ratio with the
    fine fraction 0.3–0.92 so PM10 ≥ PM2.5 (except rare measurement noise at low levels);
    NO2 and CO peak at the morning (≈ 08 h) and evening (≈ 19–20 h) rush hours; O3 is photochemical,
    peaks around 15 h and in summer, and is titrated by NO2 (O3 falls where NO2 rises); SO2 is higher
    in the heating season with a late-morning fumigation peak. A shared "synoptic" component
    (correlation time 2.5 days) drives pollution episodes in all primary pollutants at once; higher
    wind speed dilutes them.

    ``params`` (defaults): ``pm25`` 50 µg/m³ annual mean level, ``no2`` 35 µg/m³, ``so2`` 12 µg/m³,
    ``co`` 0.9 mg/m³, ``o3`` 70 µg/m³ (photochemical peak level), ``temp`` 13 °C annual mean,
    ``wind`` 2.2 m/s, ``altitude`` 50 m (lowers pressure), ``wind_dir`` 200 ° prevailing.
    """

    kind = "air"
    st = "22"
    factors = (
        Factor("a34004", "PM2.5 细颗粒物", "µg/m³", 1, 1.0, 1500.0),
        Factor("a34002", "PM10 可吸入颗粒物", "µg/m³", 1, 2.0, 3000.0),
        Factor("a21026", "SO2 二氧化硫", "µg/m³", 1, 1.0, 1500.0),
        Factor("a21004", "NO2 二氧化氮", "µg/m³", 1, 1.0, 600.0),
        Factor("a21005", "CO 一氧化碳", "mg/m³", 3, 0.05, 30.0),
        Factor("a05024", "O3 臭氧", "µg/m³", 1, 1.0, 600.0),
        Factor("a01001", "温度 temperature", "°C", 1, -40.0, 50.0),
        Factor("a01002", "湿度 relative humidity", "%", 1, 5.0, 100.0),
        Factor("a01006", "气压 pressure", "kPa", 2, 60.0, 110.0),
        Factor("a01007", "风速 wind speed", "m/s", 1, 0.0, 40.0),
        Factor("a01008", "风向 wind direction", "°", 0, 0.0, 359.4),
    )
    noise = {
        "synoptic": Noise(2.5 * _DAY_S, 0.45),
        "pm": Noise(6 * 3600.0, 0.25),
        "ratio": Noise(12 * 3600.0, 0.06),
        "no2": Noise(3 * 3600.0, 0.22),
        "co": Noise(4 * 3600.0, 0.18),
        "so2": Noise(8 * 3600.0, 0.3),
        "o3": Noise(4 * 3600.0, 0.18),
        "temp": Noise(2 * _DAY_S, 2.5),
        "rh": Noise(1 * _DAY_S, 0.5),
        "press": Noise(2 * _DAY_S, 0.5),
        "wind": Noise(6 * 3600.0, 0.35),
        "wdir": Noise(12 * 3600.0, 1.0),
        "meas": Noise(60.0, 1.0),
    }

    def _shape(self, t: np.ndarray, z: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        h = beijing_hour(t)
        winter = winter_index(t)
        summer = -winter
        syn = z["synoptic"]
        wind_base = self.p("wind", 2.2)
        ws = wind_base * (0.7 + 0.6 * _bump(h, 14.0, 4.0)) * np.exp(z["wind"])
        vent = np.exp(-0.18 * (ws - wind_base))

        pm25 = (self.p("pm25", 50.0) * (1.0 + 0.55 * winter)
                * (0.9 + 0.3 * _bump(h, 23.0, 3.5) + 0.1 * _bump(h, 8.0, 2.0) - 0.25 * _bump(h, 15.0, 3.0))
                * np.exp(syn + z["pm"]) * vent)
        ratio = np.clip(0.58 + 0.08 * winter + z["ratio"], 0.3, 0.92)
        pm10 = pm25 / ratio + 1.5 * z["meas"]

        no2_level = self.p("no2", 35.0) * (1.0 + 0.35 * winter)
        no2 = (no2_level * (0.75 + 0.6 * _bump(h, 8.0, 1.5) + 0.7 * _bump(h, 19.5, 2.0)
                            - 0.25 * _bump(h, 14.0, 3.0))
               * np.exp(0.6 * syn + z["no2"]) * vent ** 0.7)
        co = (self.p("co", 0.9) * (1.0 + 0.6 * winter) * (0.85 + 0.35 * _bump(h, 8.0, 1.5)
                                                          + 0.45 * _bump(h, 20.0, 2.5))
              * np.exp(0.8 * syn + z["co"]) * vent ** 0.6)
        so2 = (self.p("so2", 12.0) * (1.0 + 0.8 * winter) * (0.9 + 0.35 * _bump(h, 11.0, 3.0))
               * np.exp(0.5 * syn + z["so2"]))
        photo = self.p("o3", 70.0) * (1.0 + 0.5 * summer) * (0.2 + 1.1 * _bump(h, 15.0, 3.0))
        # Titration (NO + O3 → NO2): where NO2 is above its seasonal level, O3 is below its own.
        o3 = photo * np.exp(z["o3"]) + 0.55 * (no2_level - no2) + 8.0

        temp = (self.p("temp", 13.0) - 15.0 * winter + 5.0 * _wave(h, 15.0) + z["temp"])
        # Relative humidity falls as the air warms in the afternoon.
        rh = 55.0 + 10.0 * summer - 12.0 * _wave(h, 15.0) + 25.0 * np.tanh(z["rh"])
        press = ((101.3 + 1.1 * winter + 0.1 * _wave(h, 10.0, 12.0) + z["press"])
                 * math.exp(-self.p("altitude", 50.0) / 8400.0))
        wdir = (self.p("wind_dir", 200.0) + 40.0 * winter + 120.0 * z["wdir"]) % 360.0
        return {
            "a34004": pm25, "a34002": np.maximum(pm10, 2.0), "a21026": so2, "a21004": no2,
            "a21005": co, "a05024": o3, "a01001": temp, "a01002": rh, "a01006": press,
            "a01007": ws, "a01008": wdir,
        }


# --- surface water ------------------------------------------------------------------------


def do_saturation(temp_c: np.ndarray) -> np.ndarray:
    """Dissolved-oxygen saturation in fresh water at sea level, mg/L (polynomial fit, 0–40 °C)."""
    t = np.clip(temp_c, 0.0, 40.0)
    return 14.62 - 0.3898 * t + 0.006969 * t**2 - 0.00005896 * t**3


class WaterProfile(Profile):
    """Surface-water quality station (ST=21), a river section around class III (GB 3838-2002).

    Dissolved oxygen follows the saturation value at the water temperature and swings with
    photosynthesis (high in the afternoon, low before dawn); pH moves with it (CO2 uptake). Nutrients
    are higher in winter (less uptake), turbidity and CODMn higher in the summer rainy season.

    ``params`` (defaults, mg/L unless said): ``codmn`` 3.5, ``nh3n`` 0.35, ``tp`` 0.08, ``tn`` 1.6,
    ``cond`` 450 µS/cm, ``turb`` 12 NTU, ``ph`` 7.8, ``temp`` 15 °C annual mean water temperature.
    """

    kind = "water"
    st = "21"
    factors = (
        Factor("w01001", "pH", "无量纲 dimensionless", 2, 4.0, 11.0, code_2005="001"),
        Factor("w01009", "溶解氧 dissolved oxygen", "mg/L", 2, 0.0, 20.0),
        Factor("w01010", "水温 water temperature", "°C", 1, 0.0, 38.0),
        Factor("w01014", "电导率 conductivity", "µS/cm", 1, 10.0, 5000.0),
        Factor("w01019", "高锰酸盐指数 CODMn", "mg/L", 2, 0.3, 40.0),
        Factor("w21003", "氨氮 NH3-N", "mg/L", 3, 0.01, 20.0, code_2005="060"),
        Factor("w21011", "总磷 total phosphorus", "mg/L", 3, 0.005, 5.0, code_2005="101"),
        Factor("w21001", "总氮 total nitrogen", "mg/L", 2, 0.05, 30.0, code_2005="065"),
        Factor("w01003", "浊度 turbidity", "NTU", 1, 0.1, 2000.0),
    )
    noise = {
        "temp": Noise(3 * _DAY_S, 1.0),
        "do": Noise(6 * 3600.0, 0.06),
        "ph": Noise(12 * 3600.0, 0.08),
        "cond": Noise(5 * _DAY_S, 0.1),
        "org": Noise(2 * _DAY_S, 0.2),
        "nut": Noise(2 * _DAY_S, 0.25),
        "turb": Noise(1 * _DAY_S, 0.4),
        "meas": Noise(60.0, 1.0),
    }

    def _shape(self, t: np.ndarray, z: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        h = beijing_hour(t)
        winter = winter_index(t)
        summer = -winter
        temp = self.p("temp", 15.0) - 10.0 * winter + 1.0 * _wave(h, 16.0) + z["temp"]
        photo = _wave(h, 15.0)
        do = do_saturation(temp) * (0.92 + 0.12 * photo) * np.exp(z["do"])
        ph = self.p("ph", 7.8) + 0.15 * photo + z["ph"] + 0.01 * z["meas"]
        cond = self.p("cond", 450.0) * np.exp(z["cond"] - 0.1 * summer)
        codmn = self.p("codmn", 3.5) * np.exp(z["org"] + 0.2 * summer)
        nut = np.exp(z["nut"])
        nh3n = self.p("nh3n", 0.35) * (1.0 + 0.4 * winter) * nut
        tp = self.p("tp", 0.08) * (1.0 + 0.2 * summer) * np.exp(0.7 * z["nut"] + 0.3 * z["turb"])
        tn = self.p("tn", 1.6) * (1.0 + 0.2 * winter) * nut**0.6
        turb = self.p("turb", 12.0) * np.exp(z["turb"] + 0.4 * summer)
        return {
            "w01001": ph, "w01009": do, "w01010": temp, "w01014": cond, "w01019": codmn,
            "w21003": nh3n, "w21011": tp, "w21001": tn, "w01003": turb,
        }


# --- wastewater outlet --------------------------------------------------------------------


class WastewaterProfile(Profile):
    """Wastewater outlet of an enterprise or treatment plant (ST=32), GB 18918-2002 class 1A range.

    Flow w00000 in L/s follows the working day (peaks ≈ 10 h and 16 h); ``-Cou`` of the flow is the
    volume in m³ (Q·T·10⁻³) and of each pollutant the mass in kg (volume · C · 10⁻³), HJ 212-2017
    Appendix D. ``params`` (defaults): ``flow`` 25 L/s, ``cod`` 35 mg/L, ``nh3n`` 2.0, ``tp`` 0.25,
    ``tn`` 9.0, ``ph`` 7.2.
    """

    kind = "wastewater"
    st = "32"
    flow_code = "w00000"
    factors = (
        Factor("w00000", "污水流量 wastewater flow", "L/s", 2, 0.0, 5000.0, code_2005="B01",
               cou_unit="m³", cou_decimals=1),
        Factor("w01018", "化学需氧量 COD", "mg/L", 1, 1.0, 2000.0, code_2005="011", cou_unit="kg"),
        Factor("w21003", "氨氮 NH3-N", "mg/L", 2, 0.02, 200.0, code_2005="060", cou_unit="kg"),
        Factor("w21011", "总磷 total phosphorus", "mg/L", 2, 0.01, 50.0, code_2005="101", cou_unit="kg"),
        Factor("w21001", "总氮 total nitrogen", "mg/L", 2, 0.1, 300.0, code_2005="065", cou_unit="kg"),
        Factor("w01001", "pH", "无量纲 dimensionless", 2, 1.0, 13.0, code_2005="001"),
    )
    noise = {
        "flow": Noise(2 * 3600.0, 0.15),
        "cod": Noise(4 * 3600.0, 0.2),
        "n": Noise(6 * 3600.0, 0.25),
        "p": Noise(6 * 3600.0, 0.25),
        "ph": Noise(6 * 3600.0, 0.15),
    }

    def _shape(self, t: np.ndarray, z: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        h = beijing_hour(t)
        work = 0.6 + 0.5 * _bump(h, 10.0, 3.0) + 0.4 * _bump(h, 16.0, 3.0)
        return {
            "w00000": self.p("flow", 25.0) * work * np.exp(z["flow"]),
            "w01018": self.p("cod", 35.0) * (0.9 + 0.1 * work) * np.exp(z["cod"]),
            "w21003": self.p("nh3n", 2.0) * np.exp(z["n"]),
            "w21011": self.p("tp", 0.25) * np.exp(z["p"]),
            "w21001": self.p("tn", 9.0) * np.exp(0.6 * z["n"]),
            "w01001": self.p("ph", 7.2) + z["ph"],
        }

    def cumulative(self, avgs: Mapping[str, Any], period_s: float) -> dict[str, Any]:
        volume_m3 = avgs["w00000"] * period_s * 1e-3
        out = {"w00000": volume_m3}
        for f in self.factors:
            if f.cou_unit == "kg" and f.code in avgs:
                out[f.code] = volume_m3 * avgs[f.code] * 1e-3
        return out


# --- flue gas CEMS ------------------------------------------------------------------------

#: Reference O2 (%) for the converted concentration, by plant type, from the emission standards:
#: GB 13223-2011 (thermal power plants: coal boilers 6 %, oil/gas boilers 3 %, gas turbines 15 %),
#: GB 13271-2014 (industrial boilers: coal 9 %, oil/gas 3.5 %), GB 18485-2014 (waste incineration
#: 11 %), GB 4915-2013 (cement kilns 10 %).
REFERENCE_O2: dict[str, float] = {
    "coal_power": 6.0,
    "gas_power": 3.0,
    "gas_turbine": 15.0,
    "coal_boiler": 9.0,
    "gas_boiler": 3.5,
    "incinerator": 11.0,
    "cement_kiln": 10.0,
}
PLANT_TYPES: tuple[str, ...] = tuple(REFERENCE_O2)


def converted_concentration(c: Any, o2: Any, o2_ref: float) -> Any:
    """Converted (折算) concentration ``C·(21−O2ref)/(21−O2)`` (HJ 75-2017; reference App. D).

    ``c`` is the measured dry standard-state concentration (mg/m³), ``o2`` the measured O2 (%),
    ``o2_ref`` the reference O2 of the plant's emission standard (%). O2 is capped at 20.5 % so that
    the factor stays finite when the fan runs with the fire out. Works on floats and arrays alike.
    """
    return c * (21.0 - o2_ref) / (21.0 - np.minimum(o2, 20.5))


class SourceProfile(Profile):
    """Flue-gas CEMS at a stack outlet (ST=31), by default an ultra-low-emission coal power boiler.

    Concentrations are measured dry at standard state (273 K, 101.325 kPa), mg/m³; O2 in %, between
    about 9 and 11 % at normal load and rising when the load falls. Flow a00000 is the dry
    standard-state flow in m³/s, Qsn = v·A·273/(273+t)·(101.325+Ps)/101.325·(1−Xsw) with A the duct
    cross-section; its ``-Cou`` is the volume in m³ and each pollutant's ``-Cou`` the emitted mass in
    kg (C·V·10⁻⁶). Temperature, pressure (static, kPa gauge) and humidity are those of flue gas after
    wet desulphurisation. Converted values ``Zs…`` use :data:`REFERENCE_O2` of ``plant``.

    ``params``: ``plant`` (a key of REFERENCE_O2, default coal_power; or give ``o2_ref`` in %),
    ``so2`` 18, ``nox`` 32, ``dust`` 2.8 mg/m³ (mean levels), ``o2`` 9.8 %, ``area`` 12 m²,
    ``velocity`` 14 m/s at full load.
    """

    kind = "source"
    st = "31"
    flow_code = "a00000"
    factors = (
        Factor("a21026", "二氧化硫 SO2", "mg/m³", 2, 0.0, 5000.0, code_2005="02", cou_unit="kg",
               converted=True),
        Factor("a21002", "氮氧化物 NOx", "mg/m³", 1, 0.0, 5000.0, code_2005="03", cou_unit="kg",
               converted=True),
        Factor("a34013", "烟尘 particulate", "mg/m³", 2, 0.0, 1000.0, code_2005="01", cou_unit="kg",
               converted=True),
        Factor("a19001", "氧含量 O2", "%", 2, 0.5, 21.0, code_2005="S01"),
        Factor("a01012", "烟气温度 flue-gas temperature", "°C", 1, -20.0, 300.0, code_2005="S03"),
        Factor("a01013", "烟气压力 flue-gas static pressure", "kPa", 3, -10.0, 10.0, code_2005="S08"),
        Factor("a01014", "烟气湿度 flue-gas humidity", "%", 1, 0.0, 40.0, code_2005="S05"),
        Factor("a01011", "烟气流速 flue-gas velocity", "m/s", 2, 0.0, 40.0, code_2005="S02"),
        Factor("a00000", "废气流量 flue-gas flow (dry, standard)", "m³/s", 2, 0.0, 5000.0,
               code_2005="B02", cou_unit="m³", cou_decimals=1),
    )
    noise = {
        "load": Noise(3 * 3600.0, 0.05),
        "so2": Noise(1800.0, 0.25),
        "nox": Noise(1800.0, 0.15),
        "dust": Noise(3600.0, 0.25),
        "o2": Noise(1200.0, 0.25),
        "temp": Noise(3600.0, 1.0),
        "press": Noise(600.0, 0.03),
        "hum": Noise(3600.0, 0.6),
        "vel": Noise(900.0, 0.2),
    }

    def __init__(self, params: Mapping[str, float | str] | None = None) -> None:
        params = dict(params or {})
        plant = str(params.pop("plant", "coal_power"))
        if plant not in REFERENCE_O2:
            raise ValueError(f"plant: 未知的工厂类型 unknown plant type {plant!r}; one of {PLANT_TYPES}")
        super().__init__({k: v for k, v in params.items() if isinstance(v, int | float)})
        self.plant = plant
        self.o2_ref = self.p("o2_ref", REFERENCE_O2[plant])

    def _shape(self, t: np.ndarray, z: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        h = beijing_hour(t)
        load = np.clip((0.75 + 0.15 * _bump(h, 10.0, 3.0) + 0.15 * _bump(h, 19.0, 3.0)
                        - 0.12 * _bump(h, 3.0, 3.0)) * np.exp(z["load"]), 0.35, 1.0)
        o2 = self.p("o2", 9.8) + 6.0 * (0.85 - load) + z["o2"]
        temp = 46.0 + 6.0 * load + z["temp"]
        press = -0.30 + 0.05 * load + z["press"]
        hum = 11.0 + z["hum"]
        vel = self.p("velocity", 14.0) * load + z["vel"]
        flow = (vel * self.p("area", 12.0) * 273.0 / (273.0 + temp) * (101.325 + press) / 101.325
                * (1.0 - np.clip(hum, 0.0, 40.0) / 100.0))
        return {
            "a21026": self.p("so2", 18.0) * np.exp(z["so2"]),
            "a21002": self.p("nox", 32.0) * (0.9 + 0.15 * load) * np.exp(z["nox"]),
            "a34013": self.p("dust", 2.8) * np.exp(z["dust"]),
            "a19001": o2, "a01012": temp, "a01013": press, "a01014": hum,
            "a01011": vel, "a00000": flow,
        }

    def converted(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``{code: Zs value}`` for SO2, NOx and particulate at the measured O2 of ``values``."""
        o2 = values["a19001"]
        return {f.code: converted_concentration(values[f.code], o2, self.o2_ref)
                for f in self.factors if f.converted and f.code in values}

    def cumulative(self, avgs: Mapping[str, Any], period_s: float) -> dict[str, Any]:
        volume_m3 = avgs["a00000"] * period_s
        out = {"a00000": volume_m3}
        for f in self.factors:
            if f.cou_unit == "kg" and f.code in avgs:
                out[f.code] = avgs[f.code] * volume_m3 * 1e-6
        return out


PROFILES: dict[str, type[Profile]] = {
    "air": AirProfile,
    "water": WaterProfile,
    "wastewater": WastewaterProfile,
    "source": SourceProfile,
}
#: Accepted aliases of profile kinds.
ALIASES: dict[str, str] = {"cems": "source", "gas": "source", "flue": "source", "surface_water": "water"}


def profile_for(kind: str, params: Mapping[str, float | str] | None = None) -> Profile:
    """A fresh profile (with its own AR(1) state) for ``kind``: air, water, wastewater or source."""
    k = ALIASES.get(kind, kind)
    cls = PROFILES.get(k)
    if cls is None:
        raise ValueError(f"kind: 未知的站点类型 unknown station kind {kind!r}; one of {sorted(PROFILES)}")
    return cls(params)  # type: ignore[arg-type]
