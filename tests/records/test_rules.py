"""The pure rules of issue 5 §3-7: versions and as-of, the review state machine, custody order,
mark timeliness, interference visibility (no store)."""

from __future__ import annotations

import pytest

from tianlan.auth.roles import Role
from tianlan.errors import Conflict, InputError
from tianlan.ledger import custody, interference, marks, review, versions

# --------------------------------------------------------------------------------------- versions


def _v(id: int, value: float | None, approved: float | None, status: str = "approved") -> versions.Version:
    return versions.Version(id=id, device_id=1, parameter="a34004", kind="hour", time_utc=0, action="correct",
                            value=value, flag=None, reason="r", document="d", proposed_by="a", proposed_utc=0.0,
                            status=status if approved is not None or status != "approved" else "proposed",
                            decided_by="b", decided_utc=approved)


def test_effective_version_as_of() -> None:
    vs = [_v(1, 10.0, 100.0), _v(2, 20.0, 200.0), _v(3, 30.0, None, status="proposed"),
          _v(4, 40.0, 300.0, status="rejected")]
    assert versions.effective(vs, as_of=50) is None
    assert versions.effective(vs, as_of=100).id == 1  # type: ignore[union-attr]
    assert versions.effective(vs, as_of=199.9).id == 1  # type: ignore[union-attr]
    assert versions.effective(vs, as_of=250).id == 2  # type: ignore[union-attr]
    assert versions.effective(vs).id == 2  # type: ignore[union-attr]  # pending and rejected never count
    assert versions.apply(5.0, "N", None) == (5.0, "N", 0)
    assert versions.apply(5.0, "N", vs[1]) == (20.0, "N", 2)


def test_proposal_validation_names_the_field() -> None:
    base = dict(device_id=1, parameter="a34004", kind="hour", time_utc=0, flag=None, reason="typo", document="doc-1")
    with pytest.raises(InputError) as e:
        versions.validate_proposal(versions.Proposal(action="correct", value=None, **base))  # type: ignore[arg-type]
    assert e.value.field == "--value"
    with pytest.raises(InputError) as e:
        versions.validate_proposal(versions.Proposal(action="invalidate", value=3.0, **base))  # type: ignore[arg-type]
    assert e.value.field == "--value"
    with pytest.raises(InputError) as e:
        versions.validate_proposal(versions.Proposal(action="correct", value=1.0, **{**base, "document": " "}))  # type: ignore[arg-type]
    assert e.value.field == "--document"
    p = versions.validate_proposal(versions.Proposal(action="invalidate", value=None, **base))  # type: ignore[arg-type]
    assert p.flag == versions.INVALID_FLAG
    v = _v(1, 1.0, None, status="proposed")
    with pytest.raises(InputError) as e:
        versions.check_decider(v, "a")
    assert e.value.field == "user"
    versions.check_decider(v, "b")


def test_content_digest_changes_with_any_value_and_ignores_order() -> None:
    rows = [("MN1", "a34004", "hour", 0, 10.0, "N", 0), ("MN1", "a34004", "hour", 3600, 11.0, "N", 0)]
    d = versions.content_digest(rows)
    assert d == versions.content_digest(list(reversed(rows)))
    assert d != versions.content_digest([rows[0], ("MN1", "a34004", "hour", 3600, 11.000001, "N", 0)])
    assert d != versions.content_digest([rows[0], ("MN1", "a34004", "hour", 3600, 11.0, "N", 7)])

# ----------------------------------------------------------------------------------------- review


def _a(level: int, action: str, digest: str | None = "d1", reason: str = "") -> review.Action:
    return review.Action(level=level, action=action, user="u", time_utc=0, digest=digest, reason=reason)


def test_review_three_levels_then_frozen_then_reopen() -> None:
    s = review.State()
    assert s.awaiting("d1") == 1
    with pytest.raises(Conflict, match="level"):
        review.step(s, _a(2, "approve"))
    s = review.step(s, _a(1, "approve"))
    s = review.step(s, _a(2, "approve"))
    with pytest.raises(InputError) as e:
        review.step(s, _a(3, "approve"))
    assert e.value.field == "level"
    s = review.step(s, _a(3, "sign"))
    assert s.signed and s.awaiting("d1") is None
    with pytest.raises(Conflict, match="frozen"):
        review.step(s, _a(1, "approve"))
    with pytest.raises(InputError) as e:
        review.step(s, _a(3, "reopen", reason=""))
    assert e.value.field == "reason"
    s = review.step(s, _a(3, "reopen", reason="lab result corrected"))
    assert s.revision == 2 and not s.signed and s.awaiting("d2") == 1


