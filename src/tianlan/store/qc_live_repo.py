"""Store access for live QC's pending backlog (``live_qc_backlog``, :mod:`tianlan.store.schema_qc_live`).

Live QC (:mod:`tianlan.qc.live`) records, when its queue overflows, the committed period data it has
not checked: per device and kind of period data (``hour``, ``min``) the span of period start times
(UTC epoch s, both ends inclusive). This repository keeps that record in the store so that a
platform that stops before catching up checks the rest after a restart:

- :meth:`QcLiveRepo.save` writes a backlog's spans (one ``generation`` per recorded backlog; saving
  again replaces them);
- :meth:`QcLiveRepo.advance` moves a generation's spans of one kind past the data time already
  checked, deleting the spans that are done;
- :meth:`QcLiveRepo.pending` reads every span left, oldest backlog first;
- :meth:`QcLiveRepo.delete` drops a generation once it is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, and_, delete, func, insert, select, update

from tianlan.errors import InputError
from tianlan.store.schema_qc_live import live_qc_backlog as _t

KINDS = ("hour", "min")


@dataclass(frozen=True)
class BacklogSpan:
    """Committed data of one device and kind not yet checked: period starts in [first_utc, last_utc]."""

    generation: str
    device_id: int
    kind: str
    first_utc: int
    last_utc: int
    frames: int
    recorded_utc: float


class QcLiveRepo:
    """Live QC's pending backlog in the store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, generation: str, spans: Mapping[tuple[int, str], tuple[int, int, int]], recorded_utc: float) -> int:
        """Write the spans of backlog ``generation`` — ``(device id, kind) → (first, last, frames)`` —
        replacing what was saved for it before; returns the rows written."""
        if not generation or len(generation) > 32:
            raise InputError("generation", f"{generation!r}: 1–32 characters")
        rows = []
        for (device_id, kind), (first, last, frames) in sorted(spans.items()):
            if kind not in KINDS:
                raise InputError("kind", f"{kind!r}: one of {', '.join(KINDS)}")
            if last < first:
                raise InputError("last_utc", f"{last} is before first_utc {first}")
            rows.append({"generation": generation, "device_id": int(device_id), "kind": kind, "first_utc": int(first),
                         "last_utc": int(last), "frames": int(frames), "recorded_utc": float(recorded_utc)})
        with self.engine.begin() as c:
            c.execute(delete(_t).where(_t.c.generation == generation))
            if rows:
                c.execute(insert(_t), rows)
        return len(rows)

    def advance(self, generation: str, kind: str, checked_to_utc: int) -> int:
        """Mark the period data of ``generation`` and ``kind`` before ``checked_to_utc`` as checked:
        spans start there at the earliest, spans wholly before it are deleted; returns the spans left."""
        g = and_(_t.c.generation == generation, _t.c.kind == kind)
        with self.engine.begin() as c:
            c.execute(delete(_t).where(g, _t.c.last_utc < checked_to_utc))
            c.execute(update(_t).where(g, _t.c.first_utc < checked_to_utc).values(first_utc=checked_to_utc))
            return int(c.execute(select(func.count()).select_from(_t).where(g)).scalar_one())

    def delete(self, generation: str) -> int:
        """Drop a checked backlog; returns the spans deleted."""
        with self.engine.begin() as c:
            return int(c.execute(delete(_t).where(_t.c.generation == generation)).rowcount or 0)

    def pending(self) -> list[BacklogSpan]:
        """Every span not yet checked, oldest backlog first."""
        q = select(_t).order_by(_t.c.recorded_utc, _t.c.generation, _t.c.kind, _t.c.device_id)
        with self.engine.connect() as c:
            return [BacklogSpan(r.generation, int(r.device_id), r.kind, int(r.first_utc), int(r.last_utc), int(r.frames),
                                float(r.recorded_utc)) for r in c.execute(q)]
