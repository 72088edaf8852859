"""PRV-03 packet integrity on constructed series and packet logs: fires on its cases, quiet on a clean log."""

from __future__ import annotations

import calendar
import json

import numpy as np
import pytest

from tianlan.errors import InputError
from tianlan.qc.checks.provenance import qn_time
from tianlan.qc.core import Context, Finding, Series, Status, get

T0 = calendar.timegm((2024, 3, 4, 0, 0, 0)) - 8 * 3600  # 2024-03-04 00:00 Beijing
H = 3600


def hourly(n: int, *, times=None, values=None, received=None) -> Series:
    t = T0 + H * np.arange(n, dtype=np.int64) if times is None else np.asarray(times, dtype=np.int64)
    v = np.round(30 + 5 * np.sin(np.arange(t.size)), 1) if values is None else np.asarray(values, dtype=float)
    return Series("S1", "a34004", t, v, received=received)


def run(det: str, series: Series, ctx: Context | None = None, **params) -> list[Finding]:
    """``det`` with its defaults overridden by ``params``; every evidence payload must be strict JSON."""
    spec = get(det)
    out = spec.func(series, ctx or Context(series.station), **spec.resolve(params))
    for f in out:
        json.dumps(f.evidence, allow_nan=False)
    return out


def qn(t_utc: float, ms: int = 0) -> str:
    """The QN a logger would stamp at UTC ``t_utc`` (Beijing time, ms)."""
    return str(np.datetime64(int(t_utc) + 8 * 3600, "s")).replace("-", "").replace("T", "").replace(":", "") + f"{ms:03d}"


def packets(n: int, delay_s: int = 60) -> list[dict]:
    return [{"time_utc": T0 + i * H, "qn": qn(T0 + (i + 1) * H + delay_s), "status": "ok", "content": f"h{i}"} for i in range(n)]


def test_parameters_resolve_and_unknown_ones_are_errors() -> None:
    spec = get("PRV-03")
    assert spec.family == "prv" and spec.doc
    assert spec.resolve({}) == spec.defaults() == {"clock_tolerance_s": 120}
    with pytest.raises(InputError, match="PRV-03.tolerance"):
        spec.resolve({"tolerance": 1})


def test_qn_is_beijing_device_time() -> None:
    assert qn_time("20240304010000123") == pytest.approx(T0 + H + 0.123)
    assert qn_time("2024030401") is None and qn_time(None) is None and qn_time("2024130401000012x") is None


# --- PRV-03 -------------------------------------------------------------------------------------


def test_prv03_clean_packet_log_is_quiet() -> None:
    s = hourly(24)
    assert run("PRV-03", s, Context("S1", attrs={"packets": packets(24)})) == []
    assert run("PRV-03", s) == []  # no packet log: not evaluated


def test_prv03_crc_failures_healed_or_not() -> None:
    s = hourly(24)
    p = packets(24)
    p.insert(5, {"time_utc": T0 + 5 * H, "qn": None, "status": "crc", "reason": "CRC 1A2B != 3C4D"})  # resent fine
    p[10] = {"time_utc": T0 + 9 * H, "qn": None, "status": "crc", "reason": "CRC mismatch"}  # replaces hour 9's only packet
    f = run("PRV-03", s, Context("S1", attrs={"packets": p}))
    assert [(x.reason, x.status, x.start, x.end) for x in f] == [("crc-failure", Status.SUSPECT, 9, 10)]
    assert f[0].evidence["sample"][0]["reason"] == "CRC mismatch"


def test_prv03_duplicate_and_backwards_qn_and_wrong_identity() -> None:
    s = hourly(24)
    p = packets(24)
    p[7]["qn"] = p[6]["qn"]  # one QN on two periods
    p[12]["qn"] = qn(T0 + 3 * H)  # the device clock jumped back
    p[18]["status"] = "mn"
    p[18]["reason"] = "MN 8888 not this station"
    p.append({**p[20]})  # a plain retransmission: same QN, same content — fine
    f = run("PRV-03", s, Context("S1", attrs={"packets": p}))
    got = [(x.reason, x.start) for x in f]
    assert ("duplicate-qn", 7) in got and ("qn-sequence", 12) in got and ("wrong-identity", 18) in got
    assert ("qn-before-period-end", 12) in got  # a QN at 03:00 for the 12:00–13:00 hour
    assert not any(start == 20 for _, start in got)
    assert all(x.status == Status.SUSPECT for x in f)


def test_prv03_data_sent_before_the_hour_ended() -> None:
    s = hourly(6)
    p = packets(6)
    p[4]["qn"] = qn(T0 + 4 * H + 1800)  # the 04:00–05:00 value, stamped 04:30
    f = run("PRV-03", s, Context("S1", attrs={"packets": p}))
    assert [(x.reason, x.start) for x in f] == [("qn-before-period-end", 4)]
    assert run("PRV-03", s, Context("S1", attrs={"packets": p}), clock_tolerance_s=3600) == []
