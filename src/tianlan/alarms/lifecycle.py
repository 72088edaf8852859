"""The alarm lifecycle: states, the transitions people may make, and the records the store keeps.

::

    raised ──ack──> acknowledged ──verify──> verified ──dispose(outcome)──> disposed ──close──> closed
      └───────────────────── auto-resolve (system; condition ended, nobody acknowledged) ──────────┘

- **raised** 已触发: opened by the system from an episode.
- **acknowledged** 已确认: a person has taken it on.
- **verified** 已核实: the evidence has been checked (data review, site visit).
- **disposed** 已处置: an outcome is recorded — ``fraud`` 弄虚作假 (true falsification),
  ``fault`` 设备故障 (a real anomaly that is not fraud), or ``false-alarm`` 误报 (dismissed).
  The outcome feeds the per-detector precision statistics.
- **closed** 已关闭: finished; nothing more may happen to it.

Every human transition needs a user and a note (who and why); the user ``system`` is reserved for
automatic actions. Any other transition is refused with :class:`~tianlan.errors.Conflict` naming the
alarm's current state; a bad user, note or outcome with :class:`~tianlan.errors.InputError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tianlan.errors import Conflict, InputError

RAISED, ACKNOWLEDGED, VERIFIED, DISPOSED, CLOSED = "raised", "acknowledged", "verified", "disposed", "closed"
STATES: tuple[str, ...] = (RAISED, ACKNOWLEDGED, VERIFIED, DISPOSED, CLOSED)
#: States in which an alarm still follows its condition (a new episode extends it).
OPEN_STATES: frozenset[str] = frozenset({RAISED, ACKNOWLEDGED, VERIFIED})
STATE_NAMES = {RAISED: "已触发", ACKNOWLEDGED: "已确认", VERIFIED: "已核实", DISPOSED: "已处置", CLOSED: "已关闭"}

OUTCOMES: dict[str, str] = {"fraud": "弄虚作假", "fault": "设备故障", "false-alarm": "误报"}

#: action → (the state it needs, the state it leads to)
TRANSITIONS: dict[str, tuple[str, str]] = {
    "ack": (RAISED, ACKNOWLEDGED),
    "verify": (ACKNOWLEDGED, VERIFIED),
    "dispose": (VERIFIED, DISPOSED),
    "close": (DISPOSED, CLOSED),
}
ACTION_NAMES = {"ack": "确认", "verify": "核实", "dispose": "处置", "close": "关闭", "auto-resolve": "自动解除"}
SYSTEM_USER = "system"
AUTO_RESOLVE = "auto-resolve"


def state_label(state: str) -> str:
    return f"{STATE_NAMES.get(state, state)}({state})"


def next_state(current: str, action: str, *, user: str, note: str, outcome: str | None = None) -> str:
    """The state an alarm in ``current`` moves to by ``action`` done by ``user`` because of ``note``.

    Raises InputError for an unknown action, an empty user or note, the reserved user ``system``,
    or an outcome that is missing (dispose) or not allowed (other actions); Conflict when the
    action is not allowed from ``current`` (the message names the state).
    """
    if action not in TRANSITIONS:
        raise InputError("action", f"unknown action {action!r}; known: {', '.join(TRANSITIONS)}")
    if not (user or "").strip():
        raise InputError("user", "required: who does this / 必填：操作人")
    if user.strip() == SYSTEM_USER:
        raise InputError("user", f"{SYSTEM_USER!r} is reserved for automatic actions / 保留给系统自动操作")
    if not (note or "").strip():
        raise InputError("note", "required: say why / 必填：说明理由")
    if action == "dispose":
        if outcome not in OUTCOMES:
            raise InputError("outcome", f"dispose needs an outcome: {' | '.join(OUTCOMES)} / 处置需给出结论")
    elif outcome is not None:
        raise InputError("outcome", f"only dispose takes an outcome, not {action}")
    need, to = TRANSITIONS[action]
    if current != need:
        raise Conflict(
            f"告警状态为{state_label(current)}，不能{ACTION_NAMES[action]}（需要{state_label(need)}） / "
            f"alarm is {current}; {action} needs {need}"
        )
    return to


def can_auto_resolve(state: str) -> bool:
    """Only a raised alarm that nobody acknowledged closes by itself."""
    return state == RAISED


@dataclass
class Alarm:
    """A stored alarm. Times: data period [start_utc, end_utc) in UTC epoch s; created/updated UTC s."""

    id: int
    station: str
    parameter: str
    detector: str
    detectors: list[str]
    level: int
    score: float
    reason: str
    start_utc: int
    end_utc: int
    status: str
    outcome: str | None
    silenced: bool
    evidence: dict[str, Any]
    created_utc: float
    updated_utc: float

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES


@dataclass
class AlarmEvent:
    """One line of an alarm's history: who did what, when, from which state to which, and why."""

    alarm_id: int
    time_utc: float
    user: str
    action: str
    from_status: str | None
    to_status: str
    note: str
    id: int = 0


@dataclass
class Silence:
    """A silence or maintenance window over data time [start_utc, end_utc).

    It matches an alarm of ``station`` (and of ``parameter``/with ``detector`` when given) whose
    condition is inside the window at its latest data: ``start_utc < alarm.end_utc <= end_utc``.
    Such an alarm is stored and marked silenced, but not notified; one that outlasts the window is
    notified again.
    """

    station: str
    start_utc: int
    end_utc: int
    user: str
    reason: str
    parameter: str | None = None
    detector: str | None = None
    kind: str = "silence"  # silence | maintenance
    created_utc: float = 0.0
    id: int = 0

    def matches(self, station: str, parameter: str, detectors: list[str], end_utc: int) -> bool:
        if station != self.station:
            return False
        if self.parameter and self.parameter != parameter:
            return False
        if self.detector and self.detector not in detectors:
            return False
        return self.start_utc < end_utc <= self.end_utc
