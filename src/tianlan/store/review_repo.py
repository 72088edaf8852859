"""Review and sign-off in the store: signed review actions per station-day, queues and overdue lists.

Each action (approve, send-back, sign, reopen) is a row of ``review_actions`` carrying the digest of
the day's content at that moment and the reviewer's Ed25519 signature of :func:`review.message`,
made with the reviewer's personal key (``UsersRepo.sign_as``); each is a ledger entry. The state of
a day is the fold of its actions (:mod:`tianlan.ledger.review`); who may act at which level is
:data:`tianlan.auth.roles.REVIEW_LEVEL_ROLES`, within the reviewer's scope.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select

from tianlan.auth.roles import REVIEW_LEVEL_ROLES
from tianlan.errors import InputError
from tianlan.ledger import review as rv
from tianlan.ledger import versions as vr
from tianlan.store.records_repo import Access, Actor, Station, ledger, load_station, station_devices, verify_by
from tianlan.store.schema import devices, observations
from tianlan.store.schema_records import review_actions as ra
from tianlan.store.versions_repo import VersionsRepo


@dataclass
class DayReview:
    """A station-day's review: the current content digest, the state, and every action with its check."""

    station: str
    day_utc: int
    digest: str
    state: rv.State
    actions: list[rv.Action] = field(default_factory=list)
    signature_ok: list[bool] = field(default_factory=list)
    n_values: int = 0

    @property
    def awaiting(self) -> int | None:
        return self.state.awaiting(self.digest)


def _action(r) -> rv.Action:  # type: ignore[no-untyped-def]
    return rv.Action(level=int(r.level), action=r.action, user=r.user, time_utc=float(r.time_utc), digest=r.digest,
                     reason=r.reason or "", revision=int(r.revision), signature=r.signature, id=int(r.id))


def actions_of(conn: Connection, station: str, day_utc: int) -> list[rv.Action]:
    q = select(ra).where(ra.c.station == station, ra.c.day_utc == day_utc).order_by(ra.c.id)
    return [_action(r) for r in conn.execute(q)]


def day_state(conn: Connection, station: str, day_utc: int) -> rv.State:
    """The review state of a station-day from its stored actions."""
    return rv.fold(actions_of(conn, station, day_utc))


def level_of(user: Actor, level: int | None) -> int:
    """The review level ``user`` acts at: ``level`` if their role holds it, else the one level it holds."""
    mine = [lv for lv, roles in REVIEW_LEVEL_ROLES.items() if user.role in roles]
    if not mine:
        raise InputError("user", f"{user.username} ({user.role.value}) has no review level / 无审核权限")
    if level is None:
        return mine[0]
    if level not in mine:
        raise InputError("--level", f"{user.username} ({user.role.value}) reviews at level {', '.join(map(str, mine))}, "
                                    f"not {level}")
    return level


