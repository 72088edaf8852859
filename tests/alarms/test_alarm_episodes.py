"""Detector results → episodes: the level table, merging, dedupe, corroboration, A.csv, evidence bundle."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from tianlan.alarms.episodes import (
    CSV_COLUMNS,
    build_episodes,
    csv_row,
    evidence_bundle,
    merge_bundles,
    result_key,
    write_csv,
)
from tianlan.alarms.policy import AlarmPolicy
from tianlan.errors import InputError
from tianlan.qc.core import Status

T0, H = 1546300800, 3600


@pytest.mark.parametrize(("detector", "family", "status", "score", "level"), [
    ("XV-03", "xv", Status.FAIL, 0.9, 3),  # fraud family, fail, high score
    ("XV-03", "xv", Status.FAIL, 0.5, 2),
    ("SPA-01", "spa", Status.SUSPECT, 0.85, 2),
    ("SPA-01", "spa", Status.SUSPECT, 0.3, 1),
    ("FOR-06", "", Status.FAIL, 0.95, 3),  # family from the catalogue ID
    ("CEMS-02", "", Status.FAIL, 0.8, 3),
    ("TMP-03", "tmp", Status.FAIL, 0.1, 2),  # QC check that targets fraud (flat line)
    ("TMP-03", "tmp", Status.SUSPECT, 0.9, 1),
    ("RNG-01", "rng", Status.FAIL, 1.0, 1),  # plain QC
    ("TMP-01", "tmp", Status.SUSPECT, 1.0, 1),
    ("CMP-02", "cmp", Status.MISSING, 0.0, 1),
    ("XV-03", "xv", Status.PASS, 1.0, 0),
    ("XV-03", "xv", Status.NOT_EVALUATED, 1.0, 0),
])
def test_level_table(mk, detector, family, status, score, level) -> None:
    r = mk(detector, family=family, status=status, score=score)
    assert AlarmPolicy().level_of(r) == level
    eps = build_episodes([r])
    assert [e.level for e in eps] == ([level] if level else [])


def test_one_result_one_episode(mk) -> None:
    (ep,) = build_episodes([mk("XV-03", start_h=2, hours=3, score=0.91)])
    assert (ep.station, ep.parameter, ep.detector, ep.level, ep.reason) == ("1001A", "a34004", "XV-03", 3, "mist_signature")
    assert (ep.start_utc, ep.end_utc) == (T0 + 2 * H, T0 + 5 * H)
    assert ep.score == pytest.approx(0.91) and len(ep.results) == 1 and ep.base_level == 3


def test_merge_closer_than_gap(mk) -> None:
    # 5 h apart → one episode; 7 h → two; exactly 6 h (the default gap) → two
    eps = build_episodes([mk(start_h=0), mk(start_h=6, reason="b"), mk(start_h=14, reason="c"), mk(start_h=21, reason="d")])
    assert [(e.start_utc - T0) // H for e in eps] == [0, 14, 21]
    assert [len(e.results) for e in eps] == [2, 1, 1]
    assert eps[0].end_utc == T0 + 7 * H
    # a wider gap from the policy merges them all
    assert len(build_episodes([mk(start_h=0), mk(start_h=14, reason="c")], policy=AlarmPolicy(merge_gap_s=24 * H))) == 1


def test_overlapping_detectors_on_one_parameter_are_one_alarm(mk) -> None:
    eps = build_episodes([mk("XV-03", start_h=0, hours=4, score=0.85), mk("XV-01", start_h=1, hours=5, score=0.95,
                                                                          reason="pm25_gt_pm10")])
    (ep,) = eps
    assert ep.detectors == ["XV-01", "XV-03"] and ep.detector == "XV-01"  # lead: same level, higher score
    assert (ep.start_utc, ep.end_utc) == (T0, T0 + 6 * H)


def test_parameters_and_station_wide_are_separate(mk) -> None:
    eps = build_episodes([mk(parameter="a34004"), mk(parameter="a34002"), mk("PRV-03", parameter="", reason="crc"),
                          mk("TIM-01", parameter="*", reason="clock"), mk(station="1002A")])
    assert [(e.station, e.parameter) for e in eps] == [("1001A", "*"), ("1001A", "a34002"), ("1001A", "a34004"),
                                                       ("1002A", "a34004")]
    assert eps[0].detectors == ["PRV-03", "TIM-01"]


def test_identical_results_count_once(mk) -> None:
    a, b = mk(score=0.85), mk(score=0.95)
    (ep,) = build_episodes([a, b, a])
    assert len(ep.results) == 1 and ep.score == pytest.approx(0.95)
    assert result_key(a) == result_key(b)
    assert result_key(a) != result_key(mk(config_hash="other"))


def test_corroboration_by_an_independent_family_raises_one_level(mk) -> None:
    xv = mk("XV-03", parameter="a34004", start_h=0, hours=3, score=0.9)
    spa = mk("SPA-01", parameter="a34002", start_h=2, hours=4, status=Status.SUSPECT, score=0.4, reason="neighbour_z")
    eps = {e.parameter: e for e in build_episodes([xv, spa])}
    assert eps["a34004"].level == 4 and eps["a34004"].base_level == 3
    assert eps["a34004"].corroborated_by == ["SPA-01", "XV-03"]
    assert eps["a34004"].reason == "mist_signature; corroborated by SPA-01"
    assert eps["a34002"].level == 1  # a level-1 suspect is not raised by corroboration (base < 2)


def test_corroboration_needs_a_second_family_and_overlap(mk) -> None:
    same_family = [mk("XV-03", hours=3), mk("XV-01", parameter="a34002", hours=3, reason="x")]
    assert {e.level for e in build_episodes(same_family)} == {3}
    later = [mk("XV-03", hours=3), mk("SPA-01", parameter="a34002", start_h=3, hours=2, status=Status.SUSPECT, score=0.3)]
    assert max(e.level for e in build_episodes(later)) == 3  # touching at the end, not overlapping
    qc_noise = [mk("XV-03", hours=3, score=0.5), mk("RNG-01", parameter="a34002", hours=3, reason="range"),
                mk("TMP-01", parameter="a21026", hours=3, status=Status.SUSPECT, reason="spike")]
    assert max(e.level for e in build_episodes(qc_noise)) == 2  # plain QC results are not evidence
    flat = [mk("TMP-03", hours=8, reason="flat", score=0.2), mk("FOR-06", parameter="a34002", hours=24, reason="copied",
                                                                   score=0.5)]
    assert {e.parameter: e.level for e in build_episodes(flat)} == {"a34004": 3, "a34002": 3}


def test_level_is_capped_at_4(mk) -> None:
    rs = [mk("XV-03", hours=3), mk("SPA-01", hours=3, reason="n"), mk("META-02", hours=3, reason="c"),
          mk("MARK-02", hours=3, reason="m")]
    (ep,) = build_episodes(rs)
    assert ep.level == 4 and len(ep.families) == 4


def test_policy_from_mapping(mk) -> None:
    pol = AlarmPolicy.from_mapping({"merge_gap_s": 3600, "min_level": 2, "name": "strict", "rules": [
        {"level": 3, "detectors": ["TMP-03"], "status": "fail", "evidence": True},
        {"level": 1, "status": "suspect"},
    ]})
    assert pol.merge_gap_s == 3600 and pol.name == "strict"
    eps = build_episodes([mk("TMP-03", reason="flat"), mk("XV-03", parameter="a34002", status=Status.SUSPECT)], policy=pol)
    assert [(e.detector, e.level) for e in eps] == [("TMP-03", 3)]  # the suspect is below min_level
    assert pol.hash() != AlarmPolicy().hash()
    with pytest.raises(InputError) as e:
        AlarmPolicy.from_mapping({"merge_gap": 1})
    assert e.value.field == "alarms.merge_gap"
    with pytest.raises(InputError) as e:
        AlarmPolicy.from_mapping({"rules": [{"level": 2, "status": "bad"}]})
    assert e.value.field == "alarms.rules[0].status"
    with pytest.raises(InputError):
        AlarmPolicy.from_mapping({"rules": [{"level": 7}]})


def test_alarm_file(mk) -> None:
    eps = build_episodes([mk(start_h=0, hours=2, score=0.9), mk("RNG-01", parameter="a21026", reason="range", score=1.0)])
    buf = io.StringIO()
    assert write_csv(eps, buf) == 2
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1] == {"station": "1001A", "parameter": "a34004", "start": "2019-01-01T08:00:00+08:00",
                       "end": "2019-01-01T10:00:00+08:00", "detector": "XV-03", "level": "3", "score": "0.9",
                       "reason": "mist_signature"}
    assert csv_row(eps[0])["level"] == "1"


def test_evidence_bundle(mk) -> None:
    ev = {"params": {"z": 3.0}, "neighbours": {"1002A": [1.0, 2.0], "1003A": [3.0]}, "inputs": np.array([1.5, np.nan]),
          "stat": np.float32(2.5)}
    r1 = mk("XV-03", hours=2, evidence=ev)
    r2 = mk("SPA-01", parameter="a34002", hours=2, status=Status.SUSPECT, score=0.3, evidence={"neighbours": ["1004A"]})
    ep = next(e for e in build_episodes([r1, r2]) if e.parameter == "a34004")
    b = evidence_bundle(ep, result_ids={result_key(r1): 42}, input_summary={"file": "F.csv", "rows": 10})
    json.dumps(b, allow_nan=False)  # JSON-safe: NumPy and NaN converted
    assert b["level"]["level"] == 4 and b["level"]["corroborated_by"] == ["SPA-01", "XV-03"]
    assert len(b["level"]["policy_hash"]) == 16
    (d,) = b["detectors"]
    assert d["id"] == "XV-03" and d["version"] == "1" and d["config_hashes"] == ["cfg0123456789abc"]
    assert d["params"] == {"z": 3.0}
    (res,) = b["results"]
    assert res["id"] == 42 and res["key"] == result_key(r1) and res["status"] == "FAIL"
    assert res["evidence"]["inputs"] == [1.5, None] and res["evidence"]["stat"] == 2.5
    assert b["input"]["neighbours"] == ["1002A", "1003A"] and b["input"]["file"] == "F.csv"
    assert b["input"]["window_utc"] == [T0, T0 + 2 * H]
    many = build_episodes([mk(start_h=i, reason=f"r{i}") for i in range(10)])[0]
    small = evidence_bundle(many, max_results=3)
    assert len(small["results"]) == 3 and small["results_total"] == 10


def test_merge_bundles(mk) -> None:
    a = build_episodes([mk(start_h=0, score=0.5)])[0]
    b = build_episodes([mk(start_h=0, score=0.5), mk("SPA-01", start_h=3, reason="neighbour_z", score=0.9)])[0]
    m = merge_bundles(evidence_bundle(a), evidence_bundle(b))
    assert m["results_total"] == 2 and [d["id"] for d in m["detectors"]] == ["SPA-01", "XV-03"]
    assert m["start_utc"] == T0 and m["end_utc"] == T0 + 4 * H


def test_a_replaced_policy_does_not_share_the_rule_cache(mk) -> None:
    import dataclasses

    from tianlan.alarms.policy import LevelRule

    pol = AlarmPolicy()
    r = mk("XV-03", score=0.9)
    assert pol.level_of(r) == 3
    assert dataclasses.replace(pol, rules=(LevelRule(1),)).level_of(r) == 1 and pol.level_of(r) == 3
