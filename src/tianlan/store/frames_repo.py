"""Reading the raw archive and the observations: statistics, export, quarantine listing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine, and_, func, select

from tianlan.store.schema import devices, observations, raw_frames


@dataclass(frozen=True, slots=True)
class ExportRow:
    mn: str
    parameter: str
    kind: str
    time_utc: int
    value: float | None
    flag: str | None
    vmin: float | None
    vmax: float | None
    cou: float | None
    zs: float | None
    extra: dict | None
    frame_id: int


class FramesRepo:
    """Queries over raw_frames and observations (the ingest side of the store)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def stats(self) -> dict:
        """Counts of frames received, accepted, duplicate, quarantined; by reason and by device (MN).

        ``by_device`` maps each MN seen (registered or not) to its accepted, duplicate and
        quarantined counts and its quarantine reasons; frames without a readable MN count only in
        the totals and ``by_reason``.
        """
        rf = raw_frames
        with self.engine.connect() as c:
            by_status = dict(c.execute(select(rf.c.status, func.count()).group_by(rf.c.status)).all())
            by_reason = {
                r or "": n
                for r, n in c.execute(
                    select(rf.c.reason, func.count()).where(rf.c.status == "quarantined").group_by(rf.c.reason)
                ).all()
            }
            per_device: dict[str, dict] = {}
            for mn, status, reason, n in c.execute(
                select(rf.c.mn, rf.c.status, rf.c.reason, func.count())
                .where(rf.c.mn.is_not(None))
                .group_by(rf.c.mn, rf.c.status, rf.c.reason)
            ).all():
                d = per_device.setdefault(mn, {"accepted": 0, "duplicate": 0, "quarantined": 0, "by_reason": {}})
                d[status] = d.get(status, 0) + n
                if status == "quarantined":
                    d["by_reason"][reason or ""] = n
            n_obs = c.execute(select(func.count()).select_from(observations)).scalar_one()
        received = sum(by_status.values())
        return {
            "received": received,
            "accepted": by_status.get("accepted", 0),
            "duplicate": by_status.get("duplicate", 0),
            "quarantined": by_status.get("quarantined", 0),
            "by_reason": dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
            "by_device": dict(sorted(per_device.items())),
            "observations": n_obs,
        }

    def export(
        self,
        mn: str,
        *,
        start_utc: int | None = None,
        end_utc: int | None = None,
        kind: str | None = None,
        parameter: str | None = None,
    ) -> Iterator[ExportRow]:
        """Observations of device ``mn`` with time in [start, end), ordered by time and parameter."""
        o = observations
        cond = [devices.c.mn == mn]
        if start_utc is not None:
            cond.append(o.c.time_utc >= start_utc)
        if end_utc is not None:
            cond.append(o.c.time_utc < end_utc)
        if kind:
            cond.append(o.c.kind == kind)
        if parameter:
            cond.append(o.c.parameter == parameter)
        q = (
            select(devices.c.mn, o.c.parameter, o.c.kind, o.c.time_utc, o.c.value, o.c.flag, o.c.vmin, o.c.vmax,
                   o.c.cou, o.c.zs, o.c.extra, o.c.frame_id)
            .select_from(o.join(devices, devices.c.id == o.c.device_id))
            .where(and_(*cond))
            .order_by(o.c.time_utc, o.c.kind, o.c.parameter)
        )
        with self.engine.connect() as c:
            for r in c.execute(q):
                yield ExportRow(r[0], r[1], r[2], int(r[3]), r[4], r[5], r[6], r[7], r[8], r[9],
                                json.loads(r[10]) if r[10] else None, int(r[11]))

    def quarantined(self, limit: int = 100, reason: str | None = None) -> list[dict]:
        rf = raw_frames
        q = select(rf.c.id, rf.c.received_utc, rf.c.peer, rf.c.mn, rf.c.reason, rf.c.detail, rf.c.data).where(
            rf.c.status == "quarantined"
        )
        if reason:
            q = q.where(rf.c.reason == reason)
        q = q.order_by(rf.c.id.desc()).limit(limit)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    def frame(self, frame_id: int) -> dict | None:
        with self.engine.connect() as c:
            r = c.execute(select(raw_frames).where(raw_frames.c.id == frame_id)).first()
            return dict(r._mapping) if r else None

    def all_frame_bytes(self, status: str | None = None) -> list[bytes]:
        q = select(raw_frames.c.data).order_by(raw_frames.c.id)
        if status:
            q = q.where(raw_frames.c.status == status)
        with self.engine.connect() as c:
            return [bytes(r[0]) for r in c.execute(q)]
