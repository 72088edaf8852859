"""QC configuration: which detectors run where, with which parameters (YAML, ioos_qc style, scoped).

A configuration is a list of entries, applied in order::

    version: 1
    base: default            # default (the built-in configuration first) | none
    detectors:
      - id: TMP-03                        # catalogue ID (qc_fraud.md §F), or "*" for every detector
        parameters: [a34004, PM2.5]       # HJ 212 codes or SO2 NO2 CO O3 PM10 PM2.5; absent = the
                                          # detector's own list (or every parameter)
        params: {min_hours: 6}            # over the detector's defaults; unknown names are errors
        scope:                            # every key optional; absent = everywhere
          regions: [石家庄, "130100"]      # city names or region codes (the site's region or any above)
          stations: [1029A]
          months: [12, 1, 2]              # calendar months in Beijing time (a season)
          kinds: [air]                    # air | water | source
        enabled: true                     # false switches the detector off in this scope
        stream: true                      # false: batch scans only, never in streaming QC
    alarms: {merge_gap_s: 21600}          # optional: the alarm policy (tianlan.alarms.policy)

For one detector, station, parameter and month the **last** matching entry wins: its ``params``
apply over the detector's defaults (entries do not merge with each other), and ``enabled: false``
switches the detector off. A detector never runs at a site whose kind is not among its
``systems``. Unknown detector IDs, parameters, ``params`` names, scope keys or values are errors
(:class:`~tianlan.errors.InputError`) naming the entry index and field, e.g.
``detectors[2].parameters[0]`` — unlike ioos_qc, which warns and skips (qc_fraud.md §G).

The **effective** configuration is the expanded list (``"*"`` becomes one entry per registered
detector, every entry carries its fully resolved parameters); :func:`config_hash` is the SHA-256 of
its canonical JSON, first 16 hex digits, and goes into every result.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from tianlan.errors import InputError
from tianlan.qc.core import Context, DetectorSpec

#: The six criteria pollutants by the names files use (HJ 633 / the assessment file format).
NAMES: dict[str, str] = {"SO2": "a21026", "NO2": "a21004", "CO": "a21005", "O3": "a05024", "PM10": "a34002",
                         "PM2.5": "a34004"}
CODE_NAMES: dict[str, str] = {v: k for k, v in NAMES.items()}
SITE_KINDS: tuple[str, ...] = ("air", "water", "source")
ALL_MONTHS: frozenset[int] = frozenset(range(1, 13))
WILDCARD = "*"
_ENTRY_KEYS = ("id", "parameters", "params", "scope", "enabled", "stream", "note")
_SCOPE_KEYS = ("regions", "stations", "months", "kinds")


@lru_cache(maxsize=1)
def known_codes() -> frozenset[str]:
    """HJ 212 parameter codes Tianlan knows: the default parameter table and the codec's table."""
    from tianlan.hj212.codes import PARAMETERS
    from tianlan.model.parameters import default_parameters

    return frozenset(p.code for p in default_parameters()) | frozenset(PARAMETERS)


def parameter_code(text: object, *, field: str = "parameter", where: str | None = None) -> str:
    """The HJ 212 code of a parameter given as a code (``a34004``) or a name (``PM2.5``, any case)."""
    if not isinstance(text, str | int) or isinstance(text, bool) or not str(text).strip():
        raise InputError(field, f"应为参数代码或名称 / expected a parameter code or name, got {text!r}", where=where)
    s = str(text).strip()
    code = NAMES.get(s.upper())
    if code is not None:
        return code
    if s in known_codes():
        return s
    if s.lower() in known_codes():
        return s.lower()
    raise InputError(field, f"未知参数 / unknown parameter {s!r}; use an HJ 212 code (a34004 …) or one of "
                            f"{', '.join(NAMES)}", where=where)


def parameter_label(code: str) -> str:
    """The name files use for the six criteria pollutants (``PM2.5``), else the code itself."""
    return CODE_NAMES.get(code, code)


