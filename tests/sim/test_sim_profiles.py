"""Profiles: deterministic by seed, physically plausible shapes and ranges."""

from __future__ import annotations

import numpy as np
import pytest

from tianlan.model.timeutil import parse_user_time
from tianlan.sim.profiles import (
    REFERENCE_O2,
    AirProfile,
    SourceProfile,
    beijing_hour,
    converted_concentration,
    profile_for,
)

JAN = parse_user_time("2019-01-01")
JUL = parse_user_time("2019-07-01")
HOURLY_60D = np.arange(0, 60 * 86400, 3600, dtype=float)


def _hourly_means(values: np.ndarray, times: np.ndarray) -> np.ndarray:
    hours = beijing_hour(times).astype(int)
    return np.array([values[hours == h].mean() for h in range(24)])


@pytest.mark.parametrize("kind", ["air", "water", "wastewater", "source"])
def test_same_seed_same_values_other_seed_other_values(kind: str) -> None:
    times = JAN + np.arange(0, 3 * 86400, 600, dtype=float)
    a = profile_for(kind).sample_many(times, np.random.default_rng(7))
    b = profile_for(kind).sample_many(times, np.random.default_rng(7))
    c = profile_for(kind).sample_many(times, np.random.default_rng(8))
    for code in a:
        np.testing.assert_array_equal(a[code], b[code])
    assert any(not np.array_equal(a[code], c[code]) for code in a)


def test_sample_one_by_one_continues_the_ar_state() -> None:
    p, q = profile_for("air"), profile_for("air")
    r1, r2 = np.random.default_rng(3), np.random.default_rng(3)
    times = [JAN + 60 * i for i in range(5)]
    one = [p.sample(t, r1) for t in times]
    many = [q.sample(t, r2) for t in times]
    assert one == many
    # Consecutive minutes are strongly correlated (AR(1)), not independent draws.
    pm = np.array([profile_for("air").sample(JAN + 60 * i, np.random.default_rng(i))["a34004"] for i in range(50)])
    p2 = profile_for("air")
    rng = np.random.default_rng(0)
    series = np.array([p2.sample(JAN + 60 * i, rng)["a34004"] for i in range(50)])
    assert np.abs(np.diff(series)).mean() < np.abs(np.diff(pm)).mean()


def test_air_values_in_range_and_pm10_above_pm25() -> None:
    v = profile_for("air").sample_many(JAN + HOURLY_60D, np.random.default_rng(1))
    f = AirProfile.factors
    for factor in f:
        assert (v[factor.code] >= factor.low).all() and (v[factor.code] <= factor.high).all()
    assert (v["a34002"] >= v["a34004"]).mean() > 0.98
    assert 20 < np.median(v["a34004"]) < 200, "winter PM2.5 in a North China city, µg/m³"
    assert 0.2 < np.median(v["a21005"]) < 4, "CO in mg/m³"
    assert -25 < np.median(v["a01001"]) < 10, "January temperature, °C"
    assert 95 < np.median(v["a01006"]) < 104, "pressure, kPa"
    assert ((v["a01008"] >= 0) & (v["a01008"] < 360)).all()


def test_o3_peaks_in_the_afternoon_and_no2_at_rush_hours() -> None:
    t = JUL + HOURLY_60D
    v = profile_for("air").sample_many(t, np.random.default_rng(2))
    o3 = _hourly_means(v["a05024"], t)
    no2 = _hourly_means(v["a21004"], t)
    assert 13 <= int(np.argmax(o3)) <= 17
    assert o3[14] > 2 * o3[5]
    assert no2[8] > no2[13] and no2[19] > no2[13]
    # O3 and NO2 are anti-correlated through the day (titration, photochemistry).
    assert np.corrcoef(o3, no2)[0, 1] < -0.3


def test_pm_is_higher_in_winter_and_accumulates_at_night() -> None:
    winter = profile_for("air").sample_many(JAN + HOURLY_60D, np.random.default_rng(4))["a34004"]
    summer = profile_for("air").sample_many(JUL + HOURLY_60D, np.random.default_rng(4))["a34004"]
    assert winter.mean() > 1.5 * summer.mean()
    by_hour = _hourly_means(winter, JAN + HOURLY_60D)
    assert by_hour[[22, 23, 0, 1]].mean() > by_hour[[13, 14, 15, 16]].mean()


def test_water_do_follows_photosynthesis() -> None:
    t = JUL + HOURLY_60D
    v = profile_for("water").sample_many(t, np.random.default_rng(5))
    do = _hourly_means(v["w01009"], t)
    assert 12 <= int(np.argmax(do)) <= 18 and do[15] > do[4]
    assert 6.5 < np.median(v["w01001"]) < 9


def test_source_o2_and_converted_concentration() -> None:
    p = profile_for("source")
    assert isinstance(p, SourceProfile) and p.o2_ref == REFERENCE_O2["coal_power"] == 6.0
    v = p.sample_many(JAN + np.arange(0, 5 * 86400, 300, dtype=float), np.random.default_rng(6))
    assert 0.8 < ((v["a19001"] > 8.5) & (v["a19001"] < 11.5)).mean()
    one = {c: float(a[0]) for c, a in v.items()}
    zs = p.converted(one)
    assert zs["a21026"] == pytest.approx(one["a21026"] * (21 - 6) / (21 - one["a19001"]))
    assert converted_concentration(30.0, 11.0, 6.0) == pytest.approx(45.0)
    gas = profile_for("source", {"plant": "incinerator"})
    assert gas.o2_ref == 11.0
    with pytest.raises(ValueError, match="plant"):
        profile_for("source", {"plant": "volcano"})


def test_cumulative_amounts_follow_appendix_d() -> None:
    ww = profile_for("wastewater")
    cou = ww.cumulative({"w00000": 20.0, "w01018": 40.0}, 3600)
    assert cou["w00000"] == pytest.approx(72.0)  # 20 L/s × 3600 s × 10⁻³ = 72 m³
    assert cou["w01018"] == pytest.approx(72.0 * 40.0 * 1e-3)  # kg
    src = profile_for("source")
    cou = src.cumulative({"a00000": 100.0, "a21026": 20.0}, 3600)
    assert cou["a00000"] == pytest.approx(360000.0)
    assert cou["a21026"] == pytest.approx(7.2)  # 20 mg/m³ × 360 000 m³ × 10⁻⁶ kg


def test_unknown_kind_is_rejected_and_format_uses_decimals() -> None:
    with pytest.raises(ValueError, match="kind"):
        profile_for("volcano")
    p = profile_for("air")
    assert p.format("a21005", 0.8) == "0.800"
    assert p.format("a34004", 35.04) == "35.0"
    assert p.format("a01008", -0.2) == "0"
