"""WAT-04: an upward level shift above the station's usual level is a notice; a return is not.

Every falsification a water station suffers lowers the concentrations dilution lowers (a diluted
sample, a lowered slope, a cut at high water), so a level shift *up* against the river that takes
the station above its usual relation to the adjacent station says that the references fell or
that the water changed (``upshift_weight``, SPA-01's rule). A shift up that brings a station back
from a lowered period is the end of a falsification and keeps its weight.
"""

from __future__ import annotations

import polars as pl
import pytest
from test_fraud_water import HOUR, contexts, run

from tianlan.sim.cems_series import water_frame
from tianlan.sim.fraud import inject

DAY = 24 * HOUR


@pytest.fixture(scope="module")
def rivers() -> tuple[pl.DataFrame, pl.DataFrame]:
    return water_frame(4, 4, days=61, seed=11)


def _shifts_up(frame: pl.DataFrame, sites: pl.DataFrame, station: str, code: str, **kw: object) -> list:
    ctxs = contexts(frame, sites)
    return [f for f in run("WAT-04", ctxs[station].series[code], ctxs[station], **kw)
            if f.evidence.get("kind") == "level shift" and "level shifted up" in f.reason]


def _rescaled(frame: pl.DataFrame, code: str, from_day: int, days: int, **kw: object) -> pl.DataFrame:
    """W202's ``code`` rescaled (``factor``, ``offset``) for ``days`` from day ``from_day`` of the record."""
    start = int(frame["time_utc"].min()) + from_day * DAY  # type: ignore[operator]
    out, _ = inject(frame, "scaling", station="W202", start_utc=start, hours=days * 24, rng=1, parameters=[code], **kw)
    return out


def test_a_rise_above_the_usual_level_is_a_notice(rivers: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, sites = rivers
    risen = _rescaled(frame, "w21003", 30, 31, factor=2.0)
    notices = _shifts_up(risen, sites, "W202", "w21003")
    assert notices, "the rise is still found (and, abrupt, by the step test at full weight: not asserted here)"
    for f in notices:
        usual = f.evidence["usual_level"]
        assert usual["notice"] == "wat04_upshift_above_usual" and "rule" in usual
        assert usual["above_usual_ln"] >= 0.75 * 0.12 and f.score <= 0.5
    full = _shifts_up(risen, sites, "W202", "w21003", upshift_weight=1.0)  # the rule off: full weight
    assert full and max(f.score for f in full) >= 0.8
    # temperature and pH are not channels dilution lowers: no notice for them
    warm = _rescaled(frame, "w01010", 30, 31, factor=1.0, offset=2.0)
    warmer = _shifts_up(warm, sites, "W202", "w01010")
    assert warmer and all(f.evidence["usual_level"] is None and f.score >= 0.8 for f in warmer)


def test_the_return_from_a_lowered_period_keeps_its_weight(rivers: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, sites = rivers
    lowered = _rescaled(frame, "w21003", 25, 12, factor=0.5)
    back = _shifts_up(lowered, sites, "W202", "w21003")
    assert back, "the return is found as a shift up"
    assert all(f.score >= 0.8 for f in back)
    assert all((f.evidence["usual_level"] or {}).get("notice") is None for f in back)
