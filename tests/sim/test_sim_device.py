"""Device frames: decode with the codec, right CRC variant, header, DataTime and CP contents."""

from __future__ import annotations

import itertools

import pytest

from tianlan.hj212 import CrcVariant, Dialect, decode
from tianlan.model.timeutil import hj212_time_to_utc, parse_user_time
from tianlan.sim import device as device_mod
from tianlan.sim.device import SimDevice, Upload, cn_for_step, period_start

T = parse_user_time("2019-07-01T14:23:17")  # Beijing time


@pytest.mark.parametrize(
    ("kind", "crc", "cn"),
    list(itertools.product(["air", "water", "wastewater", "source"], list(CrcVariant),
                           ["2011", "2051", "2061", "2031"])),
)
def test_frames_decode_with_their_crc_variant(kind: str, crc: CrcVariant, cn: str) -> None:
    d = SimDevice("010000A8900016F000169DC0", "123456", kind, crc=crc, seed=1)
    (up,) = d.uploads(cn, T)
    p = decode(up.frame, crc_variants=[crc])
    assert p.crc_variant is crc
    assert up.frame.endswith(b"\r\n") and int(up.frame[2:6]) == len(up.frame) - 12
    assert (p.qn, p.st, p.cn, p.pw, p.mn, p.flag) == (up.qn, d.profile.st, cn, "123456", d.mn, 5)
    assert p.dialect is Dialect.HJ212_2017 and p.wants_ack and not p.relaxations
    assert set(p.cp.factors) == {f.code for f in d.profile.factors}
    suffixes = {"Rtd", "Flag"} if cn == "2011" else {"Min", "Avg", "Max", "Flag"}
    for code, items in p.cp.factors.items():
        assert suffixes <= set(items), code
        assert items["Flag"] == "N"
        float(items["Rtd" if cn == "2011" else "Avg"])


def test_modbus_le_is_really_modbus_printed_low_byte_first() -> None:
    from tianlan.hj212 import modbus_crc

    (up,) = SimDevice("M1", "123456", "air", crc=CrcVariant.MODBUS_LE).uploads("2011", T)
    segment, field = up.frame[6:-6], up.frame[-6:-2].decode()
    value = modbus_crc(segment)
    assert field == f"{value & 0xFF:02X}{value >> 8:02X}"


def test_datatime_is_the_period_start_in_beijing_time() -> None:
    d = SimDevice("M1", "123456", "air", min_interval=10)
    expected = {"2011": "20190701142317", "2051": "20190701142000", "2061": "20190701140000",
                "2031": "20190701000000"}
    for cn, text in expected.items():
        (up,) = d.uploads(cn, T)
        assert up.data_time == text
        assert decode(up.frame).cp.data_time == text
    # Day boundaries are Beijing midnights: 2019-07-01 00:30 Beijing is still 2019-07-01.
    assert period_start(parse_user_time("2019-07-01T00:30:00"), "2031") == hj212_time_to_utc("20190701000000")


def test_qns_are_unique_even_when_built_in_one_millisecond() -> None:
    d = SimDevice("M1", "123456", "air", clock=lambda: 1_600_000_000.0)
    ups = d.series("2011", T, 1, 500)
    qns = [u.qn for u in ups]
    assert len(set(qns)) == 500
    assert all(q is not None and len(q) == 17 and q.isdigit() for q in qns)
    assert qns[0] == "20200913202640000" and qns[1] == "20200913202640001"


def test_source_frames_carry_converted_values_and_cou() -> None:
    d = SimDevice("M1", "123456", "source", seed=2)
    p = decode(d.hour(T)[0].frame)
    so2 = p.cp.factors["a21026"]
    o2 = float(p.cp.factors["a19001"]["Avg"])
    assert float(so2["ZsAvg"]) == pytest.approx(float(so2["Avg"]) * 15 / (21 - o2), rel=0.05)
    flow = p.cp.factors["a00000"]
    assert float(flow["Cou"]) == pytest.approx(float(flow["Avg"]) * 3600, rel=1e-3)
    rt = decode(d.realtime(T)[0].frame).cp.factors["a34013"]
    assert {"Rtd", "ZsRtd", "Flag"} == set(rt)


def test_2005_devices_use_2005_codes_and_flag() -> None:
    d = SimDevice("88888880000001", "123456", "wastewater", protocol="2005", seed=3)
    (up,) = d.hour(T)
    p = decode(up.frame)
    assert p.flag == 1 and p.dialect is Dialect.HJ212_2005 and p.qn == up.qn and p.wants_ack
    assert set(p.cp.factors) == {"B01", "011", "060", "101", "065", "001"}
    gas = decode(SimDevice("M2", "123456", "source", protocol="2005").realtime(T)[0].frame)
    assert {"02", "03", "01", "S01", "B02"} <= set(gas.cp.factors)
    silent = SimDevice("M3", "123456", "wastewater", protocol="2005", flag_2005=None)
    (up,) = silent.realtime(T)
    assert b";Flag=" not in up.frame and not up.wants_ack and decode(up.frame).flag is None


def test_parameters_limit_the_factors_sent() -> None:
    d = SimDevice("M1", "123456", "air", codes=["a34004", "a34002"])
    assert set(decode(d.hour(T)[0].frame).cp.factors) == {"a34004", "a34002"}
    with pytest.raises(ValueError, match="parameters"):
        SimDevice("M1", "123456", "air", codes=["w01001"])


def test_long_records_are_split_into_subpackets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device_mod, "MAX_SEGMENT", 400)
    d = SimDevice("M1", "123456", "source", seed=4)
    ups = d.hour(T)
    assert len(ups) > 1
    packets = [decode(u.frame) for u in ups]
    assert [(p.pnum, p.pno) for p in packets] == [(len(ups), i + 1) for i in range(len(ups))]
    assert all(p.flag == 7 and p.cp.data_time == "20190701140000" for p in packets)
    assert all(len(u.frame) - 12 <= 400 for u in ups)
    assert len({u.qn for u in ups}) == len(ups)
    codes = [c for p in packets for c in p.cp.factors]
    assert sorted(codes) == sorted(f.code for f in d.profile.factors)


def test_upload_from_frame_reads_the_header() -> None:
    (up,) = SimDevice("M9", "123456", "air").minute(T)
    again = Upload.from_frame(up.frame)
    assert again == up
    legacy = Upload.from_frame(b"##0101ST=32;CN=2011;PW=1;MN=X;CP=&&DataTime=20200101000000&&0000\r\n")
    assert legacy.qn is None and not legacy.wants_ack and legacy.data_time == "20200101000000"


def test_cn_for_step() -> None:
    assert [cn_for_step(s) for s in (1, 30, 60, 600, 3600, 7200, 86400)] == [
        "2011", "2011", "2051", "2051", "2061", "2061", "2031"]


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="protocol"):
        SimDevice("M", "1", protocol="2025")
    with pytest.raises(ValueError, match="min_interval"):
        SimDevice("M", "1", min_interval=7)
