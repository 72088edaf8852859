"""Shared fixtures of the QC runner tests: toy detectors registered for one test, a synthetic network.

The toy detectors (IDs ``ZQ-…``) stand in for the real ones so that these tests exercise the
configuration, the runner, the files, the store and the stream without depending on the
detectors colleagues write; they are removed from the registry after each test.
"""

from __future__ import annotations

import calendar
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from tianlan.qc.core import REGISTRY, Context, DetectorSpec, Finding, Param, Series, Status, detector
from tianlan.qc.inputs import StationMeta, build_contexts

T0 = calendar.timegm((2019, 1, 25, 0, 0, 0)) - 8 * 3600  # 2019-01-25 00:00 Beijing, UTC epoch s
HOUR = 3600
TOY_IDS = ("ZQ-FLAT", "ZQ-HIGH", "ZQ-NBR", "ZQ-BOOM", "ZQ-BAD")


def _runs(mask: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True) if b - a >= min_len]


def flat(series: Series, ctx: Context, *, min_len: int, tolerance: float) -> list[Finding]:
    """Runs of at least ``min_len`` values equal within ``tolerance``."""
    v = series.values
    if v.size < 2:
        return []
    with np.errstate(invalid="ignore"):
        eq = np.abs(np.diff(v)) <= tolerance  # eq[i]: values i and i+1 are equal
    return [Finding(a, b + 1, Status.SUSPECT, "flat", float(b + 1 - a), {"value": float(v[a])})
            for a, b in _runs(eq, max(1, min_len - 1))]


def high(series: Series, ctx: Context, *, limit: float) -> list[Finding]:
    """Values above ``limit``."""
    with np.errstate(invalid="ignore"):
        m = series.values > limit
    return [Finding(a, b, Status.FAIL, "high", float(np.nanmax(series.values[a:b])), {"limit": limit}) for a, b in _runs(m, 1)]


def above_neighbours(series: Series, ctx: Context, *, factor: float) -> list[Finding]:
    """Hours where the value exceeds ``factor`` × the mean of the neighbours at the same time."""
    total = np.zeros(len(series))
    count = np.zeros(len(series))
    used = []
    for st, by_code in ctx.neighbours.items():
        s = by_code.get(series.parameter)
        if s is None or len(s) == 0:
            continue
        idx = np.minimum(np.searchsorted(s.times, series.times), len(s) - 1)
        v = np.where(s.times[idx] == series.times, s.values[idx], np.nan)
        ok = np.isfinite(v)
        total[ok] += v[ok]
        count[ok] += 1
        used.append(st)
    if len(used) < 2:
        return []
    with np.errstate(invalid="ignore", divide="ignore"):
        m = (count >= 2) & (series.values > factor * total / count)
    return [Finding(a, b, Status.SUSPECT, "above-neighbours", float(b - a), {"neighbours": used}) for a, b in _runs(m, 1)]


def boom(series: Series, ctx: Context) -> list[Finding]:
    raise RuntimeError("boom: toy detector failure")


def bad_range(series: Series, ctx: Context) -> list[Finding]:
    return [Finding(0, len(series) + 5, Status.SUSPECT, "out-of-range")]


def _register() -> dict[str, DetectorSpec]:
    for i in TOY_IDS:
        REGISTRY.pop(i, None)
    detector("ZQ-FLAT", name="toy flat line", family="tmp", targets=["stuck sensor"],
             params={"min_len": Param(4, "values"), "tolerance": Param(0.0, "unit of the value")})(flat)
    detector("ZQ-HIGH", name="toy limit", family="rng", systems=("air",), parameters=("a34004",),
             params={"limit": Param(500.0, "µg/m³")})(high)
    detector("ZQ-NBR", name="toy neighbours", family="spa", params={"factor": Param(3.0, "ratio")})(above_neighbours)
    detector("ZQ-BOOM", name="toy failure", family="for")(boom)
    detector("ZQ-BAD", name="toy bad range", family="tmp", version="7")(bad_range)
    return {i: REGISTRY[i] for i in TOY_IDS}


