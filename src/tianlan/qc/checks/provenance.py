"""Provenance: integrity of the HJ 212 packets a series was built from (catalogue PRV-03).

The packet record is ``ctx.attrs["packets"]``: a list of dicts, **in the order the platform received
them**, one per received frame that carried this station's (and parameter's) data::

    {"time_utc": int,        # DataTime of the packet, UTC epoch s — the period start, as Series.times
     "qn": str | None,       # HJ 212 QN, "YYYYMMDDhhmmsszzz" on the device clock (Beijing time)
     "status": str,          # "ok", or what the decoder found: "crc", "mn", "pw", "syntax", "length",
                             #   "duplicate", "sequence", … (any status other than "ok" is a problem)
     "reason": str,          # free text from the decoder (optional)
     "received_utc": float,  # reception time (optional)
     "content": str}         # a hash of the packet's CP for this factor (optional; tells a
                             #   retransmission from a different packet reusing a QN)

The ingest pipeline owns building it (from ``raw_frames``); the detector never reads the store.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from tianlan.qc.checks._common import BEIJING_OFFSET_S, iso
from tianlan.qc.core import Context, Finding, Param, Series, Status, detector

CRC_STATUSES = frozenset({"crc", "crc_failure", "bad_crc"})
IDENTITY_STATUSES = frozenset({"mn", "wrong_mn", "pw", "auth"})


def qn_time(qn: Any) -> float | None:
    """UTC epoch seconds of a QN ``YYYYMMDDhhmmsszzz`` read as Beijing time; None if it is not one."""
    s = str(qn or "").strip()
    if len(s) != 17 or not s.isdigit():
        return None
    try:
        t = np.datetime64(f"{s[0:4]}-{s[4:6]}-{s[6:8]}T{s[8:10]}:{s[10:12]}:{s[12:14]}", "s")
    except ValueError:
        return None
    return float(t.astype(np.int64)) - BEIJING_OFFSET_S + int(s[14:17]) / 1000


@detector(
    "PRV-03",
    name="packet integrity",
    family="prv",
    targets=["records not transmitted as the standard requires (2015 measures 4(11))", "record inconsistency (B11)"],
    params={
        "clock_tolerance_s": Param(120, "s", "how far before the end of its period a packet's QN may lie"),
    },
)
def packet_integrity(series: Series, ctx: Context, *, clock_tolerance_s: float) -> list[Finding]:
    """CRC failures, wrong identity, duplicate or out-of-sequence QNs in the packets behind a series.

    HJ 212-2017 §6 (CRC-16 of the data segment, QN request id, MN/PW) and reference/hj212.md §7:
    - ``crc-failure``: a packet for the period failed its CRC and no good packet for the same period
      came (a failed frame followed by a good retransmission is ordinary link noise);
    - ``wrong-identity``: a packet with the wrong MN or PW carried the period's data;
    - ``packet-malformed``: any other decoder status than ``ok`` (syntax, length …);
    - ``duplicate-qn``: one QN on packets for different periods, or with different content (a
      retransmission reuses the QN with the same content and is fine — §7 item 6);
    - ``qn-sequence``: a QN earlier than one already received (device clock set back, or replay);
    - ``qn-before-period-end``: a QN earlier than the end of the period its data describe, by more
      than ``clock_tolerance_s`` (data sent before they could have been measured).
    All SUSPECT, merged over consecutive rows with the same reason. Score: packets involved.
    Evidence: the QNs, statuses and decoder reasons (at most 10), counts. Packets whose period is not
    a row of the series are counted in the evidence only.
    """
    packets = ctx.attrs.get("packets")
    if not packets or len(series) == 0:
        return []
    t = series.times
    step = max(int(series.step_s), 1)
    by_row: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    ok_rows: set[int] = set()
    unmatched = 0
    qn_seen: dict[str, tuple[int, Any]] = {}
    latest_qn = -np.inf
    for p in packets:
        tu = p.get("time_utc")
        if tu is None:
            unmatched += 1
            continue
        i = int(np.searchsorted(t, int(tu)))
        if i >= t.size or t[i] != int(tu):
            unmatched += 1
            continue
        status = str(p.get("status", "ok") or "ok").lower()
        rec = {"qn": p.get("qn"), "status": status, "reason": p.get("reason")}
        if status == "ok":
            ok_rows.add(i)
        elif status in CRC_STATUSES:
            by_row[i]["crc-failure"].append(rec)
        elif status in IDENTITY_STATUSES:
            by_row[i]["wrong-identity"].append(rec)
        elif status in ("duplicate", "duplicate_qn"):
            by_row[i]["duplicate-qn"].append(rec)
        elif status in ("sequence", "qn_sequence"):
            by_row[i]["qn-sequence"].append(rec)
        else:
            by_row[i]["packet-malformed"].append(rec)
        qn = p.get("qn")
        if qn is None or status in CRC_STATUSES:
            continue
        qn = str(qn)
        content = p.get("content")
        if qn in qn_seen:
            j, c0 = qn_seen[qn]
            if j != i or (content is not None and c0 is not None and content != c0):
                by_row[i]["duplicate-qn"].append({**rec, "first_row_utc": int(t[j])})
            else:
                continue  # a retransmission of a packet already seen: nothing more to learn from it
        else:
            qn_seen[qn] = (i, content)
        qt = qn_time(qn)
        if qt is None:
            continue
        if qt < latest_qn:
            by_row[i]["qn-sequence"].append({**rec, "latest_qn_utc": latest_qn})
        latest_qn = max(latest_qn, qt)
        if qt < int(t[i]) + step - clock_tolerance_s:
            by_row[i]["qn-before-period-end"].append({**rec, "period_end": iso(int(t[i]) + step)})
    # a CRC failure healed by a good retransmission is not a finding
    for i in ok_rows & by_row.keys():
        by_row[i].pop("crc-failure", None)
    reasons = sorted({r for d in by_row.values() for r in d})
    out = []
    for reason in reasons:
        rows = sorted(i for i, d in by_row.items() if d.get(reason))
        if not rows:
            continue
        groups: list[list[int]] = [[rows[0]]]
        for i in rows[1:]:
            if i == groups[-1][-1] + 1:
                groups[-1].append(i)
            else:
                groups.append([i])
        for g in groups:
            recs = [r for i in g for r in by_row[i][reason]]
            out.append(Finding(g[0], g[-1] + 1, Status.SUSPECT, reason, float(len(recs)),
                               {"packets": len(recs), "sample": recs[:10], "unmatched_packets": unmatched,
                                "rule": "HJ 212-2017 §6; reference/hj212.md §7"}))
    return sorted(out, key=lambda f: (f.start, f.reason))
