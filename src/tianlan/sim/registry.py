"""Sets of simulated devices: generated ones, and ones read from a registry YAML.

Registry YAML (the same keys the platform's device registry uses)::

    devices:
      - mn: HB00000000000000001029A
        password: 3f9a1c
        kind: air            # air | water | wastewater | source
        st: "22"             # optional, default from kind
        protocol: "2017"     # "2017" | "2005", default 2017
        crc: standard        # standard | modbus-le | modbus-be, default standard
        site: 1029A          # optional, informative here
        parameters: [a34004, a34002]   # optional: only these factor codes are sent
                                       # (strings, or mappings with a "code" key)
        params: {pm25: 80}   # optional: profile tuning (see tianlan.sim.profiles)

Generated devices get 24-character MNs ``SIM<KIND><seed:04d><index:014d>`` (e.g.
``SIMAIR000000000000000007``) and a password derived from the MN, so the same command line gives the same fleet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tianlan.hj212 import CrcVariant
from tianlan.sim.device import SimDevice
from tianlan.sim.profiles import ALIASES, PROFILES

KIND_TAGS: dict[str, str] = {"air": "AIR", "water": "WAT", "wastewater": "WWT", "source": "GAS"}
MIXED_ORDER: tuple[str, ...] = ("air", "water", "wastewater", "source")


def generated_mn(kind: str, index: int, seed: int = 0) -> str:
    """Deterministic 24-character MN of generated device ``index`` of ``kind``."""
    return f"SIM{KIND_TAGS[kind]}{seed % 10000:04d}{index:014d}"


def derived_password(mn: str) -> str:
    """Deterministic 6-character password for ``mn`` (PW, HJ 212-2017 Table 3)."""
    return hashlib.sha256(f"tianlan-sim:{mn}".encode()).hexdigest()[:6]


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


def _codes(parameters: Any) -> list[str] | None:
    if not parameters:
        return None
    codes = []
    for p in parameters:
        if isinstance(p, str):
            codes.append(p)
        elif isinstance(p, Mapping) and "code" in p:
            codes.append(str(p["code"]))
    return codes or None


def device_from_row(row: Mapping[str, Any], index: int = 0, seed: int = 0) -> SimDevice:
    """A SimDevice from one registry mapping (keys in the module docstring)."""
    for key in ("mn", "password"):
        if not row.get(key):
            raise ValueError(f"devices[{index}].{key}: 缺少 / missing")
    return SimDevice(
        mn=str(row["mn"]), pw=str(row["password"]), kind=str(row.get("kind", "air")),
        st=str(row["st"]) if row.get("st") is not None else None,
        protocol=str(row.get("protocol", "2017")), crc=CrcVariant(str(row.get("crc", "standard"))),
        params=dict(row.get("params") or {}), seed=seed * 1_000_003 + index,
        codes=_codes(row.get("parameters")),
    )


def load_registry(path: Path | str, *, seed: int = 0) -> list[SimDevice]:
    """Devices of a registry YAML file (top-level ``devices:`` list)."""
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    rows = doc.get("devices") if isinstance(doc, Mapping) else None
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{path}: devices: 需要设备列表 / a non-empty list of devices is required")
    return [device_from_row(r, i, seed) for i, r in enumerate(rows)]


def registry_rows(devices: Iterable[SimDevice]) -> list[dict[str, Any]]:
    """Registry mappings for ``devices`` (what :func:`load_registry` reads back)."""
    return [{"mn": d.mn, "password": d.pw, "kind": d.profile.kind, "st": d.st, "protocol": d.protocol,
             "crc": d.crc.value, "parameters": [{"code": f.code, "unit": f.unit} for f in d.profile.factors
                                                if d.codes is None or f.code in d.codes]}
            for d in devices]


def dump_registry(rows: Iterable[Mapping[str, Any]], path: Path | str) -> None:
    """Write registry mappings as YAML (``devices:`` list), UTF-8."""
    Path(path).write_text(yaml.safe_dump({"devices": [dict(r) for r in rows]}, allow_unicode=True,
                                         sort_keys=False), encoding="utf-8")
