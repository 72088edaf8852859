"""Enterprise data marks under the 2022 marking rule: kinds, validation and timeliness.

Issue 5 §6. 《污染物排放自动监测设备标记规则》 (MEE announcement 2022 No. 21, qc_fraud.md §A.3): a
plant marks the periods when its monitoring equipment is under fault, maintenance, calibration or
commissioning, and when its production or treatment equipment starts up, shuts down or fails. Data
so marked are not used to judge exceedance, which is why a false or late mark can hide one
(detectors MARK-01..03 in ``tianlan.qc.fraud.marks``).

Marks must be made as things happen. A mark is therefore classed by when it was created:

* ``on-time`` — created before the marked period started, or within ``grace_h`` of its start;
* ``retroactive`` — created later than that but within ``window_days`` after the period's end;
* ``late`` — created more than ``window_days`` after the period's end (default 10 days, the
  national platform's window for repairing or annotating source data, "在自动监控数据生成10日内",
  from its data-transmission-efficiency rules as quoted in a training deck, qc_fraud.md §A.5, that
  MARK-03 also uses; sources and what is still unverified: docs/records.md and
  ``tianlan.qc.fraud.marks.late_marks``. It is a setting).

Retroactive and late marks are **kept** and flagged, never refused: refusing would lose the
evidence that a plant tried. Refused are only marks that cannot be meant: an empty or reversed
period, an unknown kind, a period starting further ahead than ``advance_days`` (planned
maintenance is marked in advance, but not months ahead). Pure functions only.
"""

from __future__ import annotations

from dataclasses import dataclass

from tianlan.errors import InputError

#: mark kinds, Chinese first (equipment side, then production/treatment side of the rule)
KINDS: dict[str, str] = {
    "maintenance": "维护 / maintenance",
    "fault": "故障 / equipment fault",
    "calibration": "校准 / calibration",
    "commissioning": "调试 / commissioning",
    "start-up": "启动 / start-up",
    "shutdown": "停运 / shutdown",
    "treatment-fault": "治理设施故障 / treatment equipment fault",
    "process-fault": "生产设施故障 / production equipment fault",
    "other": "其他 / other (reason required)",
}
TIMELINESS = {"on-time": "及时 / on time", "retroactive": "补标 / retroactive", "late": "逾期 / late"}

DEFAULT_WINDOW_DAYS = 10.0
DEFAULT_GRACE_H = 1.0
DEFAULT_ADVANCE_DAYS = 7.0


@dataclass(frozen=True)
class MarkRules:
    """The marking windows (settings ``mark_window_days``, ``mark_grace_h``, ``mark_advance_days``)."""

    window_days: float = DEFAULT_WINDOW_DAYS
    grace_h: float = DEFAULT_GRACE_H
    advance_days: float = DEFAULT_ADVANCE_DAYS


def validate(kind: str, start_utc: int, end_utc: int, reason: str, *, now_utc: float,
             rules: MarkRules | None = None) -> None:
    """Raise InputError naming the field when the mark cannot be meant (see the module doc)."""
    rules = rules or MarkRules()
    if kind not in KINDS:
        raise InputError("--kind", f"unknown mark kind {kind!r}; known: {', '.join(KINDS)}")
    if end_utc <= start_utc:
        raise InputError("--to", "the marked period must end after it starts / 结束须晚于开始")
    if start_utc > now_utc + rules.advance_days * 86400:
        raise InputError("--from", f"starts more than {rules.advance_days:g} days ahead / 提前标记不得超过"
                                   f"{rules.advance_days:g}天")
    if not reason.strip():
        raise InputError("--reason", "required: what happened / 需说明原因")


def timeliness(start_utc: int, end_utc: int, created_utc: float, rules: MarkRules | None = None) -> str:
    """``on-time``, ``retroactive`` or ``late`` for a mark of [start, end) created at ``created_utc``."""
    rules = rules or MarkRules()
    if created_utc > end_utc + rules.window_days * 86400:
        return "late"
    if created_utc > start_utc + rules.grace_h * 3600:
        return "retroactive"
    return "on-time"


# Rows of this table are covered by ledger entries: `tianlan ledger verify` detects an edit or deletion.
from tianlan.ledger import covered as _covered  # noqa: E402

_covered.register("enterprise_marks", ["id"], ["station", "enterprise_code", "kind", "start_utc", "end_utc", "reason",
                                               "document", "created_by", "created_utc", "timeliness", "delay_s"])
