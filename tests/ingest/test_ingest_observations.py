"""Observation rows from decoded packets, and the decimal parsing behind them."""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tianlan.hj212 import build_frame, decode
from tianlan.ingest import observations
from tianlan.ingest.observations import ObservationError, _number, _plain_decimal, packet_observations
from tianlan.model.timeutil import hj212_time_to_utc

MN = "TEST0000000000000000001"


def packet(cp: str, cn: str = "2061", flag: int = 5, st_code: str = "22") -> object:
    return decode(build_frame(f"QN=20190101000000000;ST={st_code};CN={cn};PW=123456;MN={MN};Flag={flag};CP=&&{cp}&&"))


def test_hour_rows_take_avg_and_their_own_columns() -> None:
    p = packet(
        "DataTime=20190101080000;a34004-Min=78.7,a34004-Avg=86.1,a34004-Max=96.3,a34004-Flag=N;"
        "a01001-Avg=-5.1,a01001-Cou=12,a01001-ZsAvg=3.5,a01001-Flag=T"
    )
    rows = packet_observations(p)
    t = hj212_time_to_utc("20190101080000")
    assert rows == [
        (t, "a34004", "hour", 86.1, "N", 78.7, 96.3, None, None, None),
        (t, "a01001", "hour", -5.1, "T", None, None, 12.0, 3.5, None),
    ]


def test_rtd_rows_use_zsrtd_and_extra_suffixes_go_to_json() -> None:
    p = packet("DataTime=20190101080000;a34004-Rtd=33,a34004-ZsRtd=40,a34004-EFlag=A,a34004-SampleTime=20190101075900", cn="2011")
    ((_, param, kind, value, flag, lo, hi, cou, zs, extra),) = packet_observations(p)
    assert (param, kind, value, flag, zs) == ("a34004", "rtd", 33.0, None, 40.0)
    assert orjson.loads(extra) == {"EFlag": "A", "SampleTime": "20190101075900"}


def test_non_numeric_values_are_kept_as_text() -> None:
    p = packet("DataTime=20190101080000;a34004-Avg=n/a,a34004-Min=nan,a34004-Max=inf")
    ((*_, value, flag, lo, hi, cou, zs, extra),) = packet_observations(p)[0:1]
    assert value is None and lo is None and hi is None
    assert orjson.loads(extra) == {"text": "n/a"}


def test_2005_codes_are_normalised_and_the_sent_code_kept() -> None:
    p = packet("DataTime=20190101080000;B01-Rtd=36.91", cn="2011", flag=0, st_code="32")
    ((_, param, *_rest, extra),) = packet_observations(p)
    assert param != "B01" and orjson.loads(extra) == {"code": "B01"}


def test_packets_without_data_give_no_rows_and_bad_times_raise() -> None:
    assert packet_observations(packet("QnRtn=1", cn="9011")) == []
    assert packet_observations(packet("DataTime=20190101080000")) == []
    with pytest.raises(ObservationError) as caught:
        packet_observations(packet("a34004-Avg=1"))
    assert caught.value.field == "DataTime"
    with pytest.raises(ObservationError):
        packet_observations(packet("DataTime=20191301000000;a34004-Avg=1"))


@pytest.mark.parametrize(
    "text",
    [
        "78.7",
        "-5.8",
        "+3.25",
        "0",
        "-0",
        "-0.0",
        "1.",
        ".5",
        "0.000001",
        "101.64",
        "123456789012345",
        "1234567890123456",
        "99999999999999.9",
        "1e5",
        " 1",
        "1 ",
        "1_0",
        "nan",
        "-inf",
        "Infinity",
        "",
        "-",
        ".",
        "+",
        "1.2.3",
        "--1",
        "٣",
        "0x10",
        "12345678901234567890",
    ],
)
def test_number_is_float_without_nan_and_inf(text: str) -> None:
    try:
        expected: float | None = float(text)
    except ValueError:
        expected = None
    if expected is not None and not math.isfinite(expected):
        expected = None
    got = _number(text)
    assert got == expected and (got is None or math.copysign(1, got) == math.copysign(1, expected))  # -0.0 too


@given(
    st.decimals(allow_nan=False, allow_infinity=False).map(str)
    | st.floats(allow_nan=False, allow_infinity=False).map(repr)
    | st.from_regex(r"[-+]?[0-9]{0,12}\.?[0-9]{0,8}", fullmatch=True)
)
def test_plain_decimal_equals_float(text: str) -> None:
    plain = _plain_decimal(text)
    if plain == plain:
        assert plain == float(text) and math.copysign(1, plain) == math.copysign(1, float(text))
    assert _number(text) == (None if not _finite(text) else float(text))


def _finite(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def test_number_uses_the_fast_path_only_when_compiled() -> None:
    assert observations.COMPILED == (not observations.__file__.endswith(".py"))
    assert _number(None) is None


def _reference_rows(p) -> list:  # type: ignore[no-untyped-def]
    """The rows as the module docstring defines them, one lookup per column (the straightforward
    form `packet_observations` computes in one pass over each factor's items)."""
    kind, value_suffixes = observations.DATA_CNS[p.cn]
    t = hj212_time_to_utc(p.cp.data_time)
    zs = "ZsRtd" if kind == "rtd" else "ZsAvg"
    rows = []
    for code, items in p.cp.factors.items():
        value_text = next((items[s] for s in value_suffixes if s in items), None)
        value = _number(value_text)
        extra = {k: v for k, v in items.items() if k not in observations._COLUMN_SUFFIXES}
        if value_text is not None and value is None:
            extra["text"] = value_text
        param = observations.normalise_code(code, p.st) if p.dialect == "2005" else code
        if param != code:
            extra["code"] = code
        rows.append((t, param, kind, value, items.get("Flag"), _number(items.get("Min")), _number(items.get("Max")),
                     _number(items.get("Cou")), _number(items.get(zs)), orjson.dumps(extra).decode() if extra else None))
    return rows


_SUFFIXES = ["Rtd", "Avg", "Min", "Max", "Cou", "Flag", "ZsRtd", "ZsAvg", "Data", "DayData", "RS", "RT", "Info",
             "EFlag", "SampleTime", "ZsMin", "SN", "td"]
_TEXTS = (st.sampled_from(["12.5", "-0.3", "N", "D", "n/a", "1e5", "//abc//", ""])
          | st.from_regex(r"[0-9]{1,4}\.[0-9]{1,2}", fullmatch=True))


@given(
    cn=st.sampled_from(sorted(observations.DATA_CNS)),
    flag=st.sampled_from([0, 5]),
    factors=st.lists(
        st.tuples(st.sampled_from(["a34004", "a21026", "B01", "w01018", "SB1"]),
                  st.dictionaries(st.sampled_from(_SUFFIXES), _TEXTS, min_size=1, max_size=8)),
        min_size=1, max_size=4, unique_by=lambda f: f[0]),
)
def test_rows_equal_the_one_lookup_per_column_form(cn: str, flag: int, factors: list) -> None:  # type: ignore[type-arg]
    p = decode(build_frame(f"QN=20190101000000000;ST=32;CN={cn};PW=123456;MN={MN};Flag={flag};CP=&&DataTime=20190101080000;"
                           + ";".join(",".join(f"{code}-{s}={v}" for s, v in items.items()) for code, items in factors)
                           + "&&"))
    assert packet_observations(p) == _reference_rows(p)