# --- scopes ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteScope:
    """What scopes are matched against: a station, its kind and the regions it lies in."""

    station: str
    kind: str = ""
    regions: frozenset[str] = frozenset()

    @classmethod
    def of(cls, ctx: Context) -> SiteScope:
        """From a context: ``attrs['kind']``, ``attrs['regions']`` plus ``attrs['city']``/``['region']``."""
        a = ctx.attrs
        regions = {str(r) for r in a.get("regions", ()) or ()}
        regions |= {str(a[k]) for k in ("city", "region") if a.get(k)}
        return cls(ctx.station, str(a.get("kind", "") or ""), frozenset(regions))


@dataclass(frozen=True)
class Scope:
    """Where an entry applies; ``None`` = no restriction on that key."""

    regions: frozenset[str] | None = None
    stations: frozenset[str] | None = None
    months: frozenset[int] | None = None
    kinds: frozenset[str] | None = None

    def matches_site(self, site: SiteScope) -> bool:
        if self.stations is not None and site.station not in self.stations:
            return False
        if self.kinds is not None and site.kind not in self.kinds:
            return False
        return self.regions is None or not self.regions.isdisjoint(site.regions)

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if v is None else sorted(v)) for k, v in
                (("regions", self.regions), ("stations", self.stations), ("months", self.months), ("kinds", self.kinds))}


@dataclass(frozen=True)
class Entry:
    """One effective entry: a detector with fully resolved parameters and where it applies."""

    id: str
    params: Mapping[str, Any]
    parameters: frozenset[str] | None = None  # None: the detector's declared parameters, or every one
    scope: Scope = field(default_factory=Scope)
    enabled: bool = True
    stream: bool = True
    origin: str = ""  # where it came from (for messages): "default", "C.yaml detectors[3]"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "parameters": None if self.parameters is None else sorted(self.parameters),
                "params": {k: _canon(v) for k, v in sorted(self.params.items())}, "scope": self.scope.to_dict(),
                "enabled": self.enabled, "stream": self.stream}


class PlanItem(NamedTuple):
    """One way to run a detector on one series: its parameters, the months (Beijing time) whose
    findings it produces (None = every month), and whether streaming QC may run it."""

    params: dict[str, Any]
    months: frozenset[int] | None
    stream: bool


Plan = tuple[PlanItem, ...]


class QcConfig:
    """An effective configuration over a registry of detectors."""

    def __init__(self, entries: Sequence[Entry], registry: Mapping[str, DetectorSpec], *, origin: str = "") -> None:
        self.entries: tuple[Entry, ...] = tuple(entries)
        self.registry = registry
        self.origin = origin
        #: the ``alarms:`` section as written (an alarm policy for tianlan.alarms.policy.AlarmPolicy.from_mapping);
        #: not part of the QC hash (the policy has its own)
        self.alarms: dict[str, Any] = {}
        self._hash: str | None = None
        self._plans: dict[tuple[str, SiteScope, str], Plan] = {}
        self._by_series: dict[tuple[SiteScope, str], list[tuple[DetectorSpec, Plan]]] = {}
        self._ids = sorted({e.id for e in self.entries})

    def __repr__(self) -> str:
        return f"QcConfig({len(self.entries)} entries, {len(self._ids)} detectors, hash {self.hash})"

    @property
    def hash(self) -> str:
        if self._hash is None:
            self._hash = config_hash(self)
        return self._hash

    @property
    def detector_ids(self) -> list[str]:
        """IDs of the detectors some entry names (enabled or not), sorted."""
        return list(self._ids)

    def to_dict(self) -> dict[str, Any]:
        """The canonical form (what the hash covers)."""
        return {"version": 1, "entries": [e.to_dict() for e in self.entries]}

    def plan(self, detector_id: str, site: SiteScope, parameter: str) -> Plan:
        """How ``detector_id`` runs on ``parameter`` at ``site``: () when it does not run there."""
        key = (detector_id, site, parameter)
        got = self._plans.get(key)
        if got is not None:
            return got
        spec = self.registry.get(detector_id)
        plan: Plan = ()
        if spec is not None and (not site.kind or site.kind in spec.systems):
            winner: dict[int, int] = {}  # month → index of the last matching entry
            for i, e in enumerate(self.entries):
                if e.id != detector_id or not e.scope.matches_site(site):
                    continue
                wanted = e.parameters if e.parameters is not None else (frozenset(spec.parameters) or None)
                if wanted is not None and parameter not in wanted:
                    continue
                for m in e.scope.months or ALL_MONTHS:
                    winner[m] = i
            groups: dict[int, set[int]] = {}
            for m, i in winner.items():
                if self.entries[i].enabled:
                    groups.setdefault(i, set()).add(m)
            plan = tuple(PlanItem(dict(self.entries[i].params), None if months == ALL_MONTHS else frozenset(months),
                                  self.entries[i].stream)
                         for i, months in sorted(groups.items()))
        self._plans[key] = plan
        return plan

    def detectors_for(self, site: SiteScope, parameter: str) -> list[tuple[DetectorSpec, Plan]]:
        """Every detector that runs on ``parameter`` at ``site``, by ID, with its plan."""
        key = (site, parameter)
        got = self._by_series.get(key)
        if got is None:
            got = []
            for i in self._ids:
                p = self.plan(i, site, parameter)
                if p:
                    got.append((self.registry[i], p))
            self._by_series[key] = got
        return got


