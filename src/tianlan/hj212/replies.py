"""Answers and platform requests (HJ 212-2017 §6.5, Appendix C; HJ/T 212-2005 §6.5 forms).

Every answer echoes the QN of the packet it answers and uses ``ST=91``, the same PW and MN, and a
Flag with the version bits kept and bits A and D cleared (``Flag=4`` for 2017, 8 for 2025;
HJ 212-2017 App. C). HJ/T 212-2005 devices get the 2005 forms, where the answered QN sits inside CP.

Answers are framed with the CRC variant the device itself used (`Packet.crc_variant`), falling back
to the standard algorithm, unless `crc` says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from .codes import INTERACTION_ST, UPLOAD_CNS
from .crc import CrcVariant
from .packet import Dialect, Packet, build_frame

__all__ = [
    "command_request",
    "data_ack",
    "exec_result",
    "is_upload",
    "new_qn",
    "notice_ack",
    "replies_for",
    "request_ack",
    "time_get_request",
    "time_set_request",
]

_ANSWER_CNS: Final = frozenset({"9011", "9012", "9013", "9014"})
_UPLOAD_CNS: Final[frozenset[str]] = UPLOAD_CNS
# Notices a device sends to the platform, each answered with 9013: time-calibration request
# (HJ 212-2017 C.4), 2005 alarm event (HJ/T 212-2005), 2025 heartbeat (reference §9, uncertain).
_DEVICE_NOTICE_CNS: Final = frozenset({"1013", "2072", "9015"})
# Flag of a platform request that wants an answer (bit A), per dialect version bits.
_REQUEST_FLAG: dict[Dialect, int] = {Dialect.HJ212_2005: 1, Dialect.HJ212_2017: 5, Dialect.HJ212_2025: 9}


def is_upload(cn: str | None) -> bool:
    """Whether `cn` is a data upload a device sends (answered 9014 when Flag bit A = 1), any dialect."""
    return cn in UPLOAD_CNS


def new_qn(now: datetime) -> str:
    """Return a request number QN for `now`: 17 digits ``YYYYMMDDhhmmsszzz`` (HJ 212-2017 Table 3)."""
    return f"{now:%Y%m%d%H%M%S}{now.microsecond // 1000:03d}"


def _crc(p: Packet, crc: CrcVariant | None) -> CrcVariant:
    if crc is not None:
        return crc
    return p.crc_variant if p.crc_variant is not None else CrcVariant.STANDARD


def _answer_flag(p: Packet) -> int:
    """Version bits of the packet answered, A and D cleared (4 when it carried no Flag)."""
    return p.flag & ~3 if p.flag is not None else 4


def _answer(p: Packet, cn: str, cp: str, crc: CrcVariant | None) -> bytes:
    """HJ 212-2017 answer form: ``QN=<qn>;ST=91;CN=<cn>;PW=…;MN=…;Flag=<v>;CP=&&<cp>&&``."""
    qn, pw, mn = p.qn, p.pw, p.mn
    if qn is not None and pw is not None and mn is not None:  # the usual answer, in one piece
        segment = f"QN={qn};ST={INTERACTION_ST};CN={cn};PW={pw};MN={mn};Flag={_answer_flag(p)};CP=&&{cp}&&"
        return build_frame(segment, _crc(p, crc))
    parts = [f"QN={qn}"] if qn is not None else []
    parts.append(f"ST={INTERACTION_ST};CN={cn}")
    if pw is not None:
        parts.append(f"PW={pw}")
    if mn is not None:
        parts.append(f"MN={mn}")
    parts.append(f"Flag={_answer_flag(p)};CP=&&{cp}&&")
    return build_frame(";".join(parts), _crc(p, crc))


def _answer_2005(p: Packet, cn: str, cp_items: list[str], crc: CrcVariant | None, flag: bool = False) -> bytes:
    """HJ/T 212-2005 answer form: ``ST=91;CN=<cn>;PW=…;MN=…[;Flag=0];CP=&&QN=<qn>;…&&``."""
    parts = [f"ST={INTERACTION_ST};CN={cn}"]
    if p.pw is not None:
        parts.append(f"PW={p.pw}")
    if p.mn is not None:
        parts.append(f"MN={p.mn}")
    if flag:
        parts.append("Flag=0")
    cp = ([f"QN={p.qn}"] if p.qn is not None else []) + cp_items
    parts.append(f"CP=&&{';'.join(cp)}&&")
    return build_frame(";".join(parts), _crc(p, crc))


def data_ack(p: Packet, *, crc: CrcVariant | None = None) -> bytes:
    """Return the 9014 data answer to the upload `p` (HJ 212-2017 §6.5, C.5 …; 2005 form §6.5).

    2017/2025: ``QN=<qn>;ST=91;CN=9014;PW=<pw>;MN=<mn>;Flag=4;CP=&&&&`` (Flag keeps the version
    bits: 8 for 2025). 2005: ``ST=91;CN=9014;CP=&&QN=<qn>;CN=<cn>[;PNO=<pno>;PNUM=<pnum>]&&`` — the
    2005 examples carry no PW/MN; without a QN (2005 uploads often have none) CP holds ``CN`` alone.
    """
    if p.dialect is Dialect.HJ212_2005:
        items = [f"QN={p.qn}"] if p.qn is not None else []
        items.append(f"CN={p.cn}")
        if p.pno is not None:
            items.append(f"PNO={p.pno}")
        if p.pnum is not None:
            items.append(f"PNUM={p.pnum}")
        segment = f"ST={INTERACTION_ST};CN=9014;CP=&&{';'.join(items)}&&"
        return build_frame(segment, _crc(p, crc))
    return _answer(p, "9014", "", crc)


def request_ack(p: Packet, qn_rtn: int = 1, *, crc: CrcVariant | None = None) -> bytes:
    """Return the 9011 request answer to the request `p` with ``QnRtn`` (HJ 212-2017 Table 7:
    1 ready, 2 rejected, 3 PW wrong, 4 MN, 5 ST, 6 Flag, 7 QN, 8 CN, 9 CRC wrong, 100 unknown)."""
    if p.dialect is Dialect.HJ212_2005:
        return _answer_2005(p, "9011", [f"QnRtn={qn_rtn}"], crc, flag=True)
    return _answer(p, "9011", f"QnRtn={qn_rtn}", crc)


def exec_result(p: Packet, exe_rtn: int = 1, *, crc: CrcVariant | None = None) -> bytes:
    """Return the 9012 execution result for the request `p` with ``ExeRtn`` (HJ 212-2017 Table 6:
    1 success, 2 failed, 3 condition error, 4 timeout, 5 busy, 6 fault, 100 no data)."""
    if p.dialect is Dialect.HJ212_2005:
        return _answer_2005(p, "9012", [f"ExeRtn={exe_rtn}"], crc)
    return _answer(p, "9012", f"ExeRtn={exe_rtn}", crc)


def notice_ack(p: Packet, *, crc: CrcVariant | None = None) -> bytes:
    """Return the 9013 notice answer to the notice `p` (HJ 212-2017 §6.5, C.4), empty CP."""
    if p.dialect is Dialect.HJ212_2005:
        return _answer_2005(p, "9013", [], crc)
    return _answer(p, "9013", "", crc)


def replies_for(p: Packet) -> list[bytes]:
    """Return what the platform must send back for the incoming packet `p` (HJ 212-2017 §6.5).

    * bad CRC (no variant matched): nothing — the standard stops processing (reference §5.1);
    * answers 9011-9014: nothing;
    * notices 1013 (time calibration), 2072 (2005 alarm event), 9015 (2025 heartbeat): 9013;
    * uploads with Flag bit A = 1: 9014 (each sub-packet separately, with its own QN);
    * anything else, or A = 0: nothing.

    Call it per received packet, before sub-packet reassembly. The time calibration a 1013 asks
    for (a 1012 request) is the caller's business.
    """
    cn = p.cn
    if p.crc_variant is None or cn is None or cn in _ANSWER_CNS:
        return []
    if cn in _DEVICE_NOTICE_CNS:
        return [notice_ack(p)]
    if p.flag is not None and p.flag & 1 and cn in _UPLOAD_CNS:  # Flag bit A: the sender wants an answer
        return [data_ack(p)]
    return []


def _dialect(dialect: Dialect | str | int) -> Dialect:
    return dialect if isinstance(dialect, Dialect) else Dialect(str(dialect))


def command_request(
    cn: str,
    *,
    mn: str,
    pw: str,
    st: str = "22",
    cp: Mapping[str, str] | None = None,
    qn: str | None = None,
    dialect: Dialect | str | int = Dialect.HJ212_2017,
    crc: CrcVariant = CrcVariant.STANDARD,
) -> bytes:
    """Return a platform → device request frame (HJ 212-2017 §6.5.1, App. C) that wants an answer.

    Flag = version bits + A (5 for 2017, 9 for 2025, 1 for 2005 — no D bit, as no PNUM/PNO is sent).
    `qn` defaults to `new_qn` of the local clock (devices report Beijing time).
    """
    flag = _REQUEST_FLAG[_dialect(dialect)]
    body = ";".join(f"{key}={value}" for key, value in (cp or {}).items())
    request_qn = qn if qn is not None else new_qn(datetime.now())
    return build_frame(f"QN={request_qn};ST={st};CN={cn};PW={pw};MN={mn};Flag={flag};CP=&&{body}&&", crc)


def time_get_request(
    *,
    mn: str,
    pw: str,
    st: str = "22",
    qn: str | None = None,
    pol_id: str | None = None,
    dialect: Dialect | str | int = Dialect.HJ212_2017,
    crc: CrcVariant = CrcVariant.STANDARD,
) -> bytes:
    """Return a 1011 "get device time" request (HJ 212-2017 C.2); `pol_id` selects an instrument,
    absent = the data logger."""
    cp = {"PolId": pol_id} if pol_id else None
    return command_request("1011", mn=mn, pw=pw, st=st, cp=cp, qn=qn, dialect=dialect, crc=crc)


def time_set_request(
    *,
    mn: str,
    pw: str,
    system_time: datetime,
    st: str = "22",
    qn: str | None = None,
    pol_id: str | None = None,
    dialect: Dialect | str | int = Dialect.HJ212_2017,
    crc: CrcVariant = CrcVariant.STANDARD,
) -> bytes:
    """Return a 1012 "set device time" request with ``SystemTime`` N14 ``YYYYMMDDhhmmss`` in the
    device's clock (HJ 212-2017 C.3; devices keep Beijing time, UTC+8)."""
    cp: dict[str, str] = {"PolId": pol_id} if pol_id else {}
    cp["SystemTime"] = f"{system_time:%Y%m%d%H%M%S}"
    return command_request("1012", mn=mn, pw=pw, st=st, cp=cp, qn=qn, dialect=dialect, crc=crc)
