"""The lifecycle state machine: the one allowed path, every other move refused naming the state."""

from __future__ import annotations

import itertools

import pytest

from tianlan.alarms import lifecycle as lc
from tianlan.errors import Conflict, InputError

PATH = [("ack", "acknowledged"), ("verify", "verified"), ("dispose", "disposed"), ("close", "closed")]


def _move(state: str, action: str) -> str:
    return lc.next_state(state, action, user="zhang.wei", note="checked the data",
                         outcome="fraud" if action == "dispose" else None)


def test_the_allowed_path() -> None:
    state = lc.RAISED
    for action, to in PATH:
        state = _move(state, action)
        assert state == to


@pytest.mark.parametrize(("state", "action"), [
    (s, a) for s, a in itertools.product(lc.STATES, lc.TRANSITIONS) if lc.TRANSITIONS[a][0] != s
])
def test_every_other_transition_is_refused_naming_the_state(state: str, action: str) -> None:
    with pytest.raises(Conflict) as e:
        _move(state, action)
    msg = str(e.value)
    assert f"alarm is {state}" in msg and lc.STATE_NAMES[state] in msg
    assert f"{action} needs {lc.TRANSITIONS[action][0]}" in msg


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"user": "", "note": "n"}, "user"),
    ({"user": "  ", "note": "n"}, "user"),
    ({"user": "system", "note": "n"}, "user"),
    ({"user": "u", "note": ""}, "note"),
    ({"user": "u", "note": "n", "outcome": "fraud"}, "outcome"),
])
def test_who_and_why_are_required(kwargs: dict, field: str) -> None:
    with pytest.raises(InputError) as e:
        lc.next_state(lc.RAISED, "ack", **kwargs)
    assert e.value.field == field


def test_dispose_needs_a_known_outcome() -> None:
    for outcome in (None, "guilty"):
        with pytest.raises(InputError) as e:
            lc.next_state(lc.VERIFIED, "dispose", user="u", note="n", outcome=outcome)
        assert e.value.field == "outcome"
    for outcome in lc.OUTCOMES:
        assert lc.next_state(lc.VERIFIED, "dispose", user="u", note="n", outcome=outcome) == lc.DISPOSED


def test_unknown_action() -> None:
    with pytest.raises(InputError) as e:
        lc.next_state(lc.RAISED, "reopen", user="u", note="n")
    assert e.value.field == "action"


def test_only_raised_alarms_auto_resolve() -> None:
    assert [s for s in lc.STATES if lc.can_auto_resolve(s)] == [lc.RAISED]
