"""The detector contract: a detector is a plain function over arrays with metadata (ioos_qc style).

A detector is registered with :func:`detector` under its catalogue ID (``reference/qc_fraud.md``
§F, e.g. ``TMP-03``), looked up with :func:`get`, and called by the runner as

    func(series: Series, ctx: Context, **params) -> list[Finding]

``series`` is the one parameter of one station being checked; ``ctx`` holds everything else the
detector may need (the station's other parameters, its neighbours, limits, marks, metadata
events). A detector never changes data: it returns findings — value ranges with a QARTOD-style
status, a reason code, a score and an evidence payload (inputs, neighbours used, statistics,
thresholds). Validity comes only from instrument state (flags, marks) and people (DESIGN §3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np

from tianlan.errors import InputError


class Status(IntEnum):
    """QARTOD flag of a finding (qc_fraud.md §F conventions)."""

    PASS = 1
    NOT_EVALUATED = 2
    SUSPECT = 3
    FAIL = 4
    MISSING = 9


@dataclass(frozen=True)
class Param:
    """A detector parameter: default value, unit, meaning."""

    default: Any
    unit: str = ""
    doc: str = ""


@dataclass
class Series:
    """One parameter of one station: UTC epoch-second times (period start, ascending), float values
    (NaN = missing), HJ 212 flags (``N`` normal …; None when unknown), reception times (UTC s)."""

    station: str
    parameter: str
    times: np.ndarray
    values: np.ndarray
    flags: np.ndarray | None = None
    received: np.ndarray | None = None
    unit: str = ""
    step_s: int = 3600  # nominal interval of the series (3600 hourly, 60 minute data …)

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, dtype=np.int64)
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.times.shape != self.values.shape:
            raise InputError("values", f"{self.station}/{self.parameter}: {self.values.size} values for {self.times.size} times")
        if self.flags is not None:
            self.flags = np.asarray(self.flags, dtype=object)

    def __len__(self) -> int:
        return int(self.times.size)


@dataclass
class Mark:
    """An enterprise or operator data mark (maintenance, shutdown …) over [start, end)."""

    start_utc: int
    end_utc: int
    mark: str
    created_utc: float | None = None


@dataclass
class Context:
    """What a detector may use besides the series it checks. All times UTC epoch seconds."""

    station: str
    series: Mapping[str, Series] = field(default_factory=dict)  # the station's parameters by code
    neighbours: Mapping[str, Mapping[str, Series]] = field(default_factory=dict)  # station → code → series
    distances_km: Mapping[str, float] = field(default_factory=dict)  # neighbour station → km
    limits: Mapping[str, float] = field(default_factory=dict)  # parameter → applicable limit
    marks: Sequence[Mark] = ()
    events: Sequence[Mapping[str, Any]] = ()  # metadata/parameter events: {"time_utc", "kind", "key", "old", "new", "approved"}
    attrs: Mapping[str, Any] = field(default_factory=dict)  # site attributes (o2_ref, kind, city …)
    # Every station of the scan of the same kind, this one included (station → code → series): the
    # batch runner shares one mapping between all contexts, so detectors that look for copies
    # between *any* two stations of a network (FOR-06) can index it once. Empty in streaming QC.
    network: Mapping[str, Mapping[str, Series]] = field(default_factory=dict)
    # Scratch space for derived arrays that several detectors of one station compute alike (the
    # neighbour residual of a parameter …), keyed by everything they depend on; the batch runner
    # clears it after each station. Never part of a result.
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class Finding:
    """A detector's verdict on the index range [start, end) of the series it was given."""

    start: int
    end: int
    status: Status
    reason: str
    score: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)


DetectorFunc = Callable[..., list[Finding]]