# --- canonical form and hash -----------------------------------------------------------------------


def _canon(v: Any) -> Any:
    """A JSON value that does not depend on how the YAML spelled it (6 and 6.0 are the same)."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, numbers.Real):
        f = float(v)
        return f if math.isfinite(f) else repr(f)
    if isinstance(v, Mapping):
        return {str(k): _canon(x) for k, x in v.items()}
    if isinstance(v, list | tuple | set | frozenset):
        items = [_canon(x) for x in v]
        return sorted(items, key=repr) if isinstance(v, set | frozenset) else items
    return repr(v)


def canonical_json(effective: QcConfig | Mapping[str, Any]) -> str:
    data = _canon(effective.to_dict() if isinstance(effective, QcConfig) else effective)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def config_hash(effective: QcConfig | Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the effective configuration, first 16 hex digits."""
    return hashlib.sha256(canonical_json(effective).encode("utf-8")).hexdigest()[:16]


# --- parsing ---------------------------------------------------------------------------------------


def _registry(registry: Mapping[str, DetectorSpec] | None) -> Mapping[str, DetectorSpec]:
    if registry is not None:
        return registry
    from tianlan.qc.core import load_all

    return load_all()


def _as_list(value: Any, field: str, where: str) -> list[Any]:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list | tuple):
        return list(value)
    raise InputError(field, f"应为列表 / must be a list, got {value!r}", where=where)


def _check_type(default: Any, value: Any, field: str, where: str) -> None:
    """A parameter value must be of the kind of its default (number, true/false, text, list, mapping)."""
    if default is None:
        return
    if isinstance(default, bool):
        ok, want = isinstance(value, bool), "true/false"
    elif isinstance(default, numbers.Real):
        ok, want = isinstance(value, numbers.Real) and not isinstance(value, bool), "a number"
        if ok and not math.isfinite(float(value)):
            raise InputError(field, f"应为有限数 / must be a finite number, got {value!r}", where=where)
    elif isinstance(default, str):
        ok, want = isinstance(value, str), "text"
    elif isinstance(default, list | tuple):
        ok, want = isinstance(value, list | tuple), "a list"
    elif isinstance(default, Mapping):
        ok, want = isinstance(value, Mapping), "a mapping"
    else:
        return
    if not ok:
        raise InputError(field, f"应为{want} / must be {want} (default {default!r}), got {value!r}", where=where)


