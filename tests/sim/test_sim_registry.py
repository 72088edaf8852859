"""The simulator and the platform share one registry format: registry devices → SimDevices and back."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tianlan.errors import InputError
from tianlan.hj212 import decode
from tianlan.hj212.codes import normalise_code
from tianlan.model.demo_network import demo_network
from tianlan.model.parameters import SOURCE_GAS, SOURCE_WATER
from tianlan.model.registry import Device, Registry, Site
from tianlan.model.registry_io import read_registry
from tianlan.registry_cli import app as registry_app
from tianlan.sim.device import SimDevice
from tianlan.sim.registry import (
    dump_registry,
    generated_devices,
    load_registry,
    plan_devices,
    registry_rows,
    sim_device,
    sim_devices_for,
    sim_kind,
)

T = 1_557_000_000  # 2019-05-04 19:00 UTC
runner = CliRunner()


def test_every_demo_device_maps_to_a_sim_device_with_its_identity() -> None:
    reg = demo_network()
    sims = sim_devices_for(reg, strict=True)
    assert [s.mn for s in sims] == [d.mn for d in reg.devices]
    assert Counter(s.profile.kind for s in sims) == {"air": 30, "water": 6, "source": 3, "wastewater": 3}
    sites = {s.code: s for s in reg.sites}
    for d, s in zip(reg.devices, sims, strict=True):
        assert (s.pw, s.st, s.protocol, s.crc.value) == (d.password, d.st, d.protocol, d.crc)
        assert list(s.codes or ()) == d.parameters
        site = sites[d.site]  # type: ignore[index]
        assert s.profile.kind == ("wastewater" if site.outlet_type == "water" else
                                  "source" if site.kind == "source" else site.kind)
    assert {s.protocol for s in sims} == {"2005", "2017"}
    assert Counter(s.crc.value for s in sims)["modbus-le"] == 1


def test_demo_frames_carry_the_registered_identity_and_codes() -> None:
    """What the platform checks: MN + PW, the CRC variant, and 2005 codes that map to the registered ones."""
    reg = demo_network()
    for d, s in zip(reg.devices, sim_devices_for(reg, strict=True), strict=True):
        for cn_step in (60, 3600):
            ups = s.series("2051" if cn_step == 60 else "2061", T, cn_step, 1)
            codes: set[str] = set()
            for up in ups:
                p = decode(up.frame)
                assert (p.mn, p.pw, p.st, p.crc_ok) == (d.mn, d.password, d.st, True)
                assert p.crc_variant is not None and p.crc_variant.value == d.crc
                assert p.dialect.value == d.protocol
                codes |= {normalise_code(c, p.st) if d.protocol == "2005" else c for c in p.cp.factors}
            assert codes == set(d.parameters), d


def test_2005_devices_send_2005_codes_only_where_the_platform_maps_them_back() -> None:
    water = decode(SimDevice("M1", "123456", "water", protocol="2005").hour(T)[0].frame)
    assert set(water.cp.factors) == set(SimDevice("M1", "123456", "water").profile.by_code)  # ST 21: 2017 codes
    ww = decode(SimDevice("M2", "123456", "wastewater", protocol="2005").hour(T)[0].frame)
    assert "B01" in ww.cp.factors and {normalise_code(c, "32") for c in ww.cp.factors} == set(SOURCE_WATER)
    gas = decode(SimDevice("M3", "123456", "source", protocol="2005").hour(T)[0].frame)
    assert "02" in gas.cp.factors and {normalise_code(c, "31") for c in gas.cp.factors} == set(SOURCE_GAS)


def _values(sims: list[SimDevice]) -> dict[str, bytes]:
    """Each device's CP text of one hour record (the frame minus header and CRC, which hold the QN)."""
    return {s.mn: s.hour(T)[0].frame.split(b"CP=&&")[1].split(b"&&")[0] for s in sims}


def test_the_seed_comes_from_the_mn_not_the_position() -> None:
    reg = demo_network(n_air=3, n_water=1, n_source=2)
    a = _values(sim_devices_for(reg))
    assert a == _values(sim_devices_for(replace(reg, devices=reg.devices[::-1])))
    c = _values(sim_devices_for(reg, seed=1))
    assert a.keys() == c.keys() and a != c


