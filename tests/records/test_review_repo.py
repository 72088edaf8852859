"""Three-level review and sign-off on both stores: signatures verify, a signed day is frozen."""

from __future__ import annotations

import base64

import pytest
from records_world import PARAM, PW, World
from sqlalchemy import update

from tianlan.errors import AuthError, Conflict, InputError
from tianlan.ledger import review as rv
from tianlan.store.review_repo import ReviewRepo
from tianlan.store.schema_records import review_actions
from tianlan.store.versions_repo import VersionsRepo


def test_three_levels_signed_then_frozen_then_new_signed_version(world: World) -> None:
    repo = ReviewRepo(world.engine)
    day = world.day_utc
    with pytest.raises(Conflict, match="level"):
        repo.act(world.u("prov"), PW, "A-SJZ", day, "approve")  # level 2 before level 1
    with pytest.raises(AuthError):
        repo.act(world.u("city_sjz"), "wrong password", "A-SJZ", day, "approve")
    with pytest.raises(InputError) as e:
        repo.act(world.u("city_ts"), PW, "A-SJZ", day, "approve")  # another city
    assert e.value.field == "--station"
    with pytest.raises(InputError) as e:
        repo.act(world.u("auditor"), PW, "A-SJZ", day, "approve")
    assert e.value.field == "user"
    a1 = repo.act(world.u("city_sjz"), PW, "A-SJZ", day, "approve")
    assert a1.level == 1 and a1.digest and a1.signature
    assert [d.station for d in repo.queue(world.u("prov"), day, day + 86400)] == ["A-SJZ"]  # A-TS awaits level 1
    repo.act(world.u("prov"), PW, "A-SJZ", day, "approve")
    with pytest.raises(InputError) as e:
        repo.act(world.u("sig_sjz"), PW, "A-SJZ", day, "send-back")
    assert e.value.field == "reason"
    repo.act(world.u("sig_sjz"), PW, "A-SJZ", day, "send-back", reason="hour 5 looks wrong")
    show = repo.show(world.u("city_sjz"), "A-SJZ", day)
    assert show.awaiting == 2 and show.state.last_send_back == "hour 5 looks wrong"
    repo.act(world.u("prov"), PW, "A-SJZ", day, "approve")
    repo.act(world.u("sig_sjz"), PW, "A-SJZ", day, "sign")
    show = repo.show(world.u("sig_sjz"), "A-SJZ", day)
    assert show.state.signed and show.awaiting is None
    assert show.signature_ok == [True] * 5 and len(show.actions) == 5
    # the signature is over the stated content: recomputing the message with another digest fails
    from tianlan.auth.keys import verify_signature

    a = show.actions[-1]
    pk = world.u("sig_sjz").public_key
    assert verify_signature(pk, rv.message("A-SJZ", day, 1, 3, "sign", show.digest), base64.b64decode(a.signature))
    assert not verify_signature(pk, rv.message("A-SJZ", day, 1, 3, "sign", "0" * 64), base64.b64decode(a.signature))

    # frozen: a correction cannot take effect on the signed day
    versions = VersionsRepo(world.engine)
    v = versions.propose(world.u("city_sjz"), mn="MN-A", parameter=PARAM, kind="hour", time_utc=day + 5 * 3600,
                         action="correct", value=1.0, flag=None, reason="r", document="d")
    with pytest.raises(Conflict, match="signed off"):
        versions.decide(world.u("prov"), v.id, approve=True)
    with pytest.raises(Conflict, match="frozen"):
        repo.act(world.u("city_sjz"), PW, "A-SJZ", day, "approve")
    # a new signed version: reopen (revision 2), apply, review again and sign
    with pytest.raises(InputError) as e:
        repo.act(world.u("prov"), PW, "A-SJZ", day, "reopen", reason="x")
    assert e.value.field == "--level"
    repo.act(world.u("sig_sjz"), PW, "A-SJZ", day, "reopen", reason="lab result corrected")
    versions.decide(world.u("prov"), v.id, approve=True)
    show2 = repo.show(world.u("prov"), "A-SJZ", day)
    assert show2.digest != show.digest and show2.state.revision == 2 and show2.awaiting == 1
    for who, act in (("city_sjz", "approve"), ("prov", "approve"), ("sig_sjz", "sign")):
        repo.act(world.u(who), PW, "A-SJZ", day, act)
    show3 = repo.show(world.u("prov"), "A-SJZ", day)
    assert show3.state.signed and show3.state.revision == 2 and all(show3.signature_ok)
    assert len(show3.signature_ok) == 9
    # revision 1's signature still verifies over revision 1's digest
    assert show3.actions[4].digest == show.digest and show3.signature_ok[4]


