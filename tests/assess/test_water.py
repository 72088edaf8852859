"""GB 3838-2002 water class: the WQ vectors of the reference, boundaries, periods, properties."""

from __future__ import annotations

import json
import os
from datetime import date
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianlan.assess import water as water_mod
from tianlan.assess.water import (
    DEFAULT_EXCLUDED,
    STANDARD,
    WaterClass,
    classify_parameter,
    classify_period,
    classify_sample,
    exceedance_multiple,
    gb3838_items,
    parameter_names,
    parse_waterbody,
    period_means,
    resolve_parameter,
    water_class_array,
)
from tianlan.errors import InputError

SHARED = Path(os.environ.get("TIANLAN_SHARED_DIR", Path(__file__).resolve().parents[2].parent / "shared"))
VECTORS = SHARED / "reference" / "standards" / "test_vectors.json"
REFERENCE_TABLE = SHARED / "reference" / "standards" / "gb3838_limits.csv"


def _vectors(prefix: str) -> list[dict]:
    if not VECTORS.exists():
        return []
    return [v for v in json.loads(VECTORS.read_text("utf-8"))["vectors"] if v["id"].startswith(prefix)]


WQ = _vectors("WQ-")
needs_vectors = pytest.mark.skipif(not VECTORS.exists(), reason=f"reference test vectors absent: {VECTORS}")


@needs_vectors
def test_all_wq_vectors_present() -> None:
    assert {v["id"] for v in WQ} == {f"WQ-{i:03d}" for i in range(1, 10)}


@needs_vectors
@pytest.mark.parametrize("vec", [v for v in WQ if v["category"] == "water_class"], ids=lambda v: v["id"])
def test_wq_class_vectors(vec: dict) -> None:
    inp, exp = vec["inputs"], vec["expected"]
    r = classify_sample(inp["values_mg_per_L"], waterbody=parse_waterbody(inp["waterbody"]))
    # the vectors name items as given; map our canonical keys back through the names used
    by_name = {p.name: p for p in r.parameters}
    assert {k: by_name[k].label for k in exp["per_parameter_class"]} == exp["per_parameter_class"]
    assert r.label == exp["section_class"]
    assert r.qualitative == exp["qualitative"]
    canon = {resolve_parameter(n)[0].key for n in exp["determining_parameters"]}
    assert set(r.worst) == canon
    for name in inp["excluded_from_section_class"]:
        assert by_name[name].in_section_class is False
    assert r.standard == STANDARD


@needs_vectors
@pytest.mark.parametrize("vec", [v for v in WQ if v["category"] == "water_exceedance"], ids=lambda v: v["id"])
def test_wq_exceedance_vectors(vec: dict) -> None:
    inp, exp = vec["inputs"], vec["expected"]
    target = inp["target_class"]
    assert exceedance_multiple("NH3N", inp["NH3N"], reference_class=target) == exp["NH3N_multiple"]
    assert exceedance_multiple("TP_river", inp["TP_river"], reference_class=target) == exp["TP_multiple"]
    r = classify_sample({"NH3N": inp["NH3N"], "TP_river": inp["TP_river"]}, target_class=target)
    assert {e.parameter: e.multiple for e in r.exceedances} == {"NH3-N": 1.3, "TP": 0.6}
    assert {e.parameter: e.multiple for e in r.target_exceedances} == {"NH3-N": 1.3, "TP": 0.6}
    assert r.meets_target is False


def test_local_table_equals_reference() -> None:
    """The packaged table carries the reference's limits, plus the edition and HJ 212 codes."""
    if not REFERENCE_TABLE.exists():
        pytest.skip(f"reference table absent: {REFERENCE_TABLE}")
    import csv

    ref = list(csv.DictReader(REFERENCE_TABLE.open(encoding="utf-8")))
    local = list(csv.DictReader(water_mod._TABLE.open(encoding="utf-8")))
    assert len(ref) == len(local) == 25
    for a, b in zip(ref, local, strict=True):
        assert {k: b[k] for k in a} == a
        assert b["standard"] == "GB 3838-2002" and b["valid_from"] == "2002-06-01"
        assert b["hj212_code"].startswith("w")