def test_profile_of_a_source_device() -> None:
    gas_site = Site(code="S1", name="出口", kind="source", region="130100", outlet_type="gas")
    water_site = replace(gas_site, outlet_type="water")
    dev = Device(mn="M1", password="123456", kind="source")
    assert dev.st == "31" and sim_kind(dev) == "source"
    assert sim_kind(replace(dev, st="32")) == "wastewater"  # no site: ST 32 says wastewater
    assert sim_kind(dev, water_site) == "wastewater" and sim_kind(replace(dev, st="32"), gas_site) == "source"
    assert sim_kind(Device(mn="M2", password="123456", kind="water")) == "water"


def test_devices_that_cannot_be_simulated_are_skipped_with_a_note() -> None:
    site = Site(code="A1", name="站", kind="air", region="130100", attrs={"sim": {"pm25": 400}})
    devices = [
        Device(mn="OK", password="123456", site="A1", parameters=["a34004", "a99999"]),
        Device(mn="OFF", password="123456", active=False),
        Device(mn="NEW", password="123456", protocol="2025"),
        Device(mn="ODD", password="123456", parameters=["w01018"]),
        Device(mn="ALL", password="123456"),
    ]
    reg = Registry(sites=[site], devices=devices)
    sims, notes = plan_devices(reg)
    assert [s.mn for s in sims] == ["OK", "ALL"]
    assert sims[0].codes == ("a34004",) and sims[1].codes is None  # no parameters: the whole profile
    assert sims[0].profile.p("pm25", 0) == 400  # site attrs.sim tunes the profile
    joined = "\n".join(notes)
    for mn in ("OK", "OFF", "NEW", "ODD"):
        assert f"MN {mn}:" in joined
    assert "a99999" in joined and "2025" in joined
    with pytest.raises(InputError, match="MN OFF"):
        sim_devices_for(reg, strict=True)
    assert sim_device(devices[1])[0] is None


@pytest.mark.parametrize("name", ["fleet.yaml", "fleet-csv"])
def test_generated_devices_round_trip_through_the_platform_format(tmp_path: Path, name: str) -> None:
    fleet = [*generated_devices(4, "mixed", seed=2), *generated_devices(2, "source", protocol="2005", crc="modbus-be")]
    fleet[0] = replace(fleet[0], codes=["a34004", "a34002"])
    path = tmp_path / name
    dump_registry(fleet, path)
    reg = read_registry(path)  # self-contained: the province is in the file
    assert [r.code for r in reg.regions] == ["130000"]
    assert [(d.kind, d.st) for d in reg.devices[:4]] == [("air", "22"), ("water", "21"), ("source", "32"),
                                                         ("source", "31")]
    assert [s.outlet_type for s in reg.sites[:4]] == [None, None, "water", "gas"]
    assert reg.devices[0].parameters == ["a34004", "a34002"]
    back = load_registry(path)
    assert [(d.mn, d.pw, d.profile.kind, d.st, d.protocol, d.crc) for d in back] == [
        (d.mn, d.pw, d.profile.kind, d.st, d.protocol, d.crc) for d in fleet]
    assert back[0].codes == ("a34004", "a34002")
    assert registry_rows(fleet[:1]) == [{"mn": fleet[0].mn, "password": fleet[0].pw, "kind": "air", "st": "22",
                                         "protocol": "2017", "crc": "standard", "parameters": ["a34004", "a34002"],
                                         "active": True}]


def test_registry_import_accepts_what_the_simulator_writes_and_export_feeds_it_back(tmp_path: Path) -> None:
    fleet = generated_devices(5, "mixed", seed=9)
    dump_registry(fleet, tmp_path / "sim.yaml")
    data = ["--data-dir", str(tmp_path / "store")]
    result = runner.invoke(registry_app, ["import", str(tmp_path / "sim.yaml"), *data])
    assert result.exit_code == 0, result.output
    for target in ("export.yaml", "export-csv"):
        result = runner.invoke(registry_app, ["export", str(tmp_path / target), *data])
        assert result.exit_code == 0, result.output
        back = {d.mn: d for d in load_registry(tmp_path / target)}
        assert len(back) == 5  # the store's regions, sites and parameters come along and resolve
        for d in fleet:
            b = back[d.mn]
            assert (b.pw, b.profile.kind, b.st, b.protocol, b.crc) == (d.pw, d.profile.kind, d.st, d.protocol, d.crc)
