"""META-02: analyser parameter changes against filed values, approvals and calibration windows."""

from __future__ import annotations

import numpy as np

from tianlan.qc.core import REGISTRY, Context, Mark, Series, Status, get, load_all

T0 = 1704067200 - 8 * 3600  # 2024-01-01 00:00 Beijing time (UTC s)
H = 3600
FILED = {"i13007": 1.0, "i13008": 0.0, "range": "0-200", "o2_ref": 6.0}


def run(series: Series, ctx: Context, **params: object) -> list:
    spec = get("META-02")
    return spec.func(series, ctx, **spec.resolve(params))


def so2(days: int = 10) -> Series:
    t = T0 + H * np.arange(days * 24, dtype=np.int64)
    return Series("P1", "a21026", t, np.full(t.size, 20.0))


def ev(hour: int, key: str, old: object, new: object, approved: bool, **extra: object) -> dict:
    return {"time_utc": T0 + hour * H, "kind": "parameter", "key": key, "old": old, "new": new, "approved": approved, **extra}


def ctx(events: list[dict], marks: list[Mark] | None = None, **attrs: object) -> Context:
    return Context(station="P1", events=events, marks=marks or [], attrs={"filed": FILED, **attrs})


def test_registered() -> None:
    load_all()
    spec = REGISTRY["META-02"]
    assert spec.family == "meta" and spec.doc and all(p.doc for p in spec.params.values())


def test_slope_change_without_approval() -> None:
    s = so2()
    fs = run(s, ctx([ev(50, "i13007", 1.0, 0.8, False)]))
    assert len(fs) == 1
    f = fs[0]
    assert f.status is Status.FAIL and f.reason == "unapproved_parameter_change" and f.score == 1.0
    assert (f.start, f.end) == (50, len(s))  # from the change to the end: still in force
    e = f.evidence
    assert (e["key"], e["meaning"], e["old"], e["new"], e["filed"], e["approved"]) == ("i13007", "slope", 1.0, 0.8, 1.0, False)
    assert e["calibration_window"] is None and e["time"] == "2024-01-02T18:00:00Z"


def test_changes_and_calibration_windows() -> None:
    s = so2()
    cal = Mark(T0 + 100 * H, T0 + 101 * H, "calibration")
    events = [
        ev(100, "i13008", 0.0, 0.5, True),     # approved, in a calibration: fine
        ev(120, "i13008", 0.5, 0.4, True),     # approved, outside a calibration: suspect
        ev(101, "i13007", 1.0, 1.02, False),   # in the calibration (within the 30 min slack), not approved: suspect
        ev(150, "o2_ref", 6.0, 6.0, False),    # no change
    ]
    fs = sorted(run(s, ctx(events, [cal])), key=lambda f: f.start)
    got = [(f.start, f.end, f.status, f.reason, f.evidence["key"]) for f in fs]
    assert got == [(101, len(s), Status.SUSPECT, "unapproved_parameter_change", "i13007"),
                   (120, len(s), Status.SUSPECT, "change_outside_calibration", "i13008")]
    assert fs[0].evidence["calibration_window"]["mark"] == "calibration"
    assert run(s, ctx(events, [cal]), slack_min=0)[0].status is Status.FAIL  # 101 h is the window's end: outside


def test_revert_and_unlogged_change() -> None:
    s = so2()
    events = [ev(20, "i13007", 1.0, 0.7, False), ev(40, "i13007", 0.7, 1.0, True),  # changed, then put back
              ev(100, "range", "0-500", "0-200", True)]  # log says range was 0-500: changed with no record
    fs = sorted(run(s, ctx(events, [Mark(T0 + 40 * H, T0 + 41 * H, "calibration")])), key=lambda f: f.start)
    got = [(f.start, f.end, f.status, f.reason) for f in fs]
    assert got == [(20, 40, Status.FAIL, "unapproved_parameter_change"),
                   (100, len(s), Status.FAIL, "unlogged_parameter_change"),
                   (100, len(s), Status.SUSPECT, "change_outside_calibration")]
    assert fs[1].evidence["value_in_force_by_log"] == "0-200" and fs[1].evidence["old"] == "0-500"


def test_device_readback_differs_from_filed() -> None:
    s = so2()
    fs = run(s, ctx([], current={"i13007": 0.85, "i13008": 0.0}))
    assert [(f.reason, f.status, f.evidence["key"], f.evidence["current"], f.evidence["filed"]) for f in fs] == \
        [("differs_from_filed", Status.FAIL, "i13007", 0.85, 1.0)]
    assert (fs[0].start, fs[0].end) == (0, len(s))
    # an approved change that is in the log makes the read-back value the one in force
    cal = Mark(T0 + 5 * H, T0 + 6 * H, "calibration")
    assert run(s, ctx([ev(5, "i13007", 1.0, 0.85, True)], [cal], current={"i13007": 0.85})) == []


def test_scope_per_analyser_and_outside_the_series() -> None:
    s = so2()
    filed = {"a21026": {"i13007": 1.0}, "a21002": {"i13007": 1.1}}
    events = [ev(30, "i13007", 1.1, 0.9, False, parameter="a21002"),  # the NOx analyser: not this series
              ev(-48, "i13007", 1.0, 0.9, False, parameter="a21026"),  # before the series, still in force
              ev(24 * 20, "i13007", 0.9, 0.8, False)]  # after the series: not placed
    c = Context(station="P1", events=events, attrs={"filed": filed})
    fs = run(s, c)
    assert [(f.start, f.end, f.evidence["time"]) for f in fs] == [(0, len(s), "2023-12-29T16:00:00Z")]
    assert run(s, Context(station="P1")) == []


def test_site_wide_events_are_reported_on_the_lead_parameter_only() -> None:
    s = so2()
    nox = Series("P1", "a21002", s.times, s.values)
    o2 = Series("P1", "a19001", s.times, np.full(len(s), 7.0))
    c = Context(station="P1", series={"a21026": s, "a21002": nox, "a19001": o2}, limits={"a21026": 35.0, "a21002": 50.0},
                events=[ev(50, "o2_ref", 6.0, 9.0, False), ev(60, "i13007", 1.0, 0.8, False, parameter="a21026")],
                attrs={"filed": FILED})
    got = {p: sorted(f.evidence["key"] for f in run(ser, c)) for p, ser in c.series.items()}
    assert got == {"a21002": ["o2_ref"], "a21026": ["i13007"], "a19001": []}
