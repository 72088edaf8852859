"""QC configuration: errors name the entry and field, scopes and overrides, the hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from tianlan.errors import InputError
from tianlan.qc.config import (
    ALL_MONTHS,
    SiteScope,
    config_from,
    config_hash,
    default_config,
    load_config,
    parameter_code,
    parse_config,
)
from tianlan.qc.core import REGISTRY, load_all

PM25, SO2 = "a34004", "a21026"
SJZ_A = SiteScope("A", "air", frozenset({"石家庄", "130100"}))
BD_B = SiteScope("B", "air", frozenset({"保定", "130600"}))
WATER = SiteScope("W1", "water", frozenset({"石家庄"}))


def _err(data: object, toys: dict, base: str = "none") -> InputError:
    if isinstance(data, list):
        data = {"base": base, "detectors": data}
    with pytest.raises(InputError) as e:
        parse_config(data, where="C.yaml", registry=toys)
    return e.value


@pytest.mark.parametrize(("entries", "field"), [
    ([{"id": "ZQ-FLAT"}, {"id": "TMP-99"}], "detectors[1].id"),
    ([{"id": "ZQ-FLAT", "parameters": ["PM2.5", "PM1000"]}], "detectors[0].parameters[1]"),
    ([{"id": "ZQ-FLAT", "parameters": []}], "detectors[0].parameters"),
    ([{"id": "ZQ-FLAT", "params": {"min_hours": 6}}], "detectors[0].params.min_hours"),
    ([{"id": "ZQ-FLAT", "params": {"min_len": "six"}}], "detectors[0].params.min_len"),
    ([{"id": "ZQ-FLAT", "params": {"tolerance": True}}], "detectors[0].params.tolerance"),
    ([{"id": "*", "params": {"min_len": 3}}], "detectors[0].params"),
    ([{"id": "ZQ-FLAT"}, {"id": "ZQ-HIGH", "scope": {"months": [12, 13]}}], "detectors[1].scope.months[1]"),
    ([{"id": "ZQ-FLAT", "scope": {"kinds": ["sky"]}}], "detectors[0].scope.kinds[0]"),
    ([{"id": "ZQ-FLAT", "scope": {"season": "winter"}}], "detectors[0].scope.season"),
    ([{"id": "ZQ-FLAT", "scope": {"stations": []}}], "detectors[0].scope.stations"),
    ([{"id": "ZQ-FLAT", "enabled": "yes"}], "detectors[0].enabled"),
    ([{"id": "ZQ-FLAT", "paramz": {}}], "detectors[0].paramz"),
    ([{"parameters": ["SO2"]}], "detectors[0].id"),
    (["ZQ-FLAT"], "detectors[0]"),
])
def test_errors_name_the_entry_index_and_field(toys, entries, field) -> None:
    e = _err(entries, toys)
    assert e.field == field
    assert e.where == "C.yaml"
    assert field in str(e)


def test_top_level_errors(toys) -> None:
    assert _err({"version": 2}, toys).field == "version"
    assert _err({"base": "everything"}, toys).field == "base"
    assert _err({"detectors": {"id": "ZQ-FLAT"}}, toys).field == "detectors"
    assert _err({"checks": []}, toys).field == "checks"
    assert _err(["x"], toys).field == "detectors[0]"


def test_unknown_id_lists_the_known_ones(toys) -> None:
    e = _err([{"id": "TMP-99"}], toys)
    assert "TMP-99" in e.reason and "ZQ-FLAT" in e.reason


def test_load_config_file_errors(tmp_path: Path, toys) -> None:
    with pytest.raises(InputError) as e:
        load_config(tmp_path / "absent.yaml", registry=toys)
    assert e.value.field == "--config"
    bad = tmp_path / "bad.yaml"
    bad.write_text("detectors: [id: ZQ-FLAT\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_config(bad, registry=toys)
    assert e.value.field == "--config" and "YAML" in e.value.reason
    c = tmp_path / "c.yaml"
    c.write_text("base: none\ndetectors:\n  - id: ZQ-FLAT\n    parameters: [PM2.5, a21026]\n    params: {min_len: 6}\n",
                 encoding="utf-8")
    cfg = load_config(c, registry=toys)
    (e1,) = cfg.entries
    assert e1.parameters == frozenset({PM25, SO2}) and e1.params == {"min_len": 6, "tolerance": 0.0}


def test_parameter_names_and_codes() -> None:
    assert parameter_code("PM2.5") == PM25 == parameter_code("pm2.5") == parameter_code(" a34004 ")
    assert parameter_code("SO2") == SO2 and parameter_code("O3") == "a05024" and parameter_code("CO") == "a21005"
    assert parameter_code("a19001") == "a19001"  # O2 of flue gas, from the code tables
    with pytest.raises(InputError) as e:
        parameter_code("PM3", field="parameter")
    assert e.value.field == "parameter"


def test_later_entries_override_earlier_for_the_same_detector_station_parameter(toys) -> None:
    cfg = config_from([
        {"id": "ZQ-FLAT", "params": {"min_len": 6}},
        {"id": "ZQ-FLAT", "parameters": ["SO2"], "params": {"min_len": 12}},
        {"id": "ZQ-FLAT", "params": {"tolerance": 0.5}, "scope": {"stations": ["B"]}},
        {"id": "ZQ-FLAT", "parameters": ["PM2.5"], "enabled": False, "scope": {"regions": ["保定"]}},
    ], registry=toys)
    (a_pm,) = cfg.plan("ZQ-FLAT", SJZ_A, PM25)
    assert a_pm.params == {"min_len": 6, "tolerance": 0.0} and a_pm.months is None
    (a_so2,) = cfg.plan("ZQ-FLAT", SJZ_A, SO2)
    assert a_so2.params == {"min_len": 12, "tolerance": 0.0}
    # at B the last entry wins on both parameters; entries do not merge (min_len back to its default)
    (b_so2,) = cfg.plan("ZQ-FLAT", BD_B, SO2)
    assert b_so2.params == {"min_len": 4, "tolerance": 0.5}
    assert cfg.plan("ZQ-FLAT", BD_B, PM25) == ()  # switched off in 保定 for PM2.5
    assert cfg.plan("ZQ-HIGH", SJZ_A, PM25) == ()  # not configured at all


def test_scopes_by_region_code_kind_and_season(toys) -> None:
    cfg = config_from([
        {"id": "ZQ-FLAT", "params": {"min_len": 6}},
        {"id": "ZQ-FLAT", "params": {"min_len": 12}, "scope": {"months": [12, 1, 2], "regions": ["130100"]}},
        {"id": "ZQ-NBR", "scope": {"kinds": ["water"]}},
        {"id": "ZQ-HIGH"},
    ], registry=toys)
    plan = cfg.plan("ZQ-FLAT", SJZ_A, PM25)
    assert {p.months: p.params["min_len"] for p in plan} == {frozenset(set(ALL_MONTHS) - {12, 1, 2}): 6,
                                                             frozenset({12, 1, 2}): 12}
    (bd,) = cfg.plan("ZQ-FLAT", BD_B, PM25)
    assert bd.months is None and bd.params["min_len"] == 6
    assert cfg.plan("ZQ-NBR", SJZ_A, PM25) == () and cfg.plan("ZQ-NBR", WATER, "w01018")
    # a detector never runs outside its systems, nor (without `parameters`) outside its own list
    assert cfg.plan("ZQ-HIGH", WATER, PM25) == ()
    assert cfg.plan("ZQ-HIGH", SJZ_A, SO2) == () and cfg.plan("ZQ-HIGH", SJZ_A, PM25)
    ids = [s.id for s, _ in cfg.detectors_for(SJZ_A, PM25)]
    assert ids == ["ZQ-FLAT", "ZQ-HIGH"]


def test_a_winter_only_entry_leaves_other_months_off(toys) -> None:
    cfg = config_from([{"id": "ZQ-FLAT", "scope": {"months": [12, 1, 2]}}], registry=toys)
    (p,) = cfg.plan("ZQ-FLAT", SJZ_A, PM25)
    assert p.months == frozenset({12, 1, 2})


def test_default_config_enables_every_registered_detector_and_user_config_goes_on_top(toys) -> None:
    d = default_config(registry=toys)
    assert [e.id for e in d.entries] == sorted(toys)
    assert all(e.params == toys[e.id].defaults() for e in d.entries)
    user = parse_config({"detectors": [{"id": "ZQ-FLAT", "params": {"min_len": 9}}]}, registry=toys)  # base: default
    assert len(user.entries) == len(d.entries) + 1
    (p,) = user.plan("ZQ-FLAT", SJZ_A, PM25)
    assert p.params["min_len"] == 9
    assert user.plan("ZQ-HIGH", SJZ_A, PM25)  # still on from the default


def test_default_config_covers_the_real_registry() -> None:
    reg = load_all()
    cfg = default_config()
    assert set(cfg.detector_ids) == set(reg)
    assert len(cfg.hash) == 16 and int(cfg.hash, 16) >= 0


def test_hash_is_stable_and_sensitive(toys) -> None:
    a = config_from([{"id": "ZQ-FLAT", "parameters": ["PM2.5", "SO2"], "params": {"min_len": 6},
                      "scope": {"months": [1, 12], "stations": ["A", "B"]}}], registry=toys)
    b = config_from([{"scope": {"stations": ["B", "A"], "months": [12, 1]}, "params": {"min_len": 6.0},
                      "parameters": ["a21026", "a34004"], "id": "ZQ-FLAT", "note": "spelled differently"}], registry=toys)
    assert a.hash == b.hash == config_hash(a) == config_hash(a.to_dict())
    assert len(a.hash) == 16
    c = config_from([{"id": "ZQ-FLAT", "parameters": ["PM2.5", "SO2"], "params": {"min_len": 7},
                      "scope": {"months": [1, 12], "stations": ["A", "B"]}}], registry=toys)
    assert c.hash != a.hash
    # the hash covers defaults too: the same entry resolved against another default differs
    assert config_from([{"id": "ZQ-FLAT"}], registry=toys).hash == config_from([{"id": "ZQ-FLAT"}], registry=toys).hash
    assert config_from([{"id": "ZQ-FLAT"}], registry=toys).hash != config_from([{"id": "ZQ-HIGH"}], registry=toys).hash
    # a known value: guards against accidental changes of the canonical form
    assert config_hash({"version": 1, "entries": []}) == config_hash({"entries": [], "version": 1.0})


def test_toys_are_in_the_global_registry_only_during_the_test(toys) -> None:
    assert "ZQ-FLAT" in REGISTRY
