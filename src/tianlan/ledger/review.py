"""Review and sign-off of a station-day: the three-level state machine, its messages and deadlines.

Issue 5 §4, after the CNEMC three-level audit (qc_fraud.md §A.5): level 1 by the operator or the city
centre, level 2 by the provincial centre, level 3 the sign-off by an authorised signatory. Each level
approves the day's *content digest* (:func:`tianlan.ledger.versions.content_digest`) and signs the
review message with the reviewer's personal Ed25519 key. A higher level may send the day back to the
level below with a reason. A signed day is frozen: no version may take effect on it until a
signatory reopens it (a new revision), after which it must be reviewed and signed again, so every
change to signed data ends in a new signed version while the old signature stays verifiable.

Approvals bind to the digest they signed: when the content changes before sign-off (a correction
approved in the meantime), the approvals of the old content no longer count and level 1 reviews
again. Everything here is pure; the repository folds stored actions through :func:`step`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from tianlan.errors import Conflict, InputError
from tianlan.model.timeutil import BEIJING

LEVELS = (1, 2, 3)
LEVEL_LABELS = {1: "一级审核（市级/运维）/ level 1 (city, operator)", 2: "二级审核（省级）/ level 2 (province)",
                3: "签发 / level 3 sign-off"}
ACTIONS = ("approve", "send-back", "sign", "reopen")
#: default deadlines, days after the end of the reviewed day, per level (settings override them)
DEFAULT_DEADLINE_DAYS = {1: 3, 2: 7, 3: 10}
DAY_S = 86400


@dataclass(frozen=True)
class Action:
    """One stored review action."""

    level: int
    action: str
    user: str
    time_utc: float
    digest: str | None = None
    reason: str = ""
    revision: int = 1
    signature: str | None = None
    id: int = 0


@dataclass(frozen=True)
class State:
    """Where a station-day stands: revision, per-level approved digests of this revision, signed?"""

    revision: int = 1
    approvals: dict[int, str] = field(default_factory=dict)  # level -> digest approved
    signed: bool = False
    last_send_back: str = ""

    def done(self, digest: str | None) -> int:
        """Highest level approved for ``digest`` with every lower level approved for it too (0: none)."""
        k = 0
        for lv in LEVELS:
            if self.approvals.get(lv) is not None and self.approvals.get(lv) == digest:
                k = lv
            else:
                break
        return k

    def awaiting(self, digest: str | None) -> int | None:
        """The level whose action is due (None when signed)."""
        return None if self.signed else self.done(digest) + 1

    def stale(self, digest: str | None) -> bool:
        """Approvals exist but were given to other content than ``digest``."""
        return not self.signed and bool(self.approvals) and self.done(digest) < max(self.approvals)


def step(state: State, a: Action) -> State:
    """The state after action ``a`` taken when the day's digest is ``a.digest``; raises Conflict (the
    state forbids it) or InputError (a field is wrong), naming the field."""
    if a.level not in LEVELS:
        raise InputError("level", f"must be 1, 2 or 3, got {a.level}")
    if a.action not in ACTIONS:
        raise InputError("action", f"must be one of {', '.join(ACTIONS)}, got {a.action!r}")
    if a.action == "reopen":
        if a.level != 3:
            raise InputError("level", "only the sign-off level (3) reopens a signed day")
        if not state.signed:
            raise Conflict("day: not signed, nothing to reopen / 未签发，无需重开")
        if not a.reason.strip():
            raise InputError("reason", "required: why the signed day is reopened / 需说明重开理由")
        return State(revision=state.revision + 1)
    if state.signed:
        raise Conflict(f"day: signed (revision {state.revision}) and frozen; reopen it first / 已签发冻结")
    due = state.done(a.digest) + 1
    if a.action == "send-back":
        if a.level == 1:
            raise InputError("level", "level 1 has no lower level to send back to")
        if a.level != due:
            raise Conflict(f"level: the day awaits level {due}, not {a.level} / 当前待{due}级审核")
        if not a.reason.strip():
            raise InputError("reason", "required: why the day is sent back / 需说明退回理由")
        kept = {lv: d for lv, d in state.approvals.items() if lv < a.level - 1}
        return replace(state, approvals=kept, last_send_back=a.reason)
    if not a.digest:
        raise InputError("digest", "an approval signs the day's content digest")
    if a.action == "sign" and a.level != 3:
        raise InputError("level", "sign is the level 3 action; levels 1-2 approve")
    if a.action == "approve" and a.level == 3:
        raise InputError("level", "level 3 signs (review sign), it does not approve")
    if a.level != due:
        what = " (content changed since it was approved / 内容已变更)" if state.stale(a.digest) else ""
        raise Conflict(f"level: the day awaits level {due}, not {a.level}{what} / 当前待{due}级审核")
    approvals = {lv: d for lv, d in state.approvals.items() if lv < a.level}
    approvals[a.level] = a.digest
    return replace(state, approvals=approvals, signed=a.action == "sign")


def fold(actions: Iterable[Action]) -> State:
    """The state after the stored actions, in order.

    Replay trusts the record (each action was checked by :func:`step` when taken) and never raises,
    so a day whose stored actions were tampered with can still be shown — with its signatures failing
    verification — instead of becoming unreadable."""
    s = State()
    for a in actions:
        if a.action == "reopen":
            s = State(revision=s.revision + 1)
        elif a.action == "send-back":
            s = replace(s, approvals={lv: d for lv, d in s.approvals.items() if lv < a.level - 1},
                        last_send_back=a.reason)
        elif a.digest:
            approvals = {lv: d for lv, d in s.approvals.items() if lv < a.level}
            approvals[a.level] = a.digest
            s = replace(s, approvals=approvals, signed=a.action == "sign")
    return s


def message(station: str, day_utc: int, revision: int, level: int, action: str, digest: str) -> bytes:
    """The bytes a reviewer signs: station, Beijing day, revision, level, action and content digest."""
    return (f"tianlan-review/1\nstation={station}\nday={day_label(day_utc)}\nrevision={revision}\n"
            f"level={level}\naction={action}\ndigest={digest}\n").encode()


def day_start(day: str) -> int:
    """UTC epoch s of 00:00 Beijing time of ``YYYY-MM-DD``; InputError(field='--day') otherwise."""
    try:
        d = datetime.strptime(day.strip(), "%Y-%m-%d").replace(tzinfo=BEIJING)
    except ValueError as e:
        raise InputError("--day", f"expected YYYY-MM-DD (Beijing calendar day), got {day!r}") from e
    return int(d.timestamp())


def day_of(time_utc: float) -> int:
    """Start (UTC epoch s) of the Beijing day holding ``time_utc``."""
    d = datetime.fromtimestamp(time_utc, BEIJING)
    return int(datetime(d.year, d.month, d.day, tzinfo=BEIJING).timestamp())


def day_label(day_utc: int) -> str:
    return datetime.fromtimestamp(day_utc, BEIJING).strftime("%Y-%m-%d")


def deadline(day_utc: int, level: int, deadline_days: dict[int, int] | None = None) -> int:
    """UTC epoch s by which ``level`` should have acted on the day: N days after the day's end."""
    days = (deadline_days or DEFAULT_DEADLINE_DAYS)[level]
    end = datetime.fromtimestamp(day_utc, BEIJING) + timedelta(days=1 + days)
    return int(end.timestamp())


def overdue(state: State, digest: str | None, day_utc: int, now_utc: float,
            deadline_days: dict[int, int] | None = None) -> tuple[int, int] | None:
    """(level due, its deadline) when the due level's deadline has passed; None otherwise."""
    lv = state.awaiting(digest)
    if lv is None:
        return None
    due = deadline(day_utc, lv, deadline_days)
    return (lv, due) if now_utc > due else None


# Rows of this table are covered by ledger entries: `tianlan ledger verify` detects an edit or deletion.
from tianlan.ledger import covered as _covered  # noqa: E402

_covered.register("review_actions", ["id"], ["station", "day_utc", "revision", "level", "action", "user", "time_utc",
                                             "reason", "digest", "signature"])
