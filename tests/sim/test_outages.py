"""Random outages (tianlan.sim.outages): innocent missingness, the control of FOR-05 and the
benchmark's "random outages (control)" row."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tianlan.sim.outages import random_outages

T0 = 1_546_272_000  # 2019-01-01 00:00 Beijing as UTC epoch s (period start)


def _frame(values: np.ndarray, stations: int = 3, hours: int = 24 * 60) -> pl.DataFrame:
    st = np.repeat([f"S{k}" for k in range(stations)], hours)
    t = np.tile(T0 + 3600 * np.arange(hours), stations)
    return pl.DataFrame({"station": st, "time_utc": t, "PM2.5": values[: st.size], "SO2": values[: st.size] / 2,
                         "mark": ["N"] * st.size})


def test_shares_grid_and_keys() -> None:
    f = _frame(np.arange(3 * 24 * 60, dtype=float) + 1)
    g = random_outages(f, seed=5)
    assert g.height == f.height and g["time_utc"].null_count() == 0 and g["mark"].null_count() == 0
    for (st,), part in g.group_by(["station"]):
        lost = part["PM2.5"].is_null().to_numpy()
        assert lost.tolist() == part["SO2"].is_null().to_list()  # the hour goes, every parameter of it
        assert 0.05 <= lost.mean() <= 0.12, (st, lost.mean())  # 3 % single hours + ≈5 % in outages
        runs = np.diff(np.flatnonzero(np.diff(np.r_[0, lost.astype(int), 0])))[::2]
        assert runs.max() >= 2 and runs.max() <= 48 * 2  # outages of 2–48 h (two may touch)


def test_independent_of_the_values_and_reproducible() -> None:
    rng = np.random.default_rng(1)
    a = _frame(rng.lognormal(3, 1, 3 * 24 * 60))
    b = _frame(rng.lognormal(3, 1, 3 * 24 * 60) * 100)
    ma = random_outages(a, seed=9)["PM2.5"].is_null()
    mb = random_outages(b, seed=9)["PM2.5"].is_null()
    assert ma.to_list() == mb.to_list()  # where the hours go does not depend on what they held
    assert ma.to_list() != random_outages(a, seed=10)["PM2.5"].is_null().to_list()


def test_bad_share_is_an_error() -> None:
    with pytest.raises(ValueError, match="single and outage"):
        random_outages(_frame(np.ones(3 * 24 * 60)), seed=1, outage=1.5)
