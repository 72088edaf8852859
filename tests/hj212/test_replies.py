"""Replies: the A.1 answer vectors byte for byte, 2005 forms, what to answer, platform requests."""

from __future__ import annotations

from datetime import datetime

import pytest

from tianlan.hj212 import (
    CrcVariant,
    Dialect,
    Packet,
    build_frame,
    data_ack,
    decode,
    exec_result,
    is_upload,
    new_qn,
    notice_ack,
    replies_for,
    request_ack,
    time_get_request,
    time_set_request,
)
from tianlan.hj212.replies import command_request

MN_STD = "010000A8900016F000169DC0"


def standard_request() -> Packet:
    """The request the standard's Appendix C answers (QN …223, PW 123456, Flag=5)."""
    return decode(build_frame(f"QN=20160801085857223;ST=32;CN=1062;PW=123456;MN={MN_STD};Flag=5;CP=&&RtdInterval=30&&"))


def standard_upload(flag: int = 5) -> Packet:
    return decode(
        build_frame(
            f"QN=20160801085000001;ST=32;CN=2051;PW=123456;MN={MN_STD};Flag={flag};"
            "CP=&&DataTime=20160801084000;w01018-Avg=50.0,w01018-Flag=N&&"
        )
    )


def test_a1_vectors_byte_for_byte(appendix: dict[str, bytes]) -> None:
    request = standard_request()
    assert data_ack(standard_upload()) == appendix["A1.9014"]
    assert request_ack(request) == appendix["A1.9011"]
    assert exec_result(request) == appendix["A1.9012"]
    assert notice_ack(request) == appendix["A1.9013"]


def test_answer_codes_are_parameters() -> None:
    request = standard_request()
    assert b"CP=&&QnRtn=3&&" in request_ack(request, qn_rtn=3)
    assert b"CP=&&ExeRtn=100&&" in exec_result(request, exe_rtn=100)
    assert decode(request_ack(request, 2)).crc_ok


def test_2025_answers_keep_the_version_bits() -> None:
    upload = decode(build_frame(f"QN=20260101000000001;ST=22;CN=2011;PW=1;MN={MN_STD};Flag=9;CP=&&&&"))
    ack = decode(data_ack(upload))
    assert (ack.flag, ack.dialect, ack.qn, ack.cn, ack.st) == (8, Dialect.HJ212_2025, "20260101000000001", "9014", "91")


def test_answers_clear_the_split_bit() -> None:
    part = decode(build_frame(f"QN=20160801085000002;ST=32;CN=2061;PW=1;MN={MN_STD};Flag=7;PNUM=2;PNO=1;CP=&&&&"))
    ack = decode(data_ack(part))
    assert ack.flag == 4 and ack.qn == "20160801085000002" and ack.pnum is None


def test_2005_data_ack_form() -> None:
    upload = decode(build_frame("QN=20040516010101001;ST=32;CN=2051;PW=123456;MN=88888880000001;Flag=1;CP=&&&&"))
    assert upload.dialect is Dialect.HJ212_2005
    assert data_ack(upload) == build_frame("ST=91;CN=9014;CP=&&QN=20040516010101001;CN=2051&&")


def test_2005_data_ack_for_a_subpacket_and_without_qn(appendix: dict[str, bytes]) -> None:
    part = decode(build_frame("QN=20040516010101001;ST=32;CN=2051;PW=1;MN=88888880000001;Flag=3;PNUM=1;PNO=1;CP=&&&&"))
    assert data_ack(part) == build_frame("ST=91;CN=9014;CP=&&QN=20040516010101001;CN=2051;PNO=1;PNUM=1&&")
    no_qn = decode(appendix["10"])
    answer = decode(data_ack(no_qn))
    assert (answer.cn, answer.st, answer.cp.fields) == ("9014", "91", {"CN": "2011"})


def test_2005_request_answers_put_the_qn_inside_cp(appendix: dict[str, bytes]) -> None:
    request = decode(appendix["7"])  # 2005 minute-data request, Flag=3
    assert request_ack(request) == build_frame(
        "ST=91;CN=9011;PW=123456;MN=88888880000001;Flag=0;CP=&&QN=20040516010101001;QnRtn=1&&"
    )
    assert exec_result(request) == build_frame("ST=91;CN=9012;PW=123456;MN=88888880000001;CP=&&QN=20040516010101001;ExeRtn=1&&")
    assert notice_ack(request) == build_frame("ST=91;CN=9013;PW=123456;MN=88888880000001;CP=&&QN=20040516010101001&&")
    assert decode(request_ack(request)).answered_qn == "20040516010101001"


