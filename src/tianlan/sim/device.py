"""A simulated on-site device (现场机 / data logger) that builds HJ 212 upload frames.

:class:`SimDevice` pairs a value :class:`~tianlan.sim.profiles.Profile` with the identity and
dialect of one data logger and turns times into complete frames (``##LLLL…CCCC\\r\\n``) through the
codec ``tianlan.hj212``. Uploads (HJ 212-2017 §6.6.5 Table 9, reference §4.2):

* CN 2011 real-time data: ``DataTime`` = the instant of acquisition; ``-Rtd``, ``-Flag`` (and
  ``-ZsRtd`` for flue-gas pollutants);
* CN 2051 minute data, 2061 hour data, 2031 day data: ``DataTime`` = the START of the period
  (reference §3.8); ``-Cou`` (flow volume in m³, emitted mass in kg), ``-Min``, ``-Avg``,
  ``-Max`` (``-ZsMin``/``-ZsAvg``/``-ZsMax`` for flue-gas pollutants) and ``-Flag``.

Flags: every value is sent with ``-Flag=N`` (instrument normal, reference §4.5).

Dialects: ``protocol="2017"`` sends ``Flag=5`` (version 2017, answer wanted) and the 2017 factor
codes; ``protocol="2005"`` sends ``Flag=1`` (answer wanted, no version bits; ``flag_2005=None`` omits
Flag entirely, as many 2005 loggers do, in which case no answer is expected) and the 2005 3-character
codes where the 2005 table has one (wastewater B01/011/060/101/065/001, flue gas B02/01/02/03/S01…,
see :data:`~tianlan.sim.profiles.Factor.code_2005`) for the device's ST; a surface-water (ST 21)
device sends 2017 codes, since the 2005 tables cover only pollution sources. QN is sent in both dialects (optional in 2005)
because the client matches 9014 answers by QN. Every upload gets a QN of its own: the device clock in
milliseconds (Beijing time, ``YYYYMMDDhhmmsszzz``), advanced by at least 1 ms per upload.

A data segment longer than 1024 characters (HJ 212-2017 §6.3.1) is split into sub-packets (Flag bit
D, PNUM/PNO, reference §3.7): each repeats DataTime, carries a disjoint set of factors and has its
own QN.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tianlan.hj212 import CrcVariant, Dialect, Packet, encode, make_cp
from tianlan.hj212.codes import normalise_code
from tianlan.model.timeutil import utc_to_hj212_time
from tianlan.sim.profiles import Profile, profile_for

CN_REALTIME = "2011"
CN_MINUTE = "2051"
CN_HOUR = "2061"
CN_DAY = "2031"
UPLOAD_CNS: tuple[str, ...] = (CN_REALTIME, CN_MINUTE, CN_HOUR, CN_DAY)
MIN_INTERVALS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)
"""Allowed MinInterval values, minutes (HJ 212-2017 Table 4)."""

MAX_SEGMENT = 1024
"""Largest standard data segment, characters (HJ 212-2017 §6.3.1)."""

_BEIJING_S = 8 * 3600
#: Values averaged into one minute/hour/day record (sub-samples per period).
_SUBSAMPLES: dict[str, int] = {CN_MINUTE: 6, CN_HOUR: 12, CN_DAY: 24}


@dataclass(frozen=True, slots=True)
class Upload:
    """One upload frame ready to send: its bytes and what the client needs to match the answer.

    ``qn`` is the QN the 9014 answer must echo (None for a frame without QN), ``wants_ack`` whether
    the Flag asked for an answer (bit A), ``data_time`` the HJ 212 DataTime text (Beijing time).
    """

    mn: str
    qn: str | None
    cn: str
    data_time: str
    frame: bytes
    wants_ack: bool = True

    @classmethod
    def from_frame(cls, frame: bytes, mn: str | None = None) -> Upload:
        """An Upload for pre-built frame bytes, reading QN, CN, MN, Flag and DataTime from its text.

        Fast byte scanning, no CRC check: the frame is the caller's. An absent Flag (2005 style)
        means no answer is expected; otherwise bit A (value 1) decides.
        """
        cp_at = frame.find(b"CP=&&")
        header = frame[6:cp_at if cp_at >= 0 else len(frame)]
        items: dict[bytes, bytes] = {}
        for part in header.split(b";"):
            key, sep, value = part.partition(b"=")
            if sep:
                items[key.strip()] = value.strip()
        flag = items.get(b"Flag")
        dt_at = frame.find(b"DataTime=", cp_at if cp_at >= 0 else 0)
        data_time = frame[dt_at + 9:dt_at + 23].decode("ascii", "replace") if dt_at >= 0 else ""
        qn = items.get(b"QN")
        return cls(
            mn=mn if mn is not None else items.get(b"MN", b"").decode("ascii", "replace"),
            qn=qn.decode("ascii") if qn else None,
            cn=items.get(b"CN", b"").decode("ascii", "replace"),
            data_time=data_time,
            frame=bytes(frame),
            wants_ack=flag is not None and flag.isdigit() and int(flag) & 1 == 1,
        )


def period_seconds(cn: str, min_interval: int = 10) -> int:
    """Length of the period of a data upload, s: minute data use ``min_interval`` minutes."""
    if cn == CN_MINUTE:
        return min_interval * 60
    if cn == CN_HOUR:
        return 3600
    if cn == CN_DAY:
        return 86400
    return 0


def period_start(t_utc: int, cn: str, min_interval: int = 10) -> int:
    """Start of the period containing ``t_utc`` (UTC s), aligned on Beijing clock boundaries."""
    p = period_seconds(cn, min_interval)
    if p == 0:
        return int(t_utc)
    local = int(t_utc) + _BEIJING_S
    return local - local % p - _BEIJING_S


def cn_for_step(step_s: int) -> str:
    """The upload CN that matches a data-time step: ≥ 1 day → 2031, ≥ 1 h → 2061, whole minutes
    that are an allowed MinInterval → 2051, otherwise real-time 2011."""
    if step_s >= 86400 and step_s % 86400 == 0:
        return CN_DAY
    if step_s >= 3600 and step_s % 3600 == 0:
        return CN_HOUR
    if step_s % 60 == 0 and step_s // 60 in MIN_INTERVALS:
        return CN_MINUTE
    return CN_REALTIME


def format_qn(ms: int) -> str:
    """QN text ``YYYYMMDDhhmmsszzz`` (Beijing time) for UTC epoch milliseconds."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(ms // 1000 + _BEIJING_S)) + f"{ms % 1000:03d}"