def _scope(raw: Any, field: str, where: str) -> Scope:
    if raw is None:
        return Scope()
    if not isinstance(raw, Mapping):
        raise InputError(field, f"应为映射 / must be a mapping of {', '.join(_SCOPE_KEYS)}", where=where)
    for k in raw:
        if k not in _SCOPE_KEYS:
            raise InputError(f"{field}.{k}", f"未知键 / unknown key; known: {', '.join(_SCOPE_KEYS)}", where=where)
    out: dict[str, frozenset[Any] | None] = {}
    for k in _SCOPE_KEYS:
        if raw.get(k) is None:
            out[k] = None
            continue
        items = _as_list(raw[k], f"{field}.{k}", where)
        vals: set[Any] = set()
        for j, x in enumerate(items):
            f = f"{field}.{k}[{j}]"
            if k == "months":
                if isinstance(x, bool) or not isinstance(x, int) or not 1 <= x <= 12:
                    raise InputError(f, f"应为 1–12 的月份 / must be a month 1..12, got {x!r}", where=where)
                vals.add(int(x))
            elif k == "kinds":
                if x not in SITE_KINDS:
                    raise InputError(f, f"未知站点类型 / unknown kind {x!r}; expected: {' | '.join(SITE_KINDS)}",
                                     where=where)
                vals.add(x)
            else:
                if isinstance(x, bool) or not isinstance(x, str | int) or not str(x).strip():
                    raise InputError(f, f"应为代码或名称 / expected a code or name, got {x!r}", where=where)
                vals.add(str(x).strip())
        if not vals:
            raise InputError(f"{field}.{k}", "不能为空列表 / must not be an empty list (omit the key instead)",
                             where=where)
        out[k] = frozenset(vals)
    return Scope(out["regions"], out["stations"], out["months"], out["kinds"])  # type: ignore[arg-type]


def _entry(raw: Any, i: int, where: str, registry: Mapping[str, DetectorSpec]) -> list[Entry]:
    at = f"detectors[{i}]"
    if not isinstance(raw, Mapping):
        raise InputError(at, f"应为映射 / must be a mapping with {', '.join(_ENTRY_KEYS)}", where=where)
    for k in raw:
        if k not in _ENTRY_KEYS:
            raise InputError(f"{at}.{k}", f"未知键 / unknown key; known: {', '.join(_ENTRY_KEYS)}", where=where)
    did = raw.get("id")
    if not isinstance(did, str) or not did.strip():
        raise InputError(f"{at}.id", "缺少检测器编号 / detector ID is required (e.g. TMP-03, or \"*\")", where=where)
    did = did.strip()
    if did != WILDCARD and did not in registry:
        raise InputError(f"{at}.id", f"未知检测器 / unknown detector ID {did!r}; known: "
                                     f"{', '.join(sorted(registry)) or 'none registered'}", where=where)
    parameters: frozenset[str] | None = None
    if raw.get("parameters") is not None:
        items = _as_list(raw["parameters"], f"{at}.parameters", where)
        if not items:
            raise InputError(f"{at}.parameters", "不能为空列表 / must not be an empty list (omit it for all)", where=where)
        parameters = frozenset(parameter_code(p, field=f"{at}.parameters[{j}]", where=where) for j, p in enumerate(items))
    given = raw.get("params") or {}
    if not isinstance(given, Mapping):
        raise InputError(f"{at}.params", f"应为映射 / must be a mapping, got {given!r}", where=where)
    if did == WILDCARD and given:
        raise InputError(f"{at}.params", "\"*\" 不能带参数 / params cannot be given for \"*\" (name one detector)",
                         where=where)
    flags = {}
    for k in ("enabled", "stream"):
        v = raw.get(k, True)
        if not isinstance(v, bool):
            raise InputError(f"{at}.{k}", f"应为 true/false / must be true or false, got {v!r}", where=where)
        flags[k] = v
    scope = _scope(raw.get("scope"), f"{at}.scope", where)
    origin = f"{where} {at}"
    ids = sorted(registry) if did == WILDCARD else [did]
    out = []
    for d in ids:
        spec = registry[d]
        params = spec.defaults()
        for k, v in given.items():
            if k not in spec.params:
                raise InputError(f"{at}.params.{k}", f"{d} 无此参数 / unknown parameter of {d}; known: "
                                                     f"{', '.join(spec.params) or 'none'}", where=where)
            _check_type(spec.params[k].default, v, f"{at}.params.{k}", where)
            params[k] = v
        out.append(Entry(d, params, parameters, scope, flags["enabled"], flags["stream"], origin))
    return out