class ReviewRepo:
    """Review actions, access-checked and signed."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time,
                 deadline_days: dict[int, int] | None = None) -> None:
        self.engine = engine
        self.access = Access(engine)
        self.versions = VersionsRepo(engine, clock=clock)
        self.clock = clock
        self.deadline_days = deadline_days or dict(rv.DEFAULT_DEADLINE_DAYS)

    # --- writes -----------------------------------------------------------------------------------

    def act(self, user: Actor, password: str, station: str, day_utc: int, action: str, *, level: int | None = None,
            reason: str = "") -> rv.Action:
        """Take one review action on a station-day, signed with the user's key; returns it as stored."""
        from tianlan.auth.users import UsersRepo

        if action in ("sign", "reopen"):
            level = 3 if level is None else level
        lv = level_of(user, level)
        if rv.day_of(day_utc) != day_utc:
            raise InputError("--day", "must be the start of a Beijing calendar day")
        with self.engine.begin() as conn:
            st = load_station(conn, station)
            self.access.require(user, st, what="review this station")
            digest = self._digest(conn, st, day_utc)
            if digest is None:
                raise InputError("--day", f"{station} has no data on {rv.day_label(day_utc)} / 当日无数据")
            state = day_state(conn, st.code, day_utc)
            a = rv.Action(level=lv, action=action, user=user.username, time_utc=self.clock(), digest=digest,
                          reason=reason.strip(), revision=state.revision)
            rv.step(state, a)  # raises when the state forbids it
            msg = rv.message(st.code, day_utc, state.revision, lv, action, digest)
            sig = UsersRepo(self.engine).sign_as(user.username, password, msg)
            row = {"station": st.code, "day_utc": day_utc, "revision": state.revision, "level": lv, "action": action,
                   "user": user.username, "time_utc": a.time_utc, "reason": a.reason, "digest": digest,
                   "signature": base64.b64encode(sig).decode()}
            rid = int(conn.execute(ra.insert().values(**row).returning(ra.c.id)).scalar_one())
            ledger(conn, kind=f"review.{action}", user=user.username, table="review_actions", row_id=rid,
                   payload={k: v for k, v in row.items() if k != "user"})
            return _action(conn.execute(select(ra).where(ra.c.id == rid)).one())

    # --- reads ------------------------------------------------------------------------------------

    def show(self, user: Actor, station: str, day_utc: int) -> DayReview:
        """The day's review with each action's signature verified against its reviewer's public key."""
        with self.engine.connect() as conn:
            st = load_station(conn, station)
            self.access.require(user, st, what="read reviews")
            rows = self._content(conn, st, day_utc)
            actions = actions_of(conn, st.code, day_utc)
            d = DayReview(st.code, day_utc, vr.content_digest(rows), rv.fold(actions), actions, n_values=len(rows))
            for a in actions:
                d.signature_ok.append(bool(a.signature and a.digest and verify_by(
                    conn, a.user, rv.message(st.code, day_utc, a.revision, a.level, a.action, a.digest),
                    base64.b64decode(a.signature))))
        return d

    def days(self, user: Actor, start_utc: int, end_utc: int, *, station: str | None = None) -> list[DayReview]:
        """Every station-day in the user's scope holding data in [start, end), with its review state."""
        if end_utc <= start_utc:
            raise InputError("--to", "must be after --from")
        # ((t + 8 h) div 1 day): Beijing days; written so both stores do integer division on BIGINT
        bucket = (observations.c.time_utc + 8 * 3600) // rv.DAY_S
        q = (select(devices.c.site_code, devices.c.mn, bucket.label("b")).distinct()
             .select_from(observations.join(devices, devices.c.id == observations.c.device_id))
             .where(observations.c.time_utc >= start_utc, observations.c.time_utc < end_utc))
        out: list[DayReview] = []
        with self.engine.connect() as conn:
            keys = sorted({(r.site_code or r.mn, int(r.b) * rv.DAY_S - 8 * 3600) for r in conn.execute(q)})
            seen: dict[str, Station | None] = {}
            for code, day in keys:
                if station is not None and code != station:
                    continue
                if code not in seen:
                    st = load_station(conn, code)
                    seen[code] = st if self.access.covers(user, st) else None
                vis = seen[code]
                if vis is None:
                    continue
                rows = self._content(conn, vis, day)
                out.append(DayReview(code, day, vr.content_digest(rows), day_state(conn, code, day), n_values=len(rows)))
        return out

    def queue(self, user: Actor, start_utc: int, end_utc: int, *, level: int | None = None) -> list[DayReview]:
        """Station-days awaiting the user's review level."""
        lv = level_of(user, level)
        return [d for d in self.days(user, start_utc, end_utc) if d.awaiting == lv]

    def overdue(self, user: Actor, start_utc: int, end_utc: int, *,
                now_utc: float | None = None) -> list[tuple[DayReview, int, int]]:
        """(day, level due, deadline) for station-days whose due level missed its deadline."""
        now = self.clock() if now_utc is None else now_utc
        out = []
        for d in self.days(user, start_utc, end_utc):
            late = rv.overdue(d.state, d.digest, d.day_utc, now, self.deadline_days)
            if late:
                out.append((d, late[0], late[1]))
        return out

    # --- internals --------------------------------------------------------------------------------

    def _content(self, conn: Connection, st: Station, day_utc: int) -> list:
        return self.versions.day_content(conn, st.code, day_utc, station_devices(conn, st.code))

    def _digest(self, conn: Connection, st: Station, day_utc: int) -> str | None:
        rows = self._content(conn, st, day_utc)
        return vr.content_digest(rows) if rows else None