def test_send_back_returns_to_the_level_below_and_content_change_resets() -> None:
    s = review.fold([_a(1, "approve"), _a(2, "approve")])
    with pytest.raises(InputError) as e:
        review.step(s, _a(3, "send-back"))
    assert e.value.field == "reason"
    s = review.step(s, _a(3, "send-back", reason="hour 14 PM2.5 > PM10"))
    assert s.awaiting("d1") == 2 and s.last_send_back.startswith("hour 14")
    s = review.step(s, _a(2, "send-back", reason="recheck"))
    assert s.awaiting("d1") == 1
    s = review.fold([_a(1, "approve"), _a(2, "approve")])
    # the content changed (a correction approved): the old approvals no longer count
    assert s.stale("d2") and s.awaiting("d2") == 1
    with pytest.raises(Conflict, match="content changed"):
        review.step(s, _a(3, "sign", digest="d2"))


def test_review_deadlines() -> None:
    day = review.day_start("2019-01-01")
    assert review.day_label(day) == "2019-01-01"
    assert review.day_of(day + 86399) == day and review.day_of(day + 86400) == day + 86400
    assert review.deadline(day, 1) == day + 86400 * (1 + review.DEFAULT_DEADLINE_DAYS[1])
    s = review.State()
    assert review.overdue(s, "d", day, now_utc=review.deadline(day, 1) - 1) is None
    assert review.overdue(s, "d", day, now_utc=review.deadline(day, 1) + 1) == (1, review.deadline(day, 1))
    with pytest.raises(InputError) as e:
        review.day_start("2019-13-01")
    assert e.value.field == "--day"

# ---------------------------------------------------------------------------------------- custody

T0 = 1_546_300_800  # 2019-01-01T00:00Z
SAMPLE = custody.Step("sample", T0, "sam", {"place": "outlet DW001", "container": "1 L glass", "preservation": "H2SO4 pH<2, 4°C",
                                            "holding_h": 48})


def _val(steps: list[custody.Step], new: custody.Step) -> None:
    custody.validate(steps, new, now_utc=T0 + 30 * 86400)


def test_custody_sequence_accepts_the_normal_chain() -> None:
    chain: list[custody.Step] = []
    for s in (SAMPLE, custody.Step("transfer", T0 + 3600, "sam", {"from": "sam", "to": "ana"}),
              custody.Step("analysis", T0 + 7200, "ana", {"method": "HJ 828-2017", "instrument": "TI-01",
                                                           "standard_lot": "GSB07-3161-2014 #201905"}),
              custody.Step("report", T0 + 86400, "sig", {"reviewer": "rev", "report_no": "R-1"})):
        _val(chain, s)
        chain.append(s)
    assert custody.holder(chain) == "ana"


@pytest.mark.parametrize(("prefix", "new", "field", "words"), [
    (0, custody.Step("analysis", T0, "sam", {"method": "m", "instrument": "i", "standard_lot": "l"}), "step",
     "before the sample"),
    (1, custody.Step("transfer", T0 - 60, "sam", {"from": "sam", "to": "ana"}), "time", "transfer before sampling"),
    (1, custody.Step("analysis", T0 - 60, "sam", {"method": "m", "instrument": "i", "standard_lot": "l"}), "time",
     "analysed before sampled"),
    (1, custody.Step("report", T0 + 60, "sig", {"reviewer": "rev", "report_no": "R"}), "step", "report before analysis"),
    (1, custody.Step("transfer", T0 + 60, "x", {"from": "x", "to": "ana"}), "from", "does not hold"),
    (1, custody.Step("analysis", T0 + 49 * 3600, "sam", {"method": "m", "instrument": "i", "standard_lot": "l"}), "time",
     "holding time exceeded"),
    (1, custody.Step("analysis", T0 + 60, "sam", {"method": "m", "instrument": "i", "standard_lot": ""}), "standard_lot",
     "required"),
    (2, custody.Step("analysis", T0 + 60, "sam", {"method": "m", "instrument": "i", "standard_lot": "l"}), "analyst",
     "does not hold"),
    (1, custody.Step("sample", T0, "sam", {"place": "p", "container": "c", "preservation": "p"}), "step", "already"),
])
def test_custody_impossible_sequences_name_the_field(prefix: int, new: custody.Step, field: str, words: str) -> None:
    steps = [SAMPLE, custody.Step("transfer", T0 + 30, "sam", {"from": "sam", "to": "ana"})][:prefix]
    with pytest.raises(InputError) as e:
        _val(steps, new)
    assert e.value.field == field
    assert words in str(e.value)


