"""The compiled-build fast paths give exactly what the general code gives.

`decode` scans plain ASCII segments byte by byte when the codec is compiled with mypyc (see
packet.py), and the CRC functions pick a different loop compiled; each fast path is checked here
against the general one, item for item and relaxation for relaxation. The functions are plain
Python too, so these tests run (slower) whether or not the package is compiled.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tianlan.hj212 import _native, crc, packet
from tianlan.hj212.codes import FACTOR_SUFFIXES

_CP_TOKENS = st.sampled_from(
    [
        ";",
        ",",
        "=",
        "-",
        "-",
        "DataTime",
        "datatime",
        "QN",
        "a34004",
        "a01001",
        "w01018",
        "LA",
        "B01",
        *sorted(FACTOR_SUFFIXES),
        "td",
        "Xyz",
        "20260101000000",
        "12.5",
        "-3.25",
        "N",
        "0",
        "//",
        "/",
        " ",
        "\t",
        "=//log;x//",
        "&",
        "Ｃ",
    ]
)
_HEADER_TOKENS = st.sampled_from(
    [
        "QN",
        "ST",
        "CN",
        "PW",
        "MN",
        "Flag",
        "flag",
        "PNUM",
        "PNO",
        "RF",
        "=",
        ";",
        ";",
        ",",
        " ",
        "20260101000000001",
        "22",
        "2011",
        "123456",
        "5",
        "x",
    ]
)


def _ordered(cp: packet.CpData) -> tuple[object, ...]:
    """Everything of `cp`, dict order included."""
    return cp.data_time, list(cp.fields.items()), [(code, list(items.items())) for code, items in cp.factors.items()]


def _cp_both(body: str) -> tuple[object, object] | None:
    segment = body.encode("utf-8")
    if len(segment) != len(body):
        return None  # the scanner runs on ASCII segments only
    fast_relax: list[str] = []
    fast = packet._scan_cp(segment, body, 0, len(body), fast_relax)
    if fast is None:
        return None
    general_relax: list[str] = []
    general = packet._parse_cp(body, general_relax)
    return (_ordered(fast), fast_relax), (_ordered(general), general_relax)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_CP_TOKENS, max_size=40).map("".join))
def test_cp_scanner_equals_the_general_parser(body: str) -> None:
    both = _cp_both(body)
    if both is not None:
        fast, general = both
        assert fast == general


@pytest.mark.parametrize(
    "body",
    [
        "DataTime=20190101000000;a34004-Min=78.7,a34004-Avg=86.1,a34004-Max=96.3,a34004-Flag=N",
        "DataTime=20190101000000;a34004-Avg=1;a34004-Avg=2;a34004-Rtd=3,a34002-Rtd=4;a34004-Flag=N;",
        "DataTime=20190101000000;;a-b-Rtd=1;-Rtd=2;x-=3;LA-td=50.1;a34004-Rtd;=5;Avg=1;DataTime=2",
        "datatime=20190101000000123;SB1-RS=1;SB1-RT=2.5;QnRtn=1;ExeRtn=2;PolId=w01018;i12003-Info=0",
        "a34004-Rtd=1=2,a34004-Flag=N,a34004-SampleTime=20190101000000,a34004-ZsRtd=5,a34004-Ala=1",
        "DataTime=2019;a34004-Rtd=1;a34002-Rtd=2;a34004-Min=0",
    ],
)
def test_cp_scanner_on_chosen_data_areas(body: str) -> None:
    both = _cp_both(body)
    assert both is not None
    fast, general = both
    assert fast == general


@pytest.mark.parametrize("body", ["", "a34004-Rtd=1 ", "i11001-Info=//x//", "a-Rtd=1;\tb-Rtd=2", "a=1/2;b=//"])
def test_cp_scanner_leaves_unusual_data_areas_to_the_general_parser(body: str) -> None:
    relax: list[str] = []
    assert packet._scan_cp(body.encode(), body, 0, len(body), relax) is None and relax == []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_HEADER_TOKENS, max_size=30).map("".join))
def test_header_scanner_equals_the_general_parser(text: str) -> None:
    fast: tuple[dict[str, str], dict[str, str], list[str]] = ({}, {}, [])
    if not packet._scan_header(text.encode(), text, len(text), *fast):
        assert fast == ({}, {}, [])
        return
    general: tuple[dict[str, str], dict[str, str], list[str]] = ({}, {}, [])
    packet._parse_header(text, *general)
    assert fast == general
    assert list(fast[0]) == list(general[0]) and list(fast[1]) == list(general[1])  # same order too


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2100))
def test_both_crc_loops_agree(data: bytes) -> None:
    assert crc._crc_accumulate(data) == crc._crc_fold(data) == crc.hj212_crc(data)
    assert crc._modbus_bytes(data) == crc.modbus_crc(data)


def test_decode_scans_only_when_compiled() -> None:
    assert packet.COMPILED == crc.COMPILED == _native.compiled(crc)


def test_written_out_initialisers_keep_the_dataclass_behaviour() -> None:
    """RawFrame, FramingError, CpData and Packet spell out __init__ (for mypyc); nothing else changes."""
    import dataclasses

    from tianlan.hj212 import CpData, FramingError, Packet, RawFrame

    raw = RawFrame(b"##", b"seg", b"ABCD")
    assert raw.relaxations == () and raw == RawFrame(b"##", b"seg", b"ABCD", ())
    assert hash(raw) == hash(RawFrame(b"##", b"seg", b"ABCD"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        raw.data = b"x"  # type: ignore[misc]
    assert dataclasses.replace(raw, relaxations=("a",)).relaxations == ("a",)
    error = FramingError("garbage", b"\x00")
    assert error.detail == "" and repr(error) == "FramingError(reason='garbage', data=b'\\x00', detail='')"
    with pytest.raises(dataclasses.FrozenInstanceError):
        error.reason = "x"  # type: ignore[misc]
    first, second = Packet(), Packet()
    assert first == second and first.cp is not second.cp and first.header is not second.header
    assert first.cp == CpData() and CpData().fields is not CpData().fields
    assert Packet(cn="2011", flag=5).wants_ack and dataclasses.replace(first, cn="9014").cn == "9014"
    assert [f.name for f in dataclasses.fields(Packet)][-3:] == ["dialect", "crc_variant", "relaxations"]