def parse_config(data: Any, *, where: str = "config", registry: Mapping[str, DetectorSpec] | None = None) -> QcConfig:
    """The effective configuration of a parsed YAML document (see the module docstring)."""
    reg = _registry(registry)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise InputError("detectors", "配置应为映射 / the configuration must be a mapping with a `detectors` list",
                         where=where)
    for k in data:
        if k not in ("version", "base", "detectors", "alarms"):
            raise InputError(str(k), "未知键 / unknown key; known: version, base, detectors, alarms", where=where)
    alarms = data.get("alarms") or {}
    if not isinstance(alarms, Mapping):
        raise InputError("alarms", "应为映射 / must be a mapping (the alarm policy)", where=where)
    if data.get("version", 1) != 1:
        raise InputError("version", f"不支持的版本 / unsupported version {data['version']!r} (expected 1)", where=where)
    base = data.get("base", "default")
    if base not in ("default", "none"):
        raise InputError("base", f"应为 default 或 none / must be default or none, got {base!r}", where=where)
    raw = data.get("detectors") or []
    if not isinstance(raw, list):
        raise InputError("detectors", "应为列表 / must be a list of entries", where=where)
    entries: list[Entry] = list(default_config(registry=reg).entries) if base == "default" else []
    for i, r in enumerate(raw):
        entries.extend(_entry(r, i, where, reg))
    cfg = QcConfig(entries, reg, origin=where)
    cfg.alarms = dict(alarms)
    return cfg


def _read_yaml(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InputError("--config", f"YAML 无法解析 / invalid YAML: {e}", where=where) from None


def default_config(*, registry: Mapping[str, DetectorSpec] | None = None) -> QcConfig:
    """The built-in configuration (``tianlan/qc/default.yaml``): every registered detector with its
    defaults, for the kinds of site it applies to, less what the file switches off. Entries of the
    file naming a detector that ``registry`` does not hold are skipped (a tool or test may pass a
    registry of its own; in a user's file an unknown ID stays an error)."""
    text = resources.files("tianlan.qc").joinpath("default.yaml").read_text("utf-8")
    data = _read_yaml(text, "default.yaml")
    reg = _registry(registry)
    if isinstance(data, Mapping) and isinstance(data.get("detectors"), list):
        data = {**data, "detectors": [d for d in data["detectors"]
                                      if not isinstance(d, Mapping) or d.get("id") in (WILDCARD, None) or d.get("id") in reg]}
    cfg = parse_config(data, where="default.yaml", registry=reg)
    cfg.origin = "default"
    return cfg


def load_config(path: Path | str | None = None, *, registry: Mapping[str, DetectorSpec] | None = None) -> QcConfig:
    """The configuration in the YAML file ``path``; the built-in one when ``path`` is None."""
    if path is None:
        return default_config(registry=registry)
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise InputError("--config", f"文件不存在 / file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError("--config", f"无法读取 / cannot read: {e}", where=str(p)) from None
    return parse_config(_read_yaml(text, p.name), where=p.name, registry=registry)


def config_from(entries: Iterable[Mapping[str, Any]], *, base: str = "none",
                registry: Mapping[str, DetectorSpec] | None = None) -> QcConfig:
    """A configuration from entries given in code (tests, tools): ``config_from([{"id": "TMP-03"}])``."""
    return parse_config({"version": 1, "base": base, "detectors": list(entries)}, where="config", registry=registry)