def test_custody_report_rules_and_closed_chain() -> None:
    ana = custody.Step("analysis", T0 + 7200, "sam", {"method": "m", "instrument": "i", "standard_lot": "l"})
    with pytest.raises(InputError) as e:
        _val([SAMPLE, ana], custody.Step("report", T0 + 3600, "sig", {"reviewer": "rev", "report_no": "R"}))
    assert (e.value.field, "report before analysis" in str(e.value)) == ("time", True)
    with pytest.raises(InputError) as e:
        _val([SAMPLE, ana], custody.Step("report", T0 + 9000, "sig", {"reviewer": "sam", "report_no": "R"}))
    assert e.value.field == "reviewer"
    rep = custody.Step("report", T0 + 9000, "sig", {"reviewer": "rev", "report_no": "R"})
    _val([SAMPLE, ana], rep)
    with pytest.raises(InputError, match="closed"):
        _val([SAMPLE, ana, rep], custody.Step("transfer", T0 + 9999, "sig", {"from": "sam", "to": "x"}))
    assert custody.message("S1", 1, SAMPLE) != custody.message("S1", 2, SAMPLE)

# ------------------------------------------------------------------------------------------ marks


def test_mark_timeliness_and_validation() -> None:
    r = marks.MarkRules()
    start, end = T0, T0 + 6 * 3600
    assert marks.timeliness(start, end, start - 86400, r) == "on-time"  # planned in advance
    assert marks.timeliness(start, end, start + 1800, r) == "on-time"
    assert marks.timeliness(start, end, start + 7200, r) == "retroactive"
    assert marks.timeliness(start, end, end + 10 * 86400, r) == "retroactive"
    assert marks.timeliness(start, end, end + 10 * 86400 + 1, r) == "late"
    with pytest.raises(InputError) as e:
        marks.validate("maintenance", end, start, "x", now_utc=end)
    assert e.value.field == "--to"
    with pytest.raises(InputError) as e:
        marks.validate("holiday", start, end, "x", now_utc=end)
    assert e.value.field == "--kind"
    with pytest.raises(InputError) as e:
        marks.validate("maintenance", T0 + 30 * 86400, T0 + 31 * 86400, "x", now_utc=T0)
    assert e.value.field == "--from"

# ----------------------------------------------------------------------------------- interference


def test_interference_visibility() -> None:
    officials = [{"name": "王某", "position": "副县长", "organisation": "", "username": "wang"}, {"name": "李某"}]
    assert interference.may_read(Role.AUDIT, "aud", "审计员", "filer", officials) is None
    assert interference.may_read(Role.CITY, "filer", "", "filer", officials) is None
    assert interference.may_read(Role.ADMIN, "root", "", "filer", officials) is not None
    assert interference.may_read(Role.CITY, "other", "", "filer", officials) is not None
    # a named official never reads, whatever the role: by username or by display name
    assert interference.may_read(Role.DISCIPLINE, "wang", "", "filer", officials) is not None
    assert interference.may_read(Role.AUDIT, "li2", "李某", "filer", officials) is not None
    with pytest.raises(InputError) as e:
        interference.validate_filing(Role.ENTERPRISE, "verbal", [interference.Official("x")], "r")
    assert e.value.field == "user"
    with pytest.raises(InputError) as e:
        interference.validate_filing(Role.CITY, "phone", [interference.Official("x")], "r")
    assert e.value.field == "--method"
    assert interference.parse_official("王某,副县长,某县政府,wang").username == "wang"
