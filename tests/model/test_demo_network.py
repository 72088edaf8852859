"""The synthetic Hebei sample network."""

from __future__ import annotations

import re
from collections import Counter

from tianlan.model.demo_network import demo_network
from tianlan.model.hebei import region_centres
from tianlan.model.parameters import expected_parameters
from tianlan.model.registry import CONTROL_LEVELS, SECTION_TYPES


def test_default_network_is_valid_and_complete() -> None:
    reg = demo_network()
    reg.validate()  # self-contained: every reference resolves inside
    kinds = Counter(s.kind for s in reg.sites)
    assert kinds == {"air": 30, "water": 6, "source": 6}
    assert len(reg.devices) == len(reg.sites)
    assert sorted(d.site for d in reg.devices) == sorted(s.code for s in reg.sites)
    assert len(reg.regions) > 50 and len(reg.parameters) > 50


def test_air_stations() -> None:
    air = [s for s in demo_network().sites if s.kind == "air"]
    assert {s.control_level for s in air} == set(CONTROL_LEVELS)
    assert sum(s.background for s in air) == 1
    # near a real city centre: every station within 0.6° of some region centre in Hebei
    centres = list(region_centres().values())
    for s in air:
        assert s.lon is not None and s.lat is not None
        assert min(abs(s.lon - x) + abs(s.lat - y) for x, y in centres) < 0.6, s
    cities = {s.region[:4] for s in air}
    assert len(cities) >= 8


def test_water_and_sources() -> None:
    reg = demo_network()
    water = [s for s in reg.sites if s.kind == "water"]
    assert {s.section_type for s in water} == set(SECTION_TYPES)
    assert all(s.target_class in ("I", "II", "III", "IV", "V") for s in water)
    outlets = [s for s in reg.sites if s.kind == "source"]
    assert {s.outlet_type for s in outlets} == {"gas", "water"}
    for e in reg.enterprises:
        assert {s.outlet_type for s in outlets if s.enterprise == e.code} == {"gas", "water"}


def test_devices() -> None:
    reg = demo_network()
    sites = {s.code: s for s in reg.sites}
    old = [d for d in reg.devices if d.protocol == "2005"]
    assert len(old) == len(reg.devices) // 6
    assert all(re.fullmatch(r"\d{14}", d.mn) for d in old)
    assert all(re.fullmatch(r"[0-9A-F]{24}", d.mn) for d in reg.devices if d.protocol == "2017")
    assert len({d.mn for d in reg.devices}) == len(reg.devices)
    assert all(len(d.password) == 6 and d.password.isalnum() for d in reg.devices)
    assert Counter(d.crc for d in reg.devices)["modbus-le"] == 1
    for d in reg.devices:
        s = sites[d.site]  # type: ignore[index]
        assert d.kind == s.kind
        assert d.parameters == expected_parameters(s.kind, s.outlet_type)
        expected_st = {"air": "22", "water": "21"}.get(s.kind) or ("32" if s.outlet_type == "water" else "31")
        assert d.st == expected_st


def test_deterministic_by_seed() -> None:
    assert demo_network(seed=3) == demo_network(seed=3)
    assert demo_network(seed=3).devices != demo_network(seed=4).devices


def test_other_sizes() -> None:
    for n_air, n_water, n_source in ((0, 0, 0), (1, 1, 1), (3, 9, 13), (60, 12, 14)):
        reg = demo_network(n_air=n_air, n_water=n_water, n_source=n_source)
        reg.validate()
        assert len(reg.sites) == n_air + n_water + n_source
        if reg.devices:
            assert Counter(d.crc for d in reg.devices)["modbus-le"] == 1
    assert len({s.code for s in demo_network(60, 12, 14).sites}) == 86
