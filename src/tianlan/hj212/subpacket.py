"""Sub-packet reassembly (HJ 212-2017 Table 3 PNUM/PNO, App. C C.49-C.50; reference §3.7).

A long upload is cut into PNUM packets numbered PNO = 1..PNUM, each with its own QN, each repeating
``DataTime`` at the start of its CP and carrying a disjoint set of factors. Parts are grouped by
(MN, CN, DataTime, PNUM) — not by QN, and not per connection, so parts of two uploads may interleave
and arrive in any order. Acknowledge every part on its own (`replies_for`) before adding it here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .packet import CpData, Packet

__all__ = ["Reassembler"]

_Key = tuple[str | None, str | None, str | None, int]


@dataclass(slots=True)
class _Group:
    parts: dict[int, Packet]
    last_seen: float


class Reassembler:
    """Collects sub-packets until all PNO 1..PNUM of an upload are in, then merges them.

    `timeout_s` is how long a group may wait for its next part (the execution timeout idea of
    HJ 212-2017 §6.2); `expire` hands back groups that waited longer, so nothing is dropped silently.
    Times are caller-supplied seconds (e.g. ``time.monotonic()``), keeping this class sans-I/O.
    """

    __slots__ = ("_groups", "timeout_s")

    def __init__(self, timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        self._groups: dict[_Key, _Group] = {}

    @property
    def pending(self) -> int:
        """Number of incomplete uploads being held."""
        return len(self._groups)

    def add(self, p: Packet, now: float) -> Packet | None:
        """Add a packet; return the merged upload once complete, else None.

        A packet that is not a sub-packet (no PNUM/PNO) is returned as is. A part whose PNO is
        outside 1..PNUM cannot be placed: it is returned as is with the relaxation ``bad-pno``. A
        repeated PNO (a retransmission) keeps the first copy and adds ``duplicate-subpacket`` to the
        merged packet.
        """
        pnum, pno = p.pnum, p.pno
        if pnum is None or pno is None:
            return p
        if not 1 <= pno <= pnum:
            return replace(p, relaxations=(*p.relaxations, "bad-pno"))
        key: _Key = (p.mn, p.cn, p.cp.data_time, pnum)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group({}, now)
        group.last_seen = now
        if pno in group.parts:
            first = group.parts[pno]
            if "duplicate-subpacket" not in first.relaxations:
                group.parts[pno] = replace(first, relaxations=(*first.relaxations, "duplicate-subpacket"))
            return None
        group.parts[pno] = p
        if len(group.parts) < pnum:
            return None
        del self._groups[key]
        return _merge([group.parts[number] for number in range(1, pnum + 1)])

    def expire(self, now: float) -> list[list[Packet]]:
        """Remove and return the incomplete groups whose last part is older than `timeout_s`,
        each as its parts in PNO order."""
        stale = [key for key, group in self._groups.items() if now - group.last_seen > self.timeout_s]
        expired: list[list[Packet]] = []
        for key in stale:
            parts = self._groups.pop(key).parts
            expired.append([parts[number] for number in sorted(parts)])
        return expired


def _merge(parts: list[Packet]) -> Packet:
    """One packet from the parts in PNO order: header of part 1 without PNUM/PNO, Flag bit D cleared,
    CP fields and factors merged (the first value of a repeated item wins, flagged
    ``duplicate-item``), CRC variant kept only if every part matched the same one."""
    first = parts[0]
    fields: dict[str, str] = {}
    factors: dict[str, dict[str, str]] = {}
    relax: dict[str, None] = {}
    variants = {part.crc_variant for part in parts}
    for part in parts:
        relax.update(dict.fromkeys(part.relaxations))
        for key, value in part.cp.fields.items():
            if key not in fields:
                fields[key] = value
            elif fields[key] != value:
                relax["duplicate-item"] = None
        for code, items in part.cp.factors.items():
            group = factors.setdefault(code, {})
            for suffix, value in items.items():
                if suffix in group:
                    relax["duplicate-item"] = None
                else:
                    group[suffix] = value
    header = {key: value for key, value in first.header.items() if key.upper() not in ("PNUM", "PNO")}
    return Packet(
        qn=first.qn,
        st=first.st,
        cn=first.cn,
        pw=first.pw,
        mn=first.mn,
        flag=first.flag & ~2 if first.flag is not None else None,
        pnum=None,
        pno=None,
        cp=CpData(first.cp.data_time, fields, factors),
        header=header,
        dialect=first.dialect,
        crc_variant=first.crc_variant if len(variants) == 1 else None,
        relaxations=tuple(relax),
    )