def test_every_table_item_has_a_code_and_aliases() -> None:
    items = gb3838_items()
    assert len(items) == 24
    codes = {
        "pH": "w01001", "DO": "w01009", "CODMn": "w01019", "COD": "w01018", "BOD5": "w01017", "NH3-N": "w21003",
        "TP": "w21011", "TN": "w21001", "Hg": "w20111", "Cu": "w20122", "Zn": "w20123", "Cd": "w20115",
        "Cr6+": "w20117", "As": "w20119", "Pb": "w20120", "Oil": "w22001", "VPhenol": "w23002",
    }
    for key, code in codes.items():
        assert items[key].code == code
        assert resolve_parameter(code)[0].key == key
        assert resolve_parameter(code.upper())[0].key == key
    assert len({it.code for it in items.values()}) == 24
    for name, key in [("NH3N", "NH3-N"), ("nh3_n", "NH3-N"), ("氨氮", "NH3-N"), ("FecalColi", "FC"), ("ph", "pH"),
                      ("Cr(VI)", "Cr6+"), ("高锰酸盐指数", "CODMn"), ("S2-", "S2-"), ("F-", "F")]:
        assert resolve_parameter(name)[0].key == key
    assert parameter_names()[:4] == ["WT", "pH", "DO", "CODMn"]
    with pytest.raises(InputError) as e:
        resolve_parameter("NH4")
    assert e.value.field == "NH4"


@pytest.mark.parametrize(("name", "value", "label"), [
    ("DO", 7.5, "I"), ("DO", 7.49, "II"), ("DO", 2.0, "V"), ("DO", 1.99, "劣V"),
    ("COD", 15, "I"), ("COD", 15.01, "III"), ("COD", 40, "V"), ("COD", 40.1, "劣V"),
    ("NH3-N", 0.15, "I"), ("NH3-N", 1.0, "III"), ("NH3-N", 2.0, "V"),
    ("pH", 6.0, "I"), ("pH", 9.0, "I"), ("pH", 5.99, "劣V"),
    ("Hg", 0.00005, "I"), ("Hg", 0.0001, "III"), ("Cu", 0.011, "II"),
    ("FC", 200, "I"), ("FC", 40001, "劣V"),
])
def test_boundaries(name: str, value: float, label: str) -> None:
    assert classify_parameter(name, value).label == label


def test_tp_lake_versus_river_and_water_temperature() -> None:
    assert classify_parameter("TP", 0.05, waterbody="lake").label == "III"
    assert classify_parameter("TP", 0.05, waterbody="river").label == "II"
    assert classify_parameter("TP_lake", 0.05).label == "III"  # the name fixes the column
    assert classify_parameter("TP_river", 0.05, waterbody="lake").label == "II"
    wt = classify_parameter("WT", 25.0)
    assert wt.water_class is None and wt.label == "" and "not graded" in wt.note
    r = classify_sample({"WT": 25.0, "DO": 8.0})
    assert r.label == "I" and r.worst == ("DO",)


def test_lake_sample_with_tn_counted_when_asked() -> None:
    vals = {"DO": 8, "TP": 0.02, "TN": 1.2}
    assert classify_sample(vals, waterbody="lake").label == "II"  # TP lake 0.02 -> II; TN informative
    r = classify_sample(vals, waterbody="lake", exclude=["WT", "FC"])
    assert r.label == "IV" and r.worst == ("TN",)
    assert DEFAULT_EXCLUDED == {"WT", "TN", "FC"}


def test_target_compliance_and_exceedances() -> None:
    r = classify_sample({"DO": 4.0, "COD": 25, "NH3-N": 0.8, "Hg": 0.0005, "pH": 7}, target_class="IV")
    assert r.label == "IV" and r.meets_target is True and r.target_exceedances == ()
    # class-III exceedances: Hg first (heavy metals first), DO without a multiple
    assert [e.parameter for e in r.exceedances] == ["Hg", "COD", "DO"]
    assert [e.multiple for e in r.exceedances] == [4.0, 0.25, None]
    assert r.main_pollutants == ("Hg", "COD", "DO")
    r2 = classify_sample({"DO": 4.0}, target_class="Ⅲ")
    assert r2.meets_target is False and r2.target_class is WaterClass.III
    assert r2.target_exceedances[0].parameter == "DO" and r2.target_exceedances[0].multiple is None
    with pytest.raises(InputError):
        classify_sample({"DO": 4.0}, target_class="劣V")
    assert exceedance_multiple("COD", 18) is None  # within class III
    assert exceedance_multiple("DO", 1.0) is None  # no multiple for DO (2011 method as quoted)


def test_class_names_and_parsing() -> None:
    assert [c.label for c in WaterClass] == ["I", "II", "III", "IV", "V", "劣V"]
    assert WaterClass.parse("劣Ⅴ") is WaterClass.WORSE_THAN_V
    assert WaterClass.parse("III类") is WaterClass.III
    assert WaterClass.parse("4") is WaterClass.IV
    assert WaterClass.WORSE_THAN_V.qualitative == "重度污染"
    with pytest.raises(InputError):
        WaterClass.parse("VI")