def test_content_change_before_sign_off_resets_and_tampered_signature_fails(world: World) -> None:
    repo = ReviewRepo(world.engine)
    day = world.day_utc
    repo.act(world.u("city_sjz"), PW, "A-SJZ", day, "approve")
    repo.act(world.u("prov"), PW, "A-SJZ", day, "approve")
    versions = VersionsRepo(world.engine)
    v = versions.propose(world.u("city_sjz"), mn="MN-A", parameter=PARAM, kind="hour", time_utc=day,
                         action="correct", value=1.0, flag=None, reason="r", document="d")
    versions.decide(world.u("city_sjz2"), v.id, approve=True)  # not signed yet: allowed
    show = repo.show(world.u("prov"), "A-SJZ", day)
    assert show.awaiting == 1 and show.state.stale(show.digest)
    with pytest.raises(Conflict, match="content changed"):
        repo.act(world.u("sig_sjz"), PW, "A-SJZ", day, "sign")
    # a signature altered by SQL no longer verifies
    with world.engine.begin() as c:
        c.execute(update(review_actions).where(review_actions.c.level == 1)
                  .values(digest="f" * 64))
    show = repo.show(world.u("prov"), "A-SJZ", day)
    assert show.signature_ok == [False, True]


def test_queue_and_overdue(world: World) -> None:
    repo = ReviewRepo(world.engine, deadline_days={1: 1, 2: 2, 3: 3})
    day = world.day_utc
    q = repo.queue(world.u("city_sjz"), day - 86400, day + 2 * 86400)
    assert [(d.station, d.day_utc, d.n_values) for d in q] == [("A-SJZ", day, 24)]  # own city only
    assert [d.station for d in repo.queue(world.u("prov"), day, day + 86400, level=2)] == []
    late = repo.overdue(world.u("prov"), day, day + 86400, now_utc=day + 2 * 86400 + 1)
    assert sorted((d.station, lv) for d, lv, _ in late) == [("A-SJZ", 1), ("A-TS", 1)]
    assert repo.overdue(world.u("prov"), day, day + 86400, now_utc=day + 2 * 86400 - 1) == []
    repo.act(world.u("city_sjz"), PW, "A-SJZ", day, "approve")
    late = repo.overdue(world.u("city_sjz"), day, day + 86400, now_utc=day + 3 * 86400 + 1)
    assert [(d.station, lv) for d, lv, _ in late] == [("A-SJZ", 2)]
    with pytest.raises(InputError) as e:
        repo.act(world.u("city_sjz"), PW, "A-SJZ", day + 3600, "approve")
    assert e.value.field == "--day"
    with pytest.raises(InputError) as e:
        repo.act(world.u("city_sjz"), PW, "A-SJZ", day + 86400, "approve")
    assert e.value.field == "--day"  # no data that day


def test_signatures_still_verify_after_a_key_reset(world: World) -> None:
    from tianlan.auth.users import UsersRepo

    repo = ReviewRepo(world.engine)
    repo.act(world.u("city_sjz"), PW, "A-SJZ", world.day_utc, "approve")
    old_key = world.u("city_sjz").public_key
    new = UsersRepo(world.engine).set_password("city_sjz", "another pass 2", actor="admin")  # admin reset: new key
    assert new.public_key != old_key
    assert repo.show(world.u("prov"), "A-SJZ", world.day_utc).signature_ok == [True]
    # later actions are signed with the new key; both verify
    repo.act(world.u("prov"), PW, "A-SJZ", world.day_utc, "approve")
    repo.act(world.u("sig_sjz"), PW, "A-SJZ", world.day_utc, "send-back", reason="again")
    repo.act(world.u("prov"), PW, "A-SJZ", world.day_utc, "send-back", reason="again")
    repo.act(new, "another pass 2", "A-SJZ", world.day_utc, "approve")
    assert repo.show(world.u("prov"), "A-SJZ", world.day_utc).signature_ok == [True] * 5