@dataclass(frozen=True)
class DetectorSpec:
    id: str
    name: str
    family: str  # checks: cmp rng tmp eqp prv tim · fraud: xv spa mark meta cems wat for
    targets: tuple[str, ...]
    params: Mapping[str, Param]
    func: DetectorFunc
    version: str = "1"
    systems: tuple[str, ...] = ("air", "water", "source")  # which kinds of site it applies to
    doc: str = ""
    # Added for the runner (all optional): HJ 212 codes the detector checks when a configuration
    # entry names none (empty = every parameter of the site); the history streaming QC keeps for
    # it, in seconds (None = the stream's default, 8 days of hour data / 2 days of minute data;
    # 0 = batch only, e.g. forensic tests that need months).
    parameters: tuple[str, ...] = ()
    history_s: int | None = None

    def defaults(self) -> dict[str, Any]:
        return {k: p.default for k, p in self.params.items()}

    def resolve(self, given: Mapping[str, Any] | None, *, where: str = "") -> dict[str, Any]:
        """Defaults overridden by ``given``; an unknown parameter is an error naming it."""
        out = self.defaults()
        for k, v in (given or {}).items():
            if k not in self.params:
                raise InputError(f"{self.id}.{k}", f"unknown parameter; known: {', '.join(self.params) or 'none'}",
                                 where=where or None)
            out[k] = v
        return out


REGISTRY: dict[str, DetectorSpec] = {}


def detector(id: str, *, name: str, family: str, targets: Sequence[str] = (), params: Mapping[str, Param] | None = None,
             version: str = "1", systems: Sequence[str] = ("air", "water", "source"),
             parameters: Sequence[str] = (), history_s: int | None = None) -> Callable[[DetectorFunc], DetectorFunc]:
    """Register a detector function under its catalogue ID.

    ``parameters`` (HJ 212 codes) and ``history_s`` are optional hints for the runner: see
    :class:`DetectorSpec`.
    """

    def wrap(func: DetectorFunc) -> DetectorFunc:
        if id in REGISTRY:
            raise ValueError(f"detector {id} registered twice")
        REGISTRY[id] = DetectorSpec(id, name, family, tuple(targets), dict(params or {}), func, version,
                                    tuple(systems), (func.__doc__ or "").strip(), tuple(parameters), history_s)
        return func

    return wrap


def load_all() -> dict[str, DetectorSpec]:
    """Import every detector module (they register on import) and return the registry."""
    import importlib
    import pkgutil

    from tianlan.qc import checks, fraud

    for pkg in (checks, fraud):
        for m in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{pkg.__name__}.{m.name}")
    return REGISTRY


def get(id: str) -> DetectorSpec:
    """The detector registered under ``id``; an unknown ID is an error."""
    load_all()
    try:
        return REGISTRY[id]
    except KeyError:
        raise InputError("detector", f"unknown detector ID {id!r}; known: {', '.join(sorted(REGISTRY))}") from None


@dataclass
class QcResult:
    """One finding placed in time: what the runner stores (``qc_results``) and alarms are built from.

    ``start_utc``/``end_utc``: the period the finding covers, [start, end), UTC epoch s; ``status``
    QARTOD; ``config_hash`` the SHA-256 (hex, first 16) of the effective configuration; ``version``
    the detector's version.
    """

    detector: str
    version: str
    config_hash: str
    station: str
    parameter: str
    start_utc: int
    end_utc: int
    status: Status
    reason: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)
    family: str = ""


def to_results(spec: DetectorSpec, series: Series, findings: Sequence[Finding], config_hash: str) -> list[QcResult]:
    """Place findings (index ranges) in time: [times[start], times[end-1] + step)."""
    out = []
    t = series.times
    for f in findings:
        if not (0 <= f.start < f.end <= len(t)):
            raise ValueError(f"{spec.id}: finding range [{f.start}, {f.end}) outside a series of {len(t)}")
        out.append(QcResult(spec.id, spec.version, config_hash, series.station, series.parameter, int(t[f.start]),
                            int(t[f.end - 1]) + series.step_s, f.status, f.reason, float(f.score), f.evidence, spec.family))
    return out