@pytest.fixture
def toys() -> Iterator[dict[str, DetectorSpec]]:
    """The toy detectors, registered for the test (also in the global registry, for the CLI)."""
    specs = _register()
    yield specs
    for i in TOY_IDS:
        REGISTRY.pop(i, None)


def network(hours: int = 24 * 10, seed: int = 1) -> tuple[dict[str, StationMeta], dict[str, dict[str, Series]]]:
    """Four stations in one city a few km apart, one 60 km away, one control site; PM2.5 and SO2
    hourly from T0 with a diurnal cycle and noise (no flat runs, no values above 500)."""
    rng = np.random.default_rng(seed)
    stations = {
        "A": StationMeta("A", "石家庄", 114.50, 38.05),
        "B": StationMeta("B", "石家庄", 114.53, 38.04),
        "C": StationMeta("C", "石家庄", 114.47, 38.07),
        "D": StationMeta("D", "石家庄", 114.52, 38.08),
        "FAR": StationMeta("FAR", "保定", 115.46, 38.87),
        "BG": StationMeta("BG", "石家庄", 114.51, 38.06, control_site=True),
    }
    t = T0 + HOUR * np.arange(hours, dtype=np.int64)
    base = 60 + 30 * np.sin(np.arange(hours) * 2 * np.pi / 24)
    series: dict[str, dict[str, Series]] = {}
    for code in stations:
        pm = np.round(base * rng.uniform(0.9, 1.1) + rng.normal(0, 5, hours), 1)
        so2 = np.round(10 + rng.normal(0, 2, hours), 2)
        series[code] = {"a34004": Series(code, "a34004", t, pm, unit="µg/m³"),
                        "a21026": Series(code, "a21026", t, so2, unit="µg/m³")}
    return stations, series


@pytest.fixture
def make_network():  # type: ignore[no-untyped-def]
    """:func:`network` (a factory: hours, seed)."""
    return network


@pytest.fixture
def net() -> tuple[dict[str, StationMeta], dict[str, dict[str, Series]], dict[str, Context]]:
    stations, series = network()
    return stations, series, build_contexts(series, stations)


def insert_observations(engine, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """Observation rows straight into the store (test set-up), creating PostgreSQL partitions."""
    from sqlalchemy import insert

    from tianlan.store.partitions import PartitionKeeper, month_of
    from tianlan.store.schema import observations

    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            PartitionKeeper().ensure(raw.cursor(), {month_of(int(r["time_utc"])) for r in rows})
            raw.commit()
        finally:
            raw.close()
    with engine.begin() as c:
        c.execute(insert(observations), rows)


@pytest.fixture
def put_observations():  # type: ignore[no-untyped-def]
    """:func:`insert_observations`."""
    return insert_observations


class HebeiNetwork(NamedTuple):
    """The real Hebei 2019 release (January–June) as the detectors see it."""

    series: dict[str, dict[str, Series]]  # station → parameter code → hourly series (period start, UTC)
    ctxs: dict[str, Context]  # station → context with the production neighbours (tianlan.qc.inputs)
    station_months: float  # stations × days / 30.44


@pytest.fixture(scope="session")
def hebei() -> HebeiNetwork:
    """Loaded once for every real-data test of tests/qc (``test_fraud_spatial.load_hebei``); skipped
    with the reason when the shared data are absent. Tests must not change it: they build changed
    copies (``with_values``, ``scale_values``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_fraud_spatial import HEBEI, load_hebei

    if not (HEBEI / "2019-01.csv.gz").exists():
        pytest.skip(f"real data absent: {HEBEI} (../shared/data/cnemc-hebei-2019) not found")
    series, metas = load_hebei()
    n_days = next(iter(next(iter(series.values())).values())).times.size / 24
    return HebeiNetwork(series, build_contexts(series, metas), len(series) * n_days / 30.44)