def test_bad_input_names_the_field() -> None:
    with pytest.raises(InputError) as e:
        classify_sample({"COD": -1})
    assert e.value.field == "COD"
    with pytest.raises(InputError) as e:
        classify_sample({"NH3N": "abc"})
    assert e.value.field == "NH3N"
    with pytest.raises(InputError) as e:
        classify_sample({"NH3N": 1.0, "w21003": 1.1})
    assert e.value.field == "w21003"
    with pytest.raises(InputError):
        parse_waterbody("ocean")
    with pytest.raises(InputError):
        classify_sample({"DO": 5}, on=date(2001, 1, 1))
    assert classify_sample({"DO": 5}, on=date(2002, 6, 1)).label == "III"


def test_missing_values_are_not_assessed() -> None:
    r = classify_sample({"DO": None, "COD": float("nan"), "NH3-N": ""})
    assert r.water_class is None and r.parameters == () and r.label == ""


def test_period_mean_is_exact() -> None:
    # mean NH3-N = (0.9 + 1.1 + 1.0) / 3 = 1.0 exactly -> class III, not IV by rounding noise
    samples = [{"NH3-N": 0.9, "DO": 6}, {"NH3-N": 1.1, "DO": None}, {"w21003": 1.0, "DO": 4}]
    r = classify_period(samples)
    assert r.n_samples == 3
    assert r.parameter("NH3-N").value == 1.0 and r.parameter("NH3-N").label == "III"
    assert r.parameter("DO").value == 5.0 and r.parameter("DO").label == "III"
    assert period_means(samples) == {"NH3-N": 1.0, "DO": 5.0}
    # 0.1 + 0.2 + 0.3 averaged in floats is 0.20000000000000004 > 0.2 (TP class III)
    assert classify_period([{"TP": 0.1}, {"TP": 0.2}, {"TP": 0.3}]).label == "III"
    with pytest.raises(InputError):
        classify_period([])


def test_water_class_array_matches_scalar() -> None:
    vals = np.array([0.1, 0.15, 0.5, 0.51, 1.0, 1.5, 2.0, 2.01, np.nan])
    assert water_class_array("NH3-N", vals).tolist() == [1, 1, 2, 3, 3, 4, 5, 6, 0]
    assert water_class_array("pH", [5.9, 7, 9.1]).tolist() == [6, 1, 6]
    assert water_class_array("WT", [20.0]).tolist() == [0]


_UPPER = [k for k, it in gb3838_items().items() if it.direction == "max"]


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(_UPPER), a=st.floats(0, 50000, allow_nan=False), b=st.floats(0, 50000, allow_nan=False),
       lake=st.booleans())
def test_class_monotone_in_concentration(name: str, a: float, b: float, lake: bool) -> None:
    lo, hi = min(a, b), max(a, b)
    wb = "lake" if lake else "river"
    assert classify_parameter(name, lo, waterbody=wb).water_class <= classify_parameter(name, hi, waterbody=wb).water_class
    assert water_class_array(name, [lo, hi], waterbody=wb).tolist() == [
        int(classify_parameter(name, lo, waterbody=wb).water_class), int(classify_parameter(name, hi, waterbody=wb).water_class)]


@settings(max_examples=300, deadline=None)
@given(a=st.floats(0, 20, allow_nan=False), b=st.floats(0, 20, allow_nan=False))
def test_do_class_reversed(a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    assert classify_parameter("DO", lo).water_class >= classify_parameter("DO", hi).water_class
    assert water_class_array("DO", [lo, hi]).tolist() == [
        int(classify_parameter("DO", lo).water_class), int(classify_parameter("DO", hi).water_class)]


@settings(max_examples=200, deadline=None)
@given(vals=st.dictionaries(st.sampled_from(["DO", "COD", "NH3-N", "TP", "Hg", "pH", "FC", "TN"]),
                            st.decimals(0, 14, places=4).map(str), min_size=1))
def test_sample_class_is_worst_counted_item(vals: dict[str, str]) -> None:
    r = classify_sample(vals)
    counted = [p.water_class for p in r.parameters if p.in_section_class]
    assert r.water_class == (max(counted) if counted else None)
    # a period of identical samples has the sample's class
    assert classify_period([vals, vals]).water_class == r.water_class
    for e in r.exceedances:
        assert e.water_class > WaterClass.III
        if e.multiple is not None:
            assert Fraction(e.multiple).limit_denominator(10**9) > 0
