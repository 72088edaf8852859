"""Corrections without overwrite in the store: proposing and approving versions, as-of reads, history.

The observation row is never written here. A version is a row of ``observation_versions``, its
approval or rejection a row of ``version_decisions``; each insert is a ledger entry in the same
transaction. Rules live in :mod:`tianlan.ledger.versions`; a version cannot take effect on a day
that has been signed off (:mod:`tianlan.ledger.review`) until a signatory reopens it.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from sqlalchemy import Connection, Engine, and_, select
from sqlalchemy.exc import IntegrityError

from tianlan.errors import Conflict, InputError
from tianlan.ledger import review as rv
from tianlan.ledger import versions as vr
from tianlan.store.frames_repo import ExportRow, FramesRepo
from tianlan.store.records_repo import Access, Actor, Station, ledger, not_found, station_of_device
from tianlan.store.schema import devices, observations
from tianlan.store.schema_records import observation_versions as ov
from tianlan.store.schema_records import version_decisions as vd


@dataclass(frozen=True, slots=True)
class VersionedRow:
    """An exported observation as of a moment: the row (value and flag in effect) and its version (0 = raw)."""

    row: ExportRow
    version: int
    raw_value: float | None


ContentRow = tuple[str, str, str, int, float | None, str | None, int]  # mn, parameter, kind, time, value, flag, version


def _select_versions():  # type: ignore[no-untyped-def]
    return (select(ov, vd.c.decision, vd.c.user.label("decided_by"), vd.c.time_utc.label("decided_utc"),
                   vd.c.note, vd.c.prev_value, vd.c.prev_flag)
            .select_from(ov.outerjoin(vd, vd.c.version_id == ov.c.id)))


def _version(r) -> vr.Version:  # type: ignore[no-untyped-def]
    status = {"approve": "approved", "reject": "rejected"}.get(r.decision, "proposed")
    return vr.Version(id=int(r.id), device_id=int(r.device_id), parameter=r.parameter, kind=r.kind,
                      time_utc=int(r.time_utc), action=r.action, value=r.value, flag=r.flag, reason=r.reason,
                      document=r.document, proposed_by=r.proposed_by, proposed_utc=float(r.proposed_utc),
                      status=status, decided_by=r.decided_by, decided_utc=r.decided_utc, note=r.note or "",
                      prev_value=r.prev_value, prev_flag=r.prev_flag)


class VersionsRepo:
    """Versions of observations, access-checked for the acting user on every call."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.access = Access(engine)
        self.clock = clock

    # --- writes -----------------------------------------------------------------------------------

    def propose(self, user: Actor, *, mn: str, parameter: str, kind: str, time_utc: int, action: str,
                value: float | None, flag: str | None, reason: str, document: str) -> vr.Version:
        """Record a proposed version of one stored observation (it is not in effect until approved)."""
        with self.engine.begin() as conn:
            dev_id, st = station_of_device(conn, mn)
            self.access.require(user, st, field="--mn", roles=vr.PROPOSERS, what="propose corrections")
            p = vr.validate_proposal(vr.Proposal(dev_id, parameter, kind, time_utc, action, value, flag, reason, document))
            if self._raw(conn, dev_id, parameter, kind, time_utc) is None:
                raise InputError("--time", f"no stored {kind} value of {parameter} for {mn} at {time_utc} / 无此数据")
            now = self.clock()
            row = {"device_id": dev_id, "parameter": parameter, "kind": kind, "time_utc": time_utc, "action": p.action,
                   "value": p.value, "flag": p.flag, "reason": p.reason, "document": p.document,
                   "proposed_by": user.username, "proposed_utc": now}
            vid = int(conn.execute(ov.insert().values(**row).returning(ov.c.id)).scalar_one())
            ledger(conn, kind="version.propose", user=user.username, table="observation_versions", row_id=vid,
                   payload={"mn": mn, "parameter": parameter, "kind": kind, "time_utc": time_utc, "action": p.action,
                            "value": p.value, "flag": p.flag, "reason": p.reason, "document": p.document})
            return self._get(conn, vid)

    def decide(self, user: Actor, version_id: int, *, approve: bool, note: str = "") -> vr.Version:
        """Approve (the version takes effect now) or reject a proposed version; a second user only."""
        try:
            return self._decide(user, version_id, approve=approve, note=note)
        except IntegrityError as e:  # another user decided it in the same moment (unique version_id)
            raise Conflict(f"version: #{version_id} was decided by someone else just now / 已被他人处理") from e

    def _decide(self, user: Actor, version_id: int, *, approve: bool, note: str) -> vr.Version:
        with self.engine.begin() as conn:
            v = self._get(conn, version_id)
            mn, st = self._station(conn, v.device_id)
            self.access.require(user, st, field="version", roles=vr.APPROVERS, what="approve corrections")
            vr.check_decider(v, user.username)
            prev_value = prev_flag = None
            if approve:
                self._require_open_day(conn, st, v.time_utc)
                raw = self._raw(conn, v.device_id, v.parameter, v.kind, v.time_utc)
                cur = vr.effective(self._versions(conn, v.device_id, v.parameter, v.kind, v.time_utc))
                prev_value, prev_flag, _ = vr.apply(raw[0] if raw else None, raw[1] if raw else None, cur)
            elif not note.strip():
                raise InputError("--note", "required: why the version is rejected / 需说明驳回理由")
            row = {"version_id": v.id, "decision": "approve" if approve else "reject", "user": user.username,
                   "time_utc": self.clock(), "note": note.strip(), "prev_value": prev_value, "prev_flag": prev_flag}
            did = int(conn.execute(vd.insert().values(**row).returning(vd.c.id)).scalar_one())
            ledger(conn, kind="version.approve" if approve else "version.reject", user=user.username,
                   table="version_decisions", row_id=did,
                   payload={"version": v.id, "mn": mn, "parameter": v.parameter, "kind": v.kind, "time_utc": v.time_utc,
                            "value": v.value, "flag": v.flag, "prev_value": prev_value, "prev_flag": prev_flag,
                            "note": note.strip()})
            return self._get(conn, version_id)

    # --- reads ------------------------------------------------------------------------------------

    def get(self, user: Actor, version_id: int) -> vr.Version:
        with self.engine.connect() as conn:
            v = self._get(conn, version_id)
            self.access.require(user, self._station(conn, v.device_id)[1], field="version")
            return v

    def list(self, user: Actor, *, status: str | None = None, mn: str | None = None,
             limit: int | None = 200) -> builtins.list[tuple[str, vr.Version]]:
        """(MN, version) newest first, only of stations in the user's scope."""
        if status not in (None, "proposed", "approved", "rejected"):
            raise InputError("--status", f"must be proposed, approved or rejected, got {status!r}")
        q = _select_versions().add_columns(devices.c.mn.label("mn")).join(devices, devices.c.id == ov.c.device_id)
        if mn:
            q = q.where(devices.c.mn == mn)
        if status == "proposed":
            q = q.where(vd.c.id.is_(None))
        elif status:
            q = q.where(vd.c.decision == ("approve" if status == "approved" else "reject"))
        out: builtins.list[tuple[str, vr.Version]] = []
        with self.engine.connect() as conn:
            seen: dict[str, bool] = {}
            for r in conn.execute(q.order_by(ov.c.id.desc())):
                if r.mn not in seen:
                    seen[r.mn] = self.access.covers(user, station_of_device(conn, r.mn)[1])
                if seen[r.mn]:
                    out.append((r.mn, _version(r)))
                    if limit and len(out) >= limit:
                        break
        return out

    def history(self, user: Actor, *, mn: str, parameter: str, time_utc: int,
                kind: str | None = None) -> builtins.list[tuple[str, float | None, str | None, builtins.list[vr.Version]]]:
        """Per kind of the observation at that time: (kind, raw value, raw flag, every version oldest first)."""
        with self.engine.connect() as conn:
            dev_id, st = station_of_device(conn, mn)
            self.access.require(user, st, field="--mn", what="read data")
            q = select(observations.c.kind, observations.c.value, observations.c.flag).where(
                observations.c.device_id == dev_id, observations.c.parameter == parameter,
                observations.c.time_utc == time_utc)
            if kind:
                q = q.where(observations.c.kind == kind)
            out = []
            for r in conn.execute(q.order_by(observations.c.kind)).all():
                out.append((r.kind, r.value, r.flag, self._versions(conn, dev_id, parameter, r.kind, time_utc)))
            if not out:
                raise InputError("--time", f"no stored value of {parameter} for {mn} at that time / 无此数据")
            return out

    def series(self, mn: str, *, start_utc: int | None = None, end_utc: int | None = None, kind: str | None = None,
               parameter: str | None = None, as_of: float | None = None,
               user: Actor | None = None) -> Iterator[VersionedRow]:
        """Observations of ``mn`` in [start, end) with the values in effect at ``as_of`` (None: now).

        With ``user`` the device's station must be in the user's scope; without, it is a system read
        (the CLI export run by the operator of the store, assessments, QC)."""
        with self.engine.connect() as conn:
            dev_id, st = station_of_device(conn, mn)
            if user is not None:
                self.access.require(user, st, field="--mn", what="read data")
            cond = [ov.c.device_id == dev_id, vd.c.decision == "approve"]
            if start_utc is not None:
                cond.append(ov.c.time_utc >= start_utc)
            if end_utc is not None:
                cond.append(ov.c.time_utc < end_utc)
            if kind:
                cond.append(ov.c.kind == kind)
            if parameter:
                cond.append(ov.c.parameter == parameter)
            if as_of is not None:
                cond.append(vd.c.time_utc <= as_of)
            by_key: dict[tuple[int, str, str], builtins.list[vr.Version]] = {}
            for r in conn.execute(_select_versions().where(and_(*cond))):
                v = _version(r)
                by_key.setdefault((v.time_utc, v.kind, v.parameter), []).append(v)
        for row in FramesRepo(self.engine).export(mn, start_utc=start_utc, end_utc=end_utc, kind=kind,
                                                  parameter=parameter):
            vs = by_key.get((row.time_utc, row.kind, row.parameter))
            eff = vr.effective(vs, as_of) if vs else None
            value, flag, ver = vr.apply(row.value, row.flag, eff)
            yield VersionedRow(replace(row, value=value, flag=flag) if eff else row, ver, row.value)

    def day_content(self, conn: Connection, station: str, day_utc: int,
                    device_list: builtins.list[tuple[int, str]]) -> builtins.list[ContentRow]:
        """The current content of a station-day for its digest: (mn, parameter, kind, time, value, flag, version)."""
        out = []
        end = day_utc + rv.DAY_S
        for dev_id, mn in device_list:
            versions: dict[tuple[int, str, str], builtins.list[vr.Version]] = {}
            for r in conn.execute(_select_versions().where(ov.c.device_id == dev_id, ov.c.time_utc >= day_utc,
                                                           ov.c.time_utc < end, vd.c.decision == "approve")):
                v = _version(r)
                versions.setdefault((v.time_utc, v.kind, v.parameter), []).append(v)
            q = select(observations.c.parameter, observations.c.kind, observations.c.time_utc, observations.c.value,
                       observations.c.flag).where(observations.c.device_id == dev_id,
                                                  observations.c.time_utc >= day_utc, observations.c.time_utc < end)
            for r in conn.execute(q):
                eff = vr.effective(versions.get((int(r.time_utc), r.kind, r.parameter), ()))
                value, flag, ver = vr.apply(r.value, r.flag, eff)
                out.append((mn, r.parameter, r.kind, int(r.time_utc), value, flag, ver))
        return out

    # --- internals --------------------------------------------------------------------------------

    def _get(self, conn: Connection, version_id: int) -> vr.Version:
        r = conn.execute(_select_versions().where(ov.c.id == version_id)).first()
        if r is None:
            raise not_found("version / 版本", version_id)
        return _version(r)

    def _versions(self, conn: Connection, dev_id: int, parameter: str, kind: str, time_utc: int) -> builtins.list[vr.Version]:
        q = _select_versions().where(ov.c.device_id == dev_id, ov.c.parameter == parameter, ov.c.kind == kind,
                                     ov.c.time_utc == time_utc).order_by(ov.c.id)
        return [_version(r) for r in conn.execute(q)]

    @staticmethod
    def _raw(conn: Connection, dev_id: int, parameter: str, kind: str, time_utc: int) -> tuple | None:
        r = conn.execute(select(observations.c.value, observations.c.flag).where(
            observations.c.time_utc == time_utc, observations.c.device_id == dev_id,
            observations.c.parameter == parameter, observations.c.kind == kind)).first()
        return None if r is None else (r.value, r.flag)

    @staticmethod
    def _station(conn: Connection, dev_id: int) -> tuple[str, Station]:
        mn = conn.execute(select(devices.c.mn).where(devices.c.id == dev_id)).scalar_one()
        return mn, station_of_device(conn, mn)[1]

    @staticmethod
    def _require_open_day(conn: Connection, st: Station, time_utc: int) -> None:
        from tianlan.store.review_repo import day_state

        day = rv.day_of(time_utc)
        state = day_state(conn, st.code, day)
        if state.signed:
            raise Conflict(f"day: {st.code} {rv.day_label(day)} is signed off (revision {state.revision}) and frozen; "
                           "a signatory must reopen it (`tianlan review reopen`) before a version can take effect "
                           "/ 该日数据已签发冻结，须先重开")
