"""How a simulated device answers requests and notices from the platform (HJ 212-2017 App. C).

The platform may talk first on a fresh connection (time calibration, OverTime/ReCount, intervals,
reference §5.5); a device that stayed silent would make the platform retry and time out. Answers
(reference §5.3): a request gets **9011** with ``QnRtn=1`` (ready), then for "get" commands an upload
carrying the value with the request's CN and QN, then **9012** with ``ExeRtn`` (1 success, 100 no
data); a notice (2012, 2022) gets **9013**. Answers are built by the codec
(``request_ack``, ``exec_result``, ``notice_ack``): they echo the request's QN, PW and MN, use ST=91
and the request's version bits (Flag=4 in 2017); 2005 requests get the 2005 forms with the QN
inside CP.

CN 1000 (``OverTime`` s, ``ReCount``) changes the client's answer timeout and resend count, as a real
data logger would.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tianlan.hj212 import CrcVariant, Dialect, Packet, encode, exec_result, make_cp, notice_ack, request_ack
from tianlan.model.timeutil import utc_to_hj212_time

if TYPE_CHECKING:
    from tianlan.sim.client import DeviceClient

NOTICES = frozenset({"2012", "2022"})
ANSWERS = frozenset({"9011", "9012", "9013", "9014"})
HISTORY = frozenset({"2031", "2041", "2051", "2061"})
SETTERS = frozenset({"1012", "1062", "1064", "1072", "2011", "2021",
                     "3011", "3012", "3013", "3014", "3015", "3016", "3021"})


class CommandResponder:
    """Answers platform packets received by a :class:`~tianlan.sim.client.DeviceClient`.

    ``rtd_interval`` (s) and ``min_interval`` (min) are what 1061/1063 report and 1062/1064 set.
    ``received`` lists ``(CN, QN)`` of every request or notice handled, for tests and statistics.
    """

    def __init__(self, client: DeviceClient, *, crc: CrcVariant = CrcVariant.STANDARD) -> None:
        self.client = client
        self.crc = crc
        self.rtd_interval = 30
        self.min_interval = 10
        self.received: list[tuple[str, str | None]] = []

    def handle(self, req: Packet) -> None:
        """Answer ``req`` (already decoded) by writing the answer frames to the client's link."""
        cn = req.cn or ""
        if cn in ANSWERS:
            return
        qn = req.qn or req.cp.fields.get("QN")
        self.received.append((cn, qn))
        self.client.stats.commands += 1
        if cn in NOTICES:
            self._write(notice_ack(req, crc=self.crc))
            return
        fields = req.cp.fields
        if cn == "1000":
            self._write(request_ack(req, 1, crc=self.crc))
            over, count = fields.get("OverTime", ""), fields.get("ReCount", "")
            if over.strip().isdigit() and int(over) > 0:
                self.client.ack_timeout_s = float(int(over))
            if count.strip().isdigit() and int(count) > 0:
                self.client.retries = int(count)
            self._write(exec_result(req, 1, crc=self.crc))
        elif cn in ("1011", "1061", "1063"):
            self._write(request_ack(req, 1, crc=self.crc))
            if cn == "1011":
                value = {"SystemTime": utc_to_hj212_time(time.time())}
            elif cn == "1061":
                value = {"RtdInterval": str(self.rtd_interval)}
            else:
                value = {"MinInterval": str(self.min_interval)}
            self._write(self._value_upload(req, value))
            self._write(exec_result(req, 1, crc=self.crc))
        elif cn in SETTERS:
            self._write(request_ack(req, 1, crc=self.crc))
            if cn == "1062" and (v := fields.get("RtdInterval", "")).isdigit():
                self.rtd_interval = int(v)
            if cn == "1064" and (v := fields.get("MinInterval", "")).isdigit():
                self.min_interval = int(v)
            self._write(exec_result(req, 1, crc=self.crc))
        elif cn in HISTORY:
            # The simulator keeps no history: accept, then report "no data" (ExeRtn 100).
            self._write(request_ack(req, 1, crc=self.crc))
            self._write(exec_result(req, 100, crc=self.crc))
        else:
            self._write(request_ack(req, 2, crc=self.crc))  # request rejected (HJ 212-2017 Table 7)

    def _value_upload(self, req: Packet, fields: dict[str, str]) -> bytes:
        """The upload that carries a "get" command's value: the request's CN, QN, ST; Flag=4 (no
        answer wanted) in 2017, no Flag and QN inside CP in 2005 (reference §5.3)."""
        if req.dialect is Dialect.HJ212_2005:
            qn = req.cp.fields.get("QN") or req.qn
            packet = Packet(qn=None, st=req.st, cn=req.cn, pw=req.pw, mn=req.mn, flag=None, pnum=None,
                            pno=None, cp=make_cp(None, {}, {"QN": qn, **fields} if qn else fields),
                            header={}, dialect=Dialect.HJ212_2005, crc_variant=None, relaxations=())
        else:
            packet = Packet(qn=req.qn, st=req.st, cn=req.cn, pw=req.pw, mn=req.mn,
                            flag=(req.flag or 4) & ~3, pnum=None, pno=None, cp=make_cp(None, {}, fields),
                            header={}, dialect=req.dialect, crc_variant=None, relaxations=())
        return encode(packet, crc=self.crc)

    def _write(self, frame: bytes) -> None:
        self.client.send_raw(frame)
