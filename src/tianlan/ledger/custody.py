"""Chain of custody for manual and laboratory monitoring: the steps, their fields and their order.

Issue 5 §5. A sample's life is a sequence of signed steps:

* ``sample`` — sampler (the user recording it), place, time, container, preservation, analytes and,
  when the method sets one, the longest holding time (h) between sampling and analysis (e.g. the
  preservation tables of HJ 493-2009 for water samples; the sampler states it from the method);
* ``transfer`` — from the current holder to another person, time, condition on hand-over;
* ``analysis`` — analyst, method (standard number), instrument, standard-material lot, results;
* ``report`` — reviewer and authorised signatory (the user recording it), report number.

Impossible sequences are rejected with the field that makes them impossible: anything before the
sample, a second sample, a transfer or analysis dated before sampling, a transfer from someone who
does not hold the sample, an analysis by someone not holding it or after the holding time, a report
before any analysis or dated before it, a reviewer who is also an analyst or the signatory, and any
step after the report. Each step is signed by its actor over :func:`message`. Pure functions only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tianlan.errors import InputError

STEPS = ("sample", "transfer", "analysis", "report")
STEP_LABELS = {"sample": "采样 / sampling", "transfer": "交接 / transfer", "analysis": "分析 / analysis",
               "report": "报告 / report"}
#: fields each step must carry (besides time and actor)
REQUIRED: dict[str, tuple[str, ...]] = {
    "sample": ("place", "container", "preservation"),
    "transfer": ("from", "to"),
    "analysis": ("method", "instrument", "standard_lot"),
    "report": ("reviewer", "report_no"),
}
#: recorded times may lead the platform clock by this much (device and phone clocks drift), s
CLOCK_SKEW_S = 300


@dataclass(frozen=True)
class Step:
    """One custody step; ``actor`` is the user who performed and signs it."""

    step: str
    time_utc: int
    actor: str
    details: Mapping[str, Any] = field(default_factory=dict)
    seq: int = 0


def holder(steps: Sequence[Step]) -> str | None:
    """Who holds the sample after ``steps``: the sampler, then each transfer's receiver."""
    who = None
    for s in steps:
        if s.step == "sample":
            who = s.actor
        elif s.step == "transfer":
            who = str(s.details.get("to"))
    return who


def validate(steps: Sequence[Step], new: Step, *, now_utc: float) -> None:
    """Raise InputError naming the field when ``new`` cannot follow ``steps`` (see the module doc)."""
    if new.step not in STEPS:
        raise InputError("step", f"must be one of {', '.join(STEPS)}, got {new.step!r}")
    for f in REQUIRED[new.step]:
        v = new.details.get(f)
        if v is None or (isinstance(v, str) and not v.strip()):
            raise InputError(f, f"required for a {new.step} step / {STEP_LABELS[new.step]}必填")
    if new.time_utc > now_utc + CLOCK_SKEW_S:
        raise InputError("time", "is in the future / 时间晚于当前")
    if not steps:
        if new.step != "sample":
            raise InputError("step", f"a {new.step} before the sample was taken: the first step is sampling "
                                     "/ 首个环节须为采样")
        h = new.details.get("holding_h")
        if h is not None and (not isinstance(h, int | float) or not math.isfinite(h) or h <= 0):
            raise InputError("holding_h", f"must be a positive number of hours, got {h!r}")
        return
    sample = steps[0]
    if any(s.step == "report" for s in steps):
        raise InputError("step", "the report has been issued; the chain is closed / 报告已出具")
    if new.step == "sample":
        raise InputError("step", "the sample step is already recorded / 已采样")
    if new.time_utc < sample.time_utc:
        what = {"transfer": "transfer before sampling", "analysis": "analysed before sampled",
                "report": "report before sampling"}[new.step]
        raise InputError("time", f"{what}: {new.step} at {new.time_utc} < sampled at {sample.time_utc} "
                                 "/ 早于采样时间")
    current = holder(steps)
    transfers = [s for s in steps if s.step == "transfer"]
    analyses = [s for s in steps if s.step == "analysis"]
    if new.step == "transfer":
        if str(new.details["from"]) != current:
            raise InputError("from", f"{new.details['from']} does not hold the sample; {current} does / 移交人非持有人")
        if new.details["to"] == new.details["from"]:
            raise InputError("to", "a transfer needs another person / 接收人须不同")
        if new.actor not in (new.details["from"], new.details["to"]):
            raise InputError("actor", "a transfer is recorded and signed by the giver or the receiver")
        if transfers and new.time_utc < transfers[-1].time_utc:
            raise InputError("time", "transfer before the previous transfer / 早于上次交接")
        return
    if new.step == "analysis":
        if new.actor != current:
            raise InputError("analyst", f"{new.actor} does not hold the sample ({current} does); "
                                        "record the transfer first / 分析人未接收样品")
        if transfers and new.time_utc < transfers[-1].time_utc:
            raise InputError("time", "analysed before the sample was received / 早于样品交接")
        h = sample.details.get("holding_h")
        if isinstance(h, int | float) and new.time_utc - sample.time_utc > h * 3600:
            late = (new.time_utc - sample.time_utc) / 3600
            raise InputError("time", f"holding time exceeded: analysed {late:.1f} h after sampling, the method "
                                     f"allows {h:g} h / 超过保存时限")
        return
    # report
    if not analyses:
        raise InputError("step", "report before analysis: no analysis is recorded / 尚无分析记录")
    last = max(a.time_utc for a in analyses)
    if new.time_utc < last:
        raise InputError("time", "report before analysis: dated before the last analysis / 早于分析时间")
    reviewer = str(new.details["reviewer"])
    if reviewer == new.actor:
        raise InputError("reviewer", "the reviewer and the authorised signatory must be two people / 审核人与签发人须不同")
    if reviewer in {a.actor for a in analyses}:
        raise InputError("reviewer", f"{reviewer} analysed the sample and cannot review the report / 分析人不得审核")


def message(sample_code: str, seq: int, s: Step) -> bytes:
    """The bytes the actor signs: canonical JSON of the sample number, position, step, time, actor, fields."""
    body = {"sample": sample_code, "seq": seq, "step": s.step, "time_utc": s.time_utc, "actor": s.actor,
            "details": dict(s.details)}
    return b"tianlan-custody/1\n" + json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


# Rows of these tables are covered by ledger entries: `tianlan ledger verify` detects an edit or deletion.
from tianlan.ledger import covered as _covered  # noqa: E402

_covered.register("custody_samples", ["id"], ["code", "owner_scope", "site_code", "created_by", "created_utc"])
_covered.register("custody_steps", ["id"], ["sample_id", "seq", "step", "time_utc", "actor", "details", "signature",
                                            "recorded_utc"])