def test_answers_use_the_devices_crc_variant(appendix: dict[str, bytes]) -> None:
    modbus_device = decode(appendix["14"])
    ack = decode(data_ack(modbus_device))
    assert ack.crc_variant is CrcVariant.MODBUS_LE
    assert decode(data_ack(modbus_device, crc=CrcVariant.STANDARD)).crc_variant is CrcVariant.STANDARD


# -- what to answer --------------------------------------------------------------------------------


def test_upload_with_ack_bit_gets_a_9014() -> None:
    upload = standard_upload(5)
    assert replies_for(upload) == [data_ack(upload)]


def test_upload_without_ack_bit_gets_nothing(appendix: dict[str, bytes]) -> None:
    assert replies_for(standard_upload(4)) == []
    assert replies_for(decode(appendix["1"])) == []  # 2005 upload without Flag
    assert replies_for(decode(appendix["4"])) == []  # Flag=4


def test_bad_crc_gets_nothing() -> None:
    frame = build_frame(f"QN=20160801085000001;ST=32;CN=2011;PW=1;MN={MN_STD};Flag=5;CP=&&&&")
    upload = decode(frame[:-6] + b"0000\r\n")
    assert not upload.crc_ok and replies_for(upload) == []


@pytest.mark.parametrize("vector", ["A1.9011", "A1.9012", "A1.9013", "A1.9014"])
def test_answers_get_nothing(appendix: dict[str, bytes], vector: str) -> None:
    answer = decode(appendix[vector])
    answer.flag = 5  # even when an answer (wrongly) asks for one
    assert replies_for(answer) == []


@pytest.mark.parametrize("cn", ["1013", "9015"])
def test_notices_get_a_9013(cn: str) -> None:
    notice = decode(build_frame(f"QN=20160801085857223;ST=32;CN={cn};PW=123456;MN={MN_STD};Flag=5;CP=&&&&"))
    (answer,) = replies_for(notice)
    decoded = decode(answer)
    assert (decoded.cn, decoded.qn, decoded.flag) == ("9013", "20160801085857223", 4)


def test_requests_from_a_device_get_nothing() -> None:
    assert replies_for(standard_request()) == []


def test_is_upload() -> None:
    for cn in ("2011", "2051", "2061", "2031", "2041", "2021", "2081", "3020", "1011", "1061", "3019"):
        assert is_upload(cn), cn
    for other in ("9014", "1012", "1062", "2012", "3011", "1013", None):
        assert not is_upload(other), other


# -- platform requests -----------------------------------------------------------------------------


def test_new_qn_has_17_digits_with_milliseconds() -> None:
    assert new_qn(datetime(2016, 8, 1, 8, 58, 57, 223999)) == "20160801085857223"
    assert len(new_qn(datetime.now())) == 17


def test_time_get_request_decodes_back() -> None:
    frame = time_get_request(mn=MN_STD, pw="123456", qn="20160801085857223", pol_id="w01018")
    p = decode(frame)
    assert (p.qn, p.st, p.cn, p.pw, p.mn, p.flag) == ("20160801085857223", "22", "1011", "123456", MN_STD, 5)
    assert p.cp.fields == {"PolId": "w01018"} and p.crc_ok and p.relaxations == () and p.wants_ack
    assert decode(time_get_request(mn="M", pw="1", st="32")).cp.fields == {}


@pytest.mark.parametrize(("dialect", "flag"), [(2005, 1), ("2017", 5), (Dialect.HJ212_2025, 9)])
def test_request_flag_per_dialect(dialect: Dialect | str | int, flag: int) -> None:
    p = decode(time_get_request(mn="M", pw="1", qn="20160801085857223", dialect=dialect))
    assert p.flag == flag and p.wants_ack


def test_time_set_request_decodes_back() -> None:
    frame = time_set_request(mn=MN_STD, pw="123456", system_time=datetime(2016, 8, 1, 8, 58, 57), qn="20160801085857223", st="32")
    assert frame == build_frame(
        f"QN=20160801085857223;ST=32;CN=1012;PW=123456;MN={MN_STD};Flag=5;CP=&&SystemTime=20160801085857&&"
    )
    p = decode(frame)
    assert p.cp.fields == {"SystemTime": "20160801085857"} and p.crc_ok
    with_pol = decode(time_set_request(mn="M", pw="1", system_time=datetime(2024, 1, 2, 3, 4, 5), pol_id="a21026"))
    assert with_pol.cp.fields == {"PolId": "a21026", "SystemTime": "20240102030405"}


def test_command_request_with_modbus_crc() -> None:
    frame = command_request("1062", mn="M", pw="1", cp={"RtdInterval": "30"}, crc=CrcVariant.MODBUS_LE)
    p = decode(frame)
    assert p.crc_variant is CrcVariant.MODBUS_LE and p.cp.fields == {"RtdInterval": "30"}
