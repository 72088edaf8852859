"""Range detectors RNG-01/02 on constructed series: each fires on its case, stays quiet on clean data."""

from __future__ import annotations

import calendar
import json

import numpy as np
import pytest

from tianlan.errors import InputError
from tianlan.qc.core import Context, Finding, Series, Status, get

T0 = calendar.timegm((2024, 3, 1, 0, 0, 0)) - 8 * 3600
H = 3600


def hourly(values, code: str = "a34004", *, start: int = T0, flags=None, unit: str = "") -> Series:
    v = np.asarray(values, dtype=float)
    return Series("S1", code, start + H * np.arange(v.size, dtype=np.int64), v, flags=flags, unit=unit)


def run(det: str, series: Series, ctx: Context | None = None, **params) -> list[Finding]:
    """``det`` with its defaults overridden by ``params``; every evidence payload must be strict JSON."""
    spec = get(det)
    out = spec.func(series, ctx or Context(series.station, series={series.parameter: series}), **spec.resolve(params))
    for f in out:
        json.dumps(f.evidence, allow_nan=False)
    return out


@pytest.mark.parametrize("det", ["RNG-01", "RNG-02"])
def test_parameters_resolve_and_unknown_ones_are_errors(det: str) -> None:
    spec = get(det)
    assert spec.family == "rng" and spec.doc
    assert spec.resolve({}) == spec.defaults()
    with pytest.raises(InputError, match=f"{det}.nope"):
        spec.resolve({"nope": 0})


def test_rng01_negative_impossible_and_implausible_values() -> None:
    v = np.array([40, 42, -3, 41, 12000, 12500, 45, 1500, 44], dtype=float)
    f = run("RNG-01", hourly(v))
    got = [(x.reason, x.status, x.start, x.end) for x in f]
    assert got == [("negative", Status.FAIL, 2, 3), ("above-range", Status.FAIL, 4, 6),
                   ("gross-range-high", Status.SUSPECT, 7, 8)]
    assert f[1].evidence["max"] == 12500 and f[1].evidence["fail_span"] == [0.0, 10000.0]


def test_rng01_co_in_mg_and_names_as_codes() -> None:
    f = run("RNG-01", hourly([0.4, 0.5, 90.0, 0.6], "CO"))  # the wide-CSV name maps to a21005
    assert [(x.reason, x.start) for x in f] == [("above-range", 2)]
    assert run("RNG-01", hourly([0.4, 0.5, 3.0, 0.6], "a21005")) == []


def test_rng01_spans_can_be_given_per_parameter_and_bad_ones_are_errors() -> None:
    s = hourly([10, 20, 30, 400])
    f = run("RNG-01", s, suspect_span={"PM2.5": [0, 300]})
    assert [(x.reason, x.start) for x in f] == [("gross-range-high", 3)]
    assert run("RNG-01", s, suspect_span={"a21026": [0, 5]}) == []  # another parameter's span
    with pytest.raises(InputError, match="suspect_span"):
        run("RNG-01", s, suspect_span=[1, 2, 3])


def test_rng01_open_spans_and_unknown_parameters() -> None:
    flow = hourly([12.0, -1.0, 1e9], "w00000")  # wastewater flow: no upper bound, never negative
    f = run("RNG-01", flow)
    assert [(x.reason, x.start) for x in f] == [("negative", 1)]
    assert f[0].evidence["fail_span"] == [0.0, None]
    assert run("RNG-01", hourly([1.0, -5.0], "x99999")) == []  # unknown parameter, no span given
    assert [x.reason for x in run("RNG-01", hourly([1.0, -5.0], "x99999"), fail_span=[0, None])] == ["negative"]


def test_rng01_invalid_values_are_left_to_eqp01() -> None:
    s = hourly([10, 20, 5000.0, 30], "a21026", flags=["N", "N", "C", "N"])  # span gas during calibration
    assert [(x.reason, x.status) for x in run("RNG-01", s)] == []
    s = hourly([10, 20, 5000.0, 30], "a21026", flags=["N", "N", "N", "N"])
    assert [(x.reason, x.status) for x in run("RNG-01", s)] == [("gross-range-high", Status.SUSPECT)]


def test_rng01_flue_gas_units_at_a_source() -> None:
    s = hourly([30.0, 35.0, 2500.0], "a21026", unit="mg/m³")  # 2500 mg/m³ SO2 at a stack: plausible-ish
    assert run("RNG-01", s, Context("S1", attrs={"kind": "source"})) == []
    assert run("RNG-01", s, Context("S1", attrs={"kind": "air"}))[0].reason == "gross-range-high"


def _years(n_years: int, seed: int = 0) -> Series:
    start = calendar.timegm((2021, 1, 1, 0, 0, 0)) - 8 * 3600
    n = n_years * 365 * 24
    rng = np.random.default_rng(seed)
    h = np.arange(n)
    v = np.round(50 * np.exp(0.3 * np.sin(h * 2 * np.pi / 24) + 0.4 * np.sin(h * 2 * np.pi / 8760) + rng.normal(0, 0.3, n)))
    return hourly(v, start=start)


def test_rng02_value_far_outside_its_month_and_hour() -> None:
    s = _years(3)
    i = 2 * 8760 + 200 * 24 + 5  # a July morning of the third year
    s.values[i] = 50 * 40
    f = run("RNG-02", s)
    assert [(x.reason, x.status, x.start) for x in f] == [("climatology-high", Status.SUSPECT, i)]
    assert f[0].evidence["reference_count"] >= 150 and f[0].evidence["q_high"] < 2000


def test_rng02_clean_history_is_quiet_and_one_year_is_not_evaluated() -> None:
    assert run("RNG-02", _years(3, seed=4)) == []
    one = _years(1)
    one.values[5000] = 5000.0
    assert run("RNG-02", one) == []  # leave-one-year-out needs other years
    assert [x.start for x in run("RNG-02", one, leave_out="month", month_window=1, min_count=100)] == [5000]
    with pytest.raises(InputError, match="leave_out"):
        run("RNG-02", one, leave_out="week")