@dataclass
class SimDevice:
    """A simulated data logger: identity, dialect, CRC variant and a value profile.

    ``kind`` selects the profile (air, water, wastewater, source); ``st`` defaults to the profile's
    system code; ``params`` tune the profile (see each profile class); ``seed`` makes values
    reproducible. ``min_interval`` is the minute-data interval in minutes (HJ 212-2017 Table 4).
    ``codes`` limits the factors sent (None: all of the profile). ``flag_2005`` is the Flag of 2005
    uploads (1: answer wanted; None: no Flag). ``clock`` returns UTC epoch seconds and feeds the QN
    (device clock).
    """

    mn: str
    pw: str
    kind: str = "air"
    st: str | None = None
    protocol: str = "2017"
    crc: CrcVariant = CrcVariant.STANDARD
    params: Mapping[str, float | str] = field(default_factory=dict)
    seed: int = 0
    min_interval: int = 10
    flag_2005: int | None = 1
    codes: Sequence[str] | None = None
    clock: Callable[[], float] = time.time
    profile: Profile = field(init=False, repr=False)
    rng: np.random.Generator = field(init=False, repr=False)
    _last_qn_ms: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.protocol not in ("2017", "2005"):
            raise ValueError(f"protocol: 只支持 2017 或 2005 / must be '2017' or '2005', got {self.protocol!r}")
        if self.min_interval not in MIN_INTERVALS:
            raise ValueError(f"min_interval: 不允许的分钟间隔 / not one of {MIN_INTERVALS}: {self.min_interval}")
        self.crc = CrcVariant(self.crc)
        self.profile = profile_for(self.kind, self.params)
        if self.st is None:
            self.st = self.profile.st
        if self.codes is not None:
            unknown = [c for c in self.codes if c not in self.profile.by_code]
            if unknown:
                raise ValueError(f"parameters: {self.kind} 设备没有这些因子 / no such factors for {self.kind}: "
                                 f"{unknown}")
            self.codes = tuple(self.codes)
        self.rng = np.random.default_rng(self.seed)

    # -- identity and header -------------------------------------------------------------

    def next_qn(self) -> str:
        """A QN never used before by this device: the clock in ms, at least 1 ms after the last."""
        ms = max(int(self.clock() * 1000), self._last_qn_ms + 1)
        self._last_qn_ms = ms
        return format_qn(ms)

    @property
    def wants_ack(self) -> bool:
        """Whether uploads set Flag bit A (answer wanted)."""
        return self.protocol == "2017" or (self.flag_2005 is not None and self.flag_2005 & 1 == 1)

    def _flag(self, split: bool) -> int | None:
        if self.protocol == "2017":
            return 7 if split else 5
        if self.flag_2005 is None:
            return 2 if split else None
        return self.flag_2005 | (2 if split else 0)

    def wire_code(self, code: str) -> str:
        """The factor code as this device sends it: for 2005 devices the HJ/T 212-2005 code where one
        exists and the platform maps it back for this ST (``normalise_code``: the 2005 tables are those
        of flue gas, ST 31, and wastewater, ST 32); otherwise the 2017 code."""
        if self.protocol == "2005":
            f = self.profile.by_code.get(code)
            if f is not None and f.code_2005 and normalise_code(f.code_2005, self.st) == code:
                return f.code_2005
        return code

    # -- values -----------------------------------------------------------------------------

    def realtime_items(self, values: Mapping[str, float]) -> dict[str, dict[str, str]]:
        """CP factor items of a real-time upload from ``{code: value}``."""
        zs = self.profile.converted(values)
        out: dict[str, dict[str, str]] = {}
        for f in self.profile.factors:
            if f.code not in values or (self.codes is not None and f.code not in self.codes):
                continue
            item = {"Rtd": f.format(values[f.code])}
            if f.code in zs:
                item["ZsRtd"] = f.format(zs[f.code])
            item["Flag"] = "N"
            out[self.wire_code(f.code)] = item
        return out

    def period_items(self, series: Mapping[str, np.ndarray], period_s: int) -> dict[str, dict[str, str]]:
        """CP factor items of one minute/hour/day upload from sub-sample arrays ``{code: values}``."""
        return self._period_table({c: np.asarray(a, dtype=float)[None, :] for c, a in series.items()},
                                  period_s)[0]

    def _period_table(self, mats: Mapping[str, np.ndarray], period_s: int) -> list[dict[str, dict[str, str]]]:
        """Factor items of several records; ``mats[code]`` is (records × sub-samples)."""
        prof = self.profile
        rows = next(iter(mats.values())).shape[0]
        avg = {c: m.mean(axis=1) for c, m in mats.items()}
        lo = {c: m.min(axis=1) for c, m in mats.items()}
        hi = {c: m.max(axis=1) for c, m in mats.items()}
        cou = prof.cumulative(avg, period_s)
        zs = prof.converted(mats)
        cols: list[tuple[str, list[tuple[str, list[str]]]]] = []
        for f in prof.factors:
            if f.code not in mats or (self.codes is not None and f.code not in self.codes):
                continue
            fmt = f.format
            col: list[tuple[str, list[str]]] = []
            if f.code in cou:
                col.append(("Cou", [f"{v:.{f.cou_decimals}f}" for v in np.asarray(cou[f.code]).tolist()]))
            col.append(("Min", [fmt(v) for v in lo[f.code].tolist()]))
            col.append(("Avg", [fmt(v) for v in avg[f.code].tolist()]))
            col.append(("Max", [fmt(v) for v in hi[f.code].tolist()]))
            z = zs.get(f.code)
            if z is not None:
                col.append(("ZsMin", [fmt(v) for v in z.min(axis=1).tolist()]))
                col.append(("ZsAvg", [fmt(v) for v in z.mean(axis=1).tolist()]))
                col.append(("ZsMax", [fmt(v) for v in z.max(axis=1).tolist()]))
            col.append(("Flag", ["N"] * rows))
            cols.append((self.wire_code(f.code), col))
        return [{code: {suffix: texts[i] for suffix, texts in col} for code, col in cols} for i in range(rows)]

    def items_many(self, cn: str, times: list[int]) -> list[tuple[str, dict[str, dict[str, str]]]]:
        """``(DataTime, factor items)`` for each time of ``times`` (UTC s), values drawn in order.

        For period CNs each time is aligned to the start of its period and the period is sampled at
        evenly spaced points (6 for minute, 12 for hour, 24 for day data) for Min/Avg/Max; converted
        values are computed per sub-sample, then aggregated.
        """
        if cn == CN_REALTIME:
            arrays = self.profile.sample_many(np.asarray(times, dtype=float), self.rng)
            return [(utc_to_hj212_time(t), self.realtime_items({c: float(a[i]) for c, a in arrays.items()}))
                    for i, t in enumerate(times)]
        p = period_seconds(cn, self.min_interval)
        if p == 0:
            raise ValueError(f"cn: 不支持的上传命令 / unsupported upload CN {cn!r}; one of {UPLOAD_CNS}")
        if not times:
            return []
        n = _SUBSAMPLES[cn]
        starts = [period_start(t, cn, self.min_interval) for t in times]
        offsets = (np.arange(n) + 0.5) * (p / n)
        grid = (np.asarray(starts, dtype=float)[:, None] + offsets[None, :]).ravel()
        arrays = self.profile.sample_many(grid, self.rng)
        table = self._period_table({c: a.reshape(len(starts), n) for c, a in arrays.items()}, p)
        return [(utc_to_hj212_time(s), items) for s, items in zip(starts, table, strict=True)]

    # -- frames ---------------------------------------------------------------------------

    def _packet(self, cn: str, data_time: str, factors: Mapping[str, Mapping[str, str]],
                flag: int | None, pnum: int | None = None, pno: int | None = None) -> tuple[str, bytes]:
        qn = self.next_qn()
        dialect = Dialect.HJ212_2017 if self.protocol == "2017" else Dialect.HJ212_2005
        packet = Packet(
            qn=qn, st=str(self.st), cn=cn, pw=self.pw, mn=self.mn, flag=flag, pnum=pnum, pno=pno,
            cp=make_cp(data_time, {k: dict(v) for k, v in factors.items()}, {}),
            header={}, dialect=dialect, crc_variant=None, relaxations=(),
        )
        return qn, encode(packet, crc=self.crc)

    def build(self, cn: str, data_time: str, factors: Mapping[str, Mapping[str, str]]) -> list[Upload]:
        """Upload(s) for already formatted factor items; split into sub-packets when too long."""
        qn, frame = self._packet(cn, data_time, factors, self._flag(False))
        if len(frame) - 12 <= MAX_SEGMENT or len(factors) < 2:
            return [Upload(self.mn, qn, cn, data_time, frame, self.wants_ack)]
        codes = list(factors)
        for parts in range(2, len(codes) + 1):
            size = -(-len(codes) // parts)
            chunks = [codes[i:i + size] for i in range(0, len(codes), size)]
            built = [self._packet(cn, data_time, {c: factors[c] for c in chunk}, self._flag(True),
                                  len(chunks), k + 1) for k, chunk in enumerate(chunks)]
            if all(len(f) - 12 <= MAX_SEGMENT for _, f in built) or size == 1:
                return [Upload(self.mn, q, cn, data_time, f, self.wants_ack) for q, f in built]
        raise AssertionError("unreachable")

    def uploads(self, cn: str, t_utc: int) -> list[Upload]:
        """Upload(s) of command ``cn`` for time ``t_utc`` (UTC s; aligned to the period start)."""
        return self.uploads_many(cn, [t_utc])

    def uploads_many(self, cn: str, times: list[int]) -> list[Upload]:
        """Uploads for several times at once (vectorised sampling), in time order."""
        out: list[Upload] = []
        for data_time, items in self.items_many(cn, list(times)):
            out.extend(self.build(cn, data_time, items))
        return out

    def series(self, cn: str, start_utc: int, step_s: int, count: int) -> list[Upload]:
        """``count`` consecutive uploads from ``start_utc`` every ``step_s`` seconds."""
        return self.uploads_many(cn, [start_utc + i * step_s for i in range(count)])

    def realtime(self, t_utc: int) -> list[Upload]:
        """CN 2011 real-time upload at ``t_utc`` (UTC s)."""
        return self.uploads(CN_REALTIME, t_utc)

    def minute(self, t_utc: int) -> list[Upload]:
        """CN 2051 minute-data upload of the MinInterval period containing ``t_utc``."""
        return self.uploads(CN_MINUTE, t_utc)

    def hour(self, t_utc: int) -> list[Upload]:
        """CN 2061 hour-data upload of the hour containing ``t_utc``."""
        return self.uploads(CN_HOUR, t_utc)

    def day(self, t_utc: int) -> list[Upload]:
        """CN 2031 day-data upload of the Beijing day containing ``t_utc``."""
        return self.uploads(CN_DAY, t_utc)
