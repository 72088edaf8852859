"""Corrections without overwrite: the rules of value versions and of reading a series "as of" a moment.

Issue 5 §3, DESIGN principle 1 ("raw is immutable"). A received observation is never changed. A
correction (a value fixed after a documented error), a substitution (a value filled in by a
prescribed method, e.g. HJ 75-2017 §11-12 for CEMS gaps) or an invalidation (the value declared
unusable, e.g. analyser out of control) is a *version*: a new row with who proposed it, when, why
and the supporting document. It takes effect only when a **second** user approves it; from the
approval time on it is the value in effect, until a later approved version replaces it.

So the value of an observation as of moment T is the approved version with the latest approval time
≤ T (ties: the later version), or the raw value when there is none. The current value is the value
as of now. Everything here is pure: the store hands in the rows, these functions decide.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tianlan.auth.roles import Role
from tianlan.errors import InputError

ACTIONS = ("correct", "substitute", "invalidate")
ACTION_LABELS = {
    "correct": "更正 / correction",
    "substitute": "替代 / substitution",
    "invalidate": "无效 / invalidation",
}
#: the data flag an invalidation carries when the proposer names none (CNEMC mark "RM": invalidated
#: by automatic or manual audit, qc_fraud.md §A.3)
INVALID_FLAG = "RM"
#: who may propose a version (monitoring staff, operators, and an enterprise for its own outlets —
#: the national platform lets a plant repair or annotate invalid data, qc_fraud.md §A.5 PRV-05)
PROPOSERS = frozenset({Role.CITY, Role.PROVINCE, Role.AGENCY, Role.ENTERPRISE})
#: who may approve one (the second user; monitoring centres and signatories of the station's region)
APPROVERS = frozenset({Role.CITY, Role.PROVINCE, Role.SIGNATORY})


@dataclass(frozen=True, slots=True)
class Proposal:
    """What a user asks to change: one observation, identified by its store key."""

    device_id: int
    parameter: str
    kind: str
    time_utc: int
    action: str
    value: float | None
    flag: str | None
    reason: str
    document: str


@dataclass(frozen=True, slots=True)
class Version:
    """A stored version with its decision (``approved_utc`` is None while pending or when rejected)."""

    id: int
    device_id: int
    parameter: str
    kind: str
    time_utc: int
    action: str
    value: float | None
    flag: str | None
    reason: str
    document: str
    proposed_by: str
    proposed_utc: float
    status: str = "proposed"  # proposed | approved | rejected
    decided_by: str | None = None
    decided_utc: float | None = None
    note: str = ""
    prev_value: float | None = None
    prev_flag: str | None = None

    @property
    def approved_utc(self) -> float | None:
        return self.decided_utc if self.status == "approved" else None


def validate_proposal(p: Proposal) -> Proposal:
    """The proposal with its flag defaulted, or InputError naming the field.

    A correction or substitution needs a finite value; an invalidation carries none (its flag
    defaults to :data:`INVALID_FLAG`). Reason and supporting document are required: a version
    without them is not evidence.
    """
    if p.action not in ACTIONS:
        raise InputError("--action", f"must be one of {', '.join(ACTIONS)}, got {p.action!r}")
    flag: str | None
    if p.action == "invalidate":
        if p.value is not None:
            raise InputError("--value", "an invalidation carries no value / 无效不带数值")
        flag = p.flag or INVALID_FLAG
    else:
        if p.value is None or not math.isfinite(p.value):
            raise InputError("--value", f"a {p.action} needs a finite value / 需给出数值")
        flag = p.flag
    if flag is not None and not (1 <= len(flag) <= 4):
        raise InputError("--flag", f"a data flag has 1-4 characters, got {flag!r}")
    if not p.reason.strip():
        raise InputError("--reason", "required: why the value is changed / 需说明理由")
    if not p.document.strip():
        raise InputError("--document", "required: the supporting document reference / 需注明依据文件")
    return Proposal(p.device_id, p.parameter, p.kind, p.time_utc, p.action, p.value, flag, p.reason.strip(),
                    p.document.strip())


def check_decider(version: Version, user: str) -> None:
    """A version is decided once, and by a second user (four-eyes): InputError otherwise."""
    if version.status != "proposed":
        raise InputError("version", f"#{version.id} already {version.status} by {version.decided_by} / 已处理")
    if user == version.proposed_by:
        raise InputError("user", f"{user} proposed #{version.id}; a second user must approve / 须由他人审批")


def effective(versions: Iterable[Version], as_of: float | None = None) -> Version | None:
    """The version in effect at ``as_of`` (None: now): the approved one with the latest approval
    time ≤ ``as_of`` (ties broken by the later id); None when the raw value is in effect."""
    best: Version | None = None
    for v in versions:
        t = v.approved_utc
        if t is None or (as_of is not None and t > as_of):
            continue
        if best is None or (t, v.id) > (best.approved_utc, best.id):  # type: ignore[operator]
            best = v
    return best


def apply(raw_value: float | None, raw_flag: str | None, version: Version | None) -> tuple[float | None, str | None, int]:
    """(value, flag, version id) of an observation given its version in effect (id 0 = raw)."""
    if version is None:
        return raw_value, raw_flag, 0
    return version.value, version.flag if version.flag is not None else raw_flag, version.id


def content_digest(rows: Sequence[tuple[str, str, str, int, float | None, str | None, int]]) -> str:
    """SHA-256 hex over a day's content: rows of (mn, parameter, kind, time_utc, value, flag, version),
    sorted, one canonical line each (values as ``repr`` of the float, so 0.1 and 0.10000001 differ).

    Review signatures sign this digest; a later approved version changes it, which is how a signed
    day knows it is no longer what was signed."""
    h = hashlib.sha256()
    for mn, par, kind, t, v, f, ver in sorted(rows, key=lambda r: (r[0], r[1], r[2], r[3])):
        h.update(f"{mn}\t{par}\t{kind}\t{t}\t{'' if v is None else repr(float(v))}\t{f or ''}\t{ver}\n".encode())
    return h.hexdigest()


# Rows of these tables are covered by ledger entries: `tianlan ledger verify` detects an edit or deletion.
from tianlan.ledger import covered as _covered  # noqa: E402

_covered.register("observation_versions", ["id"], ["device_id", "parameter", "kind", "time_utc", "action", "value",
                                                   "flag", "reason", "document", "proposed_by", "proposed_utc"])
_covered.register("version_decisions", ["id"], ["version_id", "decision", "user", "time_utc", "note", "prev_value",
                                                "prev_flag"])
