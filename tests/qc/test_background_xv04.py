"""XV-04: a near lockstep of two combustion pollutants at an ambient-air station is a notice
(docs/qc-benchmark-log.md, "Clean incidents (second round)").

CO, SO2, NO2, PM2.5 and PM10 share their source in a Hebei winter (coal, traffic) and one
inversion accumulates them together: a stagnant haze day correlates CO with PM at r ≥ 0.995. Such
a SUSPECT window keeps its evidence with half the score; an exact affine relation (one signal
wired into two channels) stays a FAIL, and a site that is not ambient air is unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

from tianlan.qc.core import Context, Series, Status, get
from tianlan.qc.fraud.cross import COMBUSTION_TRACERS, SHARED_SOURCE_WEIGHT

T0 = 1546300800 - 8 * 3600
HOUR = 3600


def run(series: Series, ctx: Context, **kw: object) -> list:
    spec = get("XV-04")
    return spec.func(series, ctx, **spec.resolve(kw))


def haze(hours: int = 48, seed: int = 4) -> dict[str, Series]:
    """A haze building up and clearing: PM2.5 from about 40 to 400 µg/m³ and CO following it
    (mg/m³, 0.1 resolution) with a little noise of its own."""
    rng = np.random.default_rng(seed)
    t = T0 + HOUR * np.arange(hours, dtype=np.int64)
    shape = np.exp(2.3 * np.sin(np.pi * np.arange(hours) / hours) + rng.normal(0, 0.03, hours))
    pm = np.round(40 * shape)
    co = np.round(0.01 * pm + rng.normal(0, 0.04, hours), 1)
    return {"a34004": Series("S", "a34004", t, pm), "a21005": Series("S", "a21005", t, co)}


def test_combustion_tracers_are_the_primary_pollutants() -> None:
    assert COMBUSTION_TRACERS == {"a21005", "a21026", "a21004", "a34004", "a34002"}


def test_a_haze_day_of_co_and_pm_is_a_notice_at_an_air_station() -> None:
    ch = haze()
    (other,) = run(ch["a21005"], Context("S", series=ch))  # kind unknown: as before
    assert other.status == Status.SUSPECT and other.score >= 0.8 and not other.evidence["shared_source"]
    (air,) = run(ch["a21005"], Context("S", series=ch, attrs={"kind": "air"}))
    assert air.evidence["shared_source"] and air.score == pytest.approx(SHARED_SOURCE_WEIGHT * other.score)
    assert air.score < 0.8 and (air.start, air.end) == (other.start, other.end)
    (off,) = run(ch["a21005"], Context("S", series=ch, attrs={"kind": "air"}), shared_source_weight=1.0)
    assert off.score == pytest.approx(other.score)


def test_one_signal_wired_into_two_air_channels_stays_a_fail() -> None:
    ch = haze()
    ch["a21005"] = Series("S", "a21005", ch["a34004"].times, np.round(0.01 * ch["a34004"].values, 1))
    found = run(ch["a21005"], Context("S", series=ch, attrs={"kind": "air"}))
    assert found and all(f.status == Status.FAIL and f.score == 1.0 and not f.evidence["shared_source"] for f in found)
