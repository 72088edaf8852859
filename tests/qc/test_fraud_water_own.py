"""WAT-04: a station whose own series stayed within its usual range is not the culprit.

When the adjacent station *and* the witness beyond it were diluted in the same hours, a river-end
station departs from both references. If its own turbidity happens to swing in those hours by an
ordinary amount (a shower upstream), the older own-level test ("moved by half the departure") let
the episode through: the innocent station was blamed. The episode is now a notice (score halved,
level 1 by the default policy) with the rule named in the evidence; a station whose own series
really left its range keeps the full score. Rivers from :func:`tianlan.sim.cems_series.water_frame`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tianlan.qc.core import Context, Series, get
from tianlan.qc.fraud.water_own import OWN_WEIGHT, own_verdict, own_z
from tianlan.sim.cems_series import water_frame
from tianlan.sim.fraud import inject

sys.path.insert(0, str(Path(__file__).parent))
from test_fraud_water import contexts  # noqa: E402

TURB = "w01003"
HOUR = 3600


def run(series: Series, ctx: Context, **kw: object) -> list:
    spec = get("WAT-04")
    return spec.func(series, ctx, **spec.resolve(kw))


@pytest.fixture(scope="module")
def river() -> tuple[pl.DataFrame, pl.DataFrame]:
    return water_frame(1, 4, days=40, seed=2019)


def _both_references_diluted(frame: pl.DataFrame, start: int, hours: int) -> pl.DataFrame:
    """W103 (adjacent to the river end W104) and W102 (W104's witness) diluted in the same hours,
    each shifted by its travel time so that W104's aligned references both see cleaner water. A
    light dilution (20 %): the references stay "stable" by WAT-04's own-change test, as the
    benchmark's did on volatile turbidity."""
    out, _ = inject(frame, "water_dilution", station="W103", start_utc=start - 6 * HOUR, hours=hours, rng=1,
                    fraction=0.2)
    out, _ = inject(out, "water_dilution", station="W102", start_utc=start - 12 * HOUR, hours=hours, rng=2,
                    fraction=0.2)
    return out


def _swing(frame: pl.DataFrame, station: str, start: int, hours: int, ln: float) -> pl.DataFrame:
    """The station's turbidity × e^ln over [start, start + hours) (its own change)."""
    hit = (pl.col("station") == station) & pl.col("time_utc").is_between(start, start + (hours - 1) * HOUR)
    return frame.with_columns(pl.when(hit).then(pl.col(TURB) * float(np.exp(ln))).otherwise(pl.col(TURB)).alias(TURB))


def _window_findings(frame: pl.DataFrame, sites: pl.DataFrame, start: int, hours: int) -> list:
    ctx = contexts(frame, sites)["W104"]
    s = ctx.series[TURB]
    return [f for f in run(s, ctx) if s.times[f.start] < start + hours * HOUR and s.times[f.end - 1] >= start
            and f.evidence.get("kind") == "episode"]


def test_end_station_with_an_ordinary_swing_is_a_notice(river: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, sites = river
    start = int(frame["time_utc"].min()) + 20 * 86400
    # W104's own turbidity rises by 1 in ln units for 8 hours — under two of its own robust scales
    # (the simulated turbidity swings widely) — while both its references are diluted: it departs
    # from both, and its rise passes the old own-level test (half the departure)
    swung = _swing(_both_references_diluted(frame, start, 30), "W104", start + 10 * HOUR, 8, 1.0)
    fs = _window_findings(swung, sites, start + 10 * HOUR, 8)
    assert fs, "the episode is kept as evidence"
    for f in fs:
        own = f.evidence["own_range"]
        assert own["moved"] is False and own["own_z"] < own["own_z_threshold"]
        assert "references moved" in own["rule"]
        assert f.score < 0.8  # level 1 by the default policy: a notice, not an alarm
    # the rule off (own_z 0): the same episode was an alarm — the innocent station blamed
    ctx = contexts(swung, sites)["W104"]
    s = ctx.series[TURB]
    t0, t1 = start + 10 * HOUR, start + 18 * HOUR
    old = [f for f in run(s, ctx, own_z=0.0) if f.evidence.get("kind") == "episode"
           and s.times[f.start] < t1 and s.times[f.end - 1] >= t0]
    assert any(f.score >= 0.8 for f in old) and all(f.evidence["own_range"] is None for f in old)


def test_station_whose_own_series_moved_keeps_the_alarm(river: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, sites = river
    start = int(frame["time_utc"].min()) + 20 * 86400
    # the same references, but W104's own turbidity jumps ×e^3 — far outside its usual range
    moved = _swing(_both_references_diluted(frame, start, 30), "W104", start + 10 * HOUR, 8, 3.0)
    fs = _window_findings(moved, sites, start + 10 * HOUR, 8)
    assert any(f.score >= 0.8 and f.evidence["own_range"]["moved"] for f in fs)


def test_own_verdict_and_scale() -> None:
    rng = np.random.default_rng(3)
    n = 24 * 30
    t = 1546300800 + HOUR * np.arange(n, dtype=np.int64)
    x = rng.normal(0.0, 0.1, n)
    x[600:608] += 1.0  # ten of its own scales
    z = own_z(t, x, HOUR, window_days=7.0, guard_hours=12.0, min_scale=0.03)
    sel = np.ones(8, dtype=bool)
    assert own_verdict(z, 600, 608, sel, +1.0, 2.0)["moved"] is True
    assert own_verdict(z, 600, 608, sel, -1.0, 2.0)["moved"] is False  # the other way round
    quiet = own_verdict(z, 300, 308, sel, +1.0, 2.0)
    assert quiet["moved"] is False and abs(quiet["own_z"]) < 2.0
    assert OWN_WEIGHT * 1.0 < 0.8  # a full-score episode halved is below the level-2 score
