"""The verdict on a received frame (process_frame) and the item it produces."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from tianlan.hj212 import CrcVariant, FrameReader, FramingError, RawFrame, build_frame, decode
from tianlan.ingest.item import ACCEPTED, QUARANTINED, IngestItem
from tianlan.ingest.processor import DeviceAuth, process_frame, process_framing_error

MN = "TEST0000000000000000001"
AUTH = DeviceAuth(7, MN, "123456", frozenset({"standard"}))


def frame(
    cp: str = "DataTime=20190101080000;a34004-Avg=35,a34004-Flag=N",
    *,
    pw: str = "123456",
    mn: str = MN,
    flag: int = 5,
    crc: CrcVariant = CrcVariant.STANDARD,
    header: str | None = None,
) -> RawFrame:
    head = header if header is not None else f"QN=20190101000000001;ST=22;CN=2061;PW={pw};MN={mn};Flag={flag};"
    (raw,) = FrameReader().feed(build_frame(f"{head}CP=&&{cp}&&", crc))
    assert isinstance(raw, RawFrame)
    return raw


def verdict(raw: RawFrame, auth: DeviceAuth | None = AUTH) -> IngestItem:
    return process_frame(
        raw, lambda mn: auth if auth is not None and mn == auth.mn else None, received_utc=1.5, peer="10.0.0.1:5000"
    )


def test_accepted_upload_has_rows_and_a_9014_answer() -> None:
    raw = frame()
    item = verdict(raw)
    assert (item.status, item.reason, item.device_id, item.mn, item.cn, item.qn) == (
        ACCEPTED,
        None,
        7,
        MN,
        "2061",
        "20190101000000001",
    )
    assert (item.crc_variant, item.relaxations, item.channel, item.peer, item.received_utc) == (
        "standard",
        None,
        "tcp",
        "10.0.0.1:5000",
        1.5,
    )
    assert item.data == raw.data and item.sha256 == hashlib.sha256(raw.data).digest()
    assert [row[1:4] for row in item.obs] == [("a34004", "hour", 35.0)]
    (answer,) = item.replies
    ack = decode(answer)
    assert (ack.cn, ack.qn, ack.mn, ack.pw, ack.flag) == ("9014", "20190101000000001", MN, "123456", 4)


def test_no_answer_without_the_a_bit() -> None:
    item = verdict(frame(flag=4))
    assert item.status == ACCEPTED and item.replies == []


@pytest.mark.parametrize(
    ("raw", "auth", "reason"),
    [
        (frame(mn="OTHER"), AUTH, "unknown-mn"),
        (frame(header="QN=20190101000000001;ST=22;CN=2061;PW=123456;Flag=5;"), AUTH, "no-mn"),
        (frame(pw="654321"), AUTH, "wrong-password"),
        (frame(crc=CrcVariant.MODBUS_LE), AUTH, "crc-variant"),
        (frame(cp="DataTime=20191301000000;a34004-Avg=35"), AUTH, "bad-datatime"),
        (frame(cp="a34004-Avg=35"), AUTH, "bad-datatime"),
        (frame(), DeviceAuth(7, MN, "123456", frozenset({"standard"}), active=False), "inactive-device"),
        (frame(header="QN=1;ST=22;PW=1;MN=M;Flag=5;"), AUTH, "decode:bad-header"),
    ],
)
def test_quarantine_reasons(raw: RawFrame, auth: DeviceAuth, reason: str) -> None:
    item = verdict(raw, auth)
    assert (item.status, item.reason) == (QUARANTINED, reason)
    assert item.detail and item.obs == [] and item.replies == []


def test_bad_crc_is_quarantined_with_the_field() -> None:
    raw = frame()
    bad = RawFrame(raw.data[:-6] + b"0000\r\n", raw.segment, b"0000", raw.relaxations)
    item = verdict(bad)
    assert (item.status, item.reason, item.crc_variant) == (QUARANTINED, "bad-crc", None)
    assert "'0000'" in (item.detail or "")


def test_framing_relaxations_come_first_then_the_decoder_s() -> None:
    raw = frame(header="QN=1;ST=22;CN=2061;PW=123456;MN=" + MN + ";Flag=5;")
    relaxed = RawFrame(raw.data, raw.segment, raw.crc_field, ("missing-crlf",))
    item = verdict(relaxed)
    assert item.status == ACCEPTED and item.relaxations == "missing-crlf,qn-format"
    assert verdict(raw).relaxations == "qn-format"


def test_modbus_device_is_accepted_and_answered_in_its_variant() -> None:
    auth = DeviceAuth(7, MN, "123456", frozenset({"standard", "modbus-le"}))
    item = verdict(frame(crc=CrcVariant.MODBUS_LE), auth)
    assert (item.status, item.crc_variant) == (ACCEPTED, "modbus-le")
    assert decode(item.replies[0]).crc_variant is CrcVariant.MODBUS_LE


def test_framing_errors_are_kept_byte_for_byte() -> None:
    item = process_framing_error(
        FramingError("garbage", b"\x00\x01", "bytes outside a frame"), received_utc=2.0, peer="p", channel="http"
    )
    assert (item.status, item.reason, item.detail, item.data, item.channel) == (
        QUARANTINED,
        "framing:garbage",
        "bytes outside a frame",
        b"\x00\x01",
        "http",
    )


def test_ingest_item_defaults_and_dataclass_behaviour() -> None:
    item = IngestItem(b"abc", 1.0, "p")
    assert (item.channel, item.status, item.obs, item.replies, item.frame_id, item.waiter) == (
        "tcp",
        QUARANTINED,
        [],
        [],
        None,
        None,
    )
    assert item.sha256 == hashlib.sha256(b"abc").digest()
    assert IngestItem(b"abc", 1.0, "p", sha256=b"given").sha256 == b"given"
    other = IngestItem(b"abc", 1.0, "p")
    assert other == item and other.obs is not item.obs  # a new list each time
    copy = dataclasses.replace(item, status=ACCEPTED)
    assert copy.status == ACCEPTED and copy.sha256 == item.sha256
    assert [f.name for f in dataclasses.fields(IngestItem)][:3] == ["data", "received_utc", "peer"]
    assert item.quarantine("r", "d") is item and (item.reason, item.detail) == ("r", "d")
