"""Sets of simulated devices: generated ones, and the devices of a platform registry.

There is one registry format, the platform's (:mod:`tianlan.model.registry_io`, described in
``docs/registry.md``): a YAML file or a directory of CSV files as ``tianlan registry export`` writes
them and ``tianlan registry import`` reads them. The simulator reads that format
(:func:`load_registry`, :func:`sim_devices_for`) and writes it (:func:`sim_registry`,
:func:`dump_registry`).

From a registry device to a :class:`~tianlan.sim.device.SimDevice`:

* profile: ``kind`` air → air, water → water (surface water); ``source`` → the wastewater profile when
  the device's site has ``outlet_type: water`` (or, without a site, when its ST is 32, HJ 212-2017
  Table 5), else the flue-gas CEMS profile;
* MN, password (PW), ST, protocol (2017 or 2005; 2025 is not simulated), CRC variant as registered;
* ``parameters``: the factor codes sent (codes the profile cannot generate are left out; an empty
  list sends every factor of the profile);
* the value seed is derived from the MN (and the ``seed`` argument), so a device sends the same
  values whatever its position in the file;
* the site's ``attrs.sim`` mapping, if any, tunes the profile (``{pm25: 80}``, see
  :mod:`tianlan.sim.profiles`);
* inactive devices (``active: false``) are not simulated: the platform would quarantine their frames.

Generated devices get 24-character MNs ``SIM<KIND><seed:04d><index:014d>`` (e.g.
``SIMAIR000000000000000007``) and a password derived from the MN, so the same command line gives the
same fleet. Their registry (:func:`sim_registry`) has one site per device in Hebei province
(region 130000); :func:`dump_registry` writes it with the regions it refers to, so
``tianlan registry import`` and ``read_registry`` accept it as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from tianlan.errors import InputError
from tianlan.hj212 import CrcVariant
from tianlan.model.hebei import PROVINCE_CODE, hebei_regions
from tianlan.model.parameters import default_parameters
from tianlan.model.registry import WASTEWATER_ST, CrcName, Device, OutletType, Protocol, Registry, Site, SiteKind
from tianlan.model.registry_io import item_to_mapping, read_registry, write_registry
from tianlan.sim.device import SimDevice
from tianlan.sim.profiles import ALIASES, PROFILES

KIND_TAGS: dict[str, str] = {"air": "AIR", "water": "WAT", "wastewater": "WWT", "source": "GAS"}
MIXED_ORDER: tuple[str, ...] = ("air", "water", "wastewater", "source")
SIM_PROTOCOLS: tuple[str, ...] = ("2017", "2005")

# Simulator profile → (registry kind, outlet type of the site).
_PLATFORM_KIND: dict[str, tuple[SiteKind, OutletType | None]] = {
    "air": ("air", None), "water": ("water", None), "wastewater": ("source", "water"), "source": ("source", "gas"),
}
_SITE_NAMES: dict[str, str] = {
    "air": "模拟空气站 / simulated air station", "water": "模拟水质断面 / simulated water section",
    "wastewater": "模拟废水排放口 / simulated wastewater outlet",
    "source": "模拟废气排放口 / simulated flue-gas outlet",
}


def generated_mn(kind: str, index: int, seed: int = 0) -> str:
    """Deterministic 24-character MN of generated device ``index`` of ``kind``."""
    return f"SIM{KIND_TAGS[kind]}{seed % 10000:04d}{index:014d}"


def derived_password(mn: str) -> str:
    """Deterministic 6-character password for ``mn`` (PW, HJ 212-2017 Table 3)."""
    return hashlib.sha256(f"tianlan-sim:{mn}".encode()).hexdigest()[:6]


def mn_seed(mn: str, seed: int = 0) -> int:
    """The value seed of the device ``mn``: stable across runs and independent of file order."""
    return int.from_bytes(hashlib.sha256(f"tianlan-sim:{seed}:{mn}".encode()).digest()[:8], "big")


def generated_devices(n: int, kind: str = "air", *, seed: int = 0, protocol: str = "2017",
                      crc: CrcVariant | str = CrcVariant.STANDARD) -> list[SimDevice]:
    """``n`` devices of ``kind`` (or ``mixed``: air, water, wastewater, source in turn)."""
    if n < 1:
        raise ValueError(f"devices: 至少一台 / at least 1, got {n}")
    kinds: Sequence[str]
    if kind == "mixed":
        kinds = MIXED_ORDER
    else:
        k = ALIASES.get(kind, kind)
        if k not in PROFILES:
            raise ValueError(f"kind: 未知的站点类型 / unknown kind {kind!r}; one of {sorted(PROFILES)} or mixed")
        kinds = (k,)
    out = []
    for i in range(n):
        k = kinds[i % len(kinds)]
        mn = generated_mn(k, i, seed)
        out.append(SimDevice(mn=mn, pw=derived_password(mn), kind=k, protocol=protocol,
                             crc=CrcVariant(crc), seed=seed * 1_000_003 + i))
    return out


# --- registry → simulated devices ---------------------------------------------------------------

def sim_kind(device: Device, site: Site | None = None) -> str:
    """The simulator profile of a registry device: air, water, wastewater or source (flue gas)."""
    if device.kind != "source":
        return device.kind
    if site is not None and site.outlet_type is not None:
        return "wastewater" if site.outlet_type == "water" else "source"
    return "wastewater" if device.st == WASTEWATER_ST else "source"


def _profile_params(site: Site | None) -> dict[str, float | str]:
    tuning = site.attrs.get("sim") if site is not None else None
    if not isinstance(tuning, Mapping):
        return {}
    return {str(k): v for k, v in tuning.items() if isinstance(v, int | float | str) and not isinstance(v, bool)}


def sim_device(device: Device, site: Site | None = None, *, seed: int = 0) -> tuple[SimDevice | None, list[str]]:
    """The SimDevice of one registry device, and notes on what could not be simulated.

    Returns ``(None, [reason])`` for a device the simulator cannot play (inactive, protocol 2025, no
    factor it can generate); the notes also name registered codes that are left out.
    """
    label = f"MN {device.mn}"
    if not device.active:
        return None, [f"{label}: 已停用，不模拟 / inactive, not simulated"]
    if device.protocol not in SIM_PROTOCOLS:
        return None, [f"{label}: protocol {device.protocol} 模拟器不支持 / not simulated "
                      f"(the simulator speaks {' and '.join(SIM_PROTOCOLS)})"]
    kind = sim_kind(device, site)
    factors = PROFILES[kind].factors
    known = {f.code for f in factors}
    notes: list[str] = []
    codes: list[str] | None = None
    if device.parameters:
        codes = [c for c in device.parameters if c in known]
        left_out = [c for c in device.parameters if c not in known]
        if not codes:
            return None, [f"{label}: 模拟器不能生成其任何因子 / the {kind} profile generates none of its "
                          f"parameters {left_out}"]
        if left_out:
            notes.append(f"{label}: 这些因子不模拟 / parameters not simulated by the {kind} profile: {left_out}")
    dev = SimDevice(mn=device.mn, pw=device.password, kind=kind, st=device.st, protocol=device.protocol,
                    crc=CrcVariant(device.crc), params=_profile_params(site), seed=mn_seed(device.mn, seed),
                    codes=codes)
    return dev, notes


def plan_devices(registry: Registry, *, seed: int = 0) -> tuple[list[SimDevice], list[str]]:
    """SimDevices of every device of ``registry`` that can be simulated, and notes on the rest."""
    sites = {s.code: s for s in registry.sites}
    out: list[SimDevice] = []
    notes: list[str] = []
    for d in registry.devices:
        dev, why = sim_device(d, sites.get(d.site) if d.site else None, seed=seed)
        notes.extend(why)
        if dev is not None:
            out.append(dev)
    return out, notes


def sim_devices_for(registry: Registry, *, seed: int = 0, strict: bool = False) -> list[SimDevice]:
    """SimDevices for the devices of ``registry`` (e.g. ``demo_network()`` or ``RegistryRepo.load()``).

    Their frames carry each device's MN, PW, ST, protocol and CRC variant as registered, and the
    registered factor codes (2005 devices send the HJ/T 212-2005 code where the platform maps it back,
    ``tianlan.hj212.codes.normalise_code``). Devices that cannot be simulated (inactive, protocol
    2025, no factor the profile generates) are skipped, registered codes the profile does not generate
    are left out; with ``strict`` either raises InputError instead (see :func:`plan_devices`).
    """
    devices, notes = plan_devices(registry, seed=seed)
    if strict and notes:
        raise InputError("devices", "; ".join(notes))
    return devices


def seeded_registry() -> Registry:
    """What every store holds from the start (Hebei's regions, the parameter table): registry files
    may refer to these without including them."""
    return Registry(regions=hebei_regions(), parameters=default_parameters())


def load_registry(path: Path | str, *, seed: int = 0) -> list[SimDevice]:
    """SimDevices of a registry file (YAML or CSV directory, the platform format).

    References may also point at the regions and parameters every store is seeded with. Raises
    InputError naming the file, row or index, field and reason; and when no device can be simulated.
    """
    reg = read_registry(path, known=seeded_registry())
    devices, notes = plan_devices(reg, seed=seed)
    if not devices:
        raise InputError("devices", "没有可模拟的设备 / no device to simulate" + (f": {'; '.join(notes)}"
                                                                          if notes else ""), where=str(path))
    return devices


# --- simulated devices → registry ---------------------------------------------------------------

def sim_site_code(mn: str) -> str:
    """Site code of a generated device's site: ``SIM-`` + MN (a hash of the MN for long MNs)."""
    code = f"SIM-{mn}"
    return code if len(code) <= 32 else "SIM-" + hashlib.sha256(mn.encode()).hexdigest()[:24].upper()


def platform_device(d: SimDevice, site: str | None = None) -> Device:
    """The registry Device of a SimDevice (kind, ST, protocol, CRC and factor codes as it sends them)."""
    kind, _ = _PLATFORM_KIND[d.profile.kind]
    codes = [f.code for f in d.profile.factors if d.codes is None or f.code in d.codes]
    return Device(mn=d.mn, password=d.pw, kind=kind, st=d.st, protocol=cast(Protocol, d.protocol),
                  crc=cast(CrcName, d.crc.value), site=site, parameters=codes)


def sim_registry(devices: Iterable[SimDevice], *, region: str = PROVINCE_CODE) -> Registry:
    """A registry of ``devices``, one site per device in ``region`` (default: Hebei province)."""
    sites: list[Site] = []
    out: list[Device] = []
    for d in devices:
        kind, outlet = _PLATFORM_KIND[d.profile.kind]
        code = sim_site_code(d.mn)
        sites.append(Site(code=code, name=f"{_SITE_NAMES[d.profile.kind]} {d.mn}", kind=kind, region=region,
                          outlet_type=outlet))
        out.append(platform_device(d, code))
    return Registry(sites=sites, devices=out)


def registry_rows(devices: Iterable[SimDevice]) -> list[dict[str, Any]]:
    """The ``devices`` section (platform format, without sites) of ``devices`` as mappings."""
    return [item_to_mapping("devices", platform_device(d)) for d in devices]


def dump_registry(registry: Registry | Iterable[SimDevice], path: Path | str, fmt: str | None = None) -> list[Path]:
    """Write a registry (or the :func:`sim_registry` of SimDevices) in the platform format.

    ``path`` ending in .yaml/.yml: one YAML file; otherwise a directory of CSV files (``fmt`` yaml |
    csv overrides). The Hebei regions the sites refer to are included (:func:`with_regions`), so the
    file is self-contained. Returns the files written. ``tianlan registry import`` reads the result.
    """
    reg = with_regions(registry if isinstance(registry, Registry) else sim_registry(registry))
    reg.validate()
    return write_registry(reg, path, fmt)


def with_regions(reg: Registry) -> Registry:
    """``reg`` plus the Hebei regions its sites and enterprises refer to (and their parents) that it
    lacks, so that the file is self-contained: ``read_registry`` needs nothing else to resolve it."""
    have = {r.code for r in reg.regions}
    hebei = {r.code: r for r in hebei_regions()}
    wanted: set[str] = set()
    for code in [s.region for s in reg.sites] + [e.region for e in reg.enterprises]:
        while code in hebei and code not in have and code not in wanted:
            wanted.add(code)
            code = hebei[code].parent or ""
    if not wanted:
        return reg
    added = [r for r in hebei_regions() if r.code in wanted]  # parents before children
    return replace(reg, regions=[*added, *reg.regions])
