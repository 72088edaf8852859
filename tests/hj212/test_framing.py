"""Framing: split/merged TCP frames, garbage, bad lengths, terminators, character lengths."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tianlan.hj212 import CrcVariant, FrameReader, FramingError, RawFrame, build_frame, crc_text, split_frames

APPENDIX_IDS = [str(i) for i in range(15)] + ["A1.9011", "A1.9012", "A1.9013", "A1.9014"]

CHINESE_SEGMENT = (
    "QN=20160801085857223;ST=32;CN=3020;PW=123456;MN=010000A8900016F000169DC0;Flag=4;"
    "CP=&&DataTime=20160801085857;PolId=w01018;i11001-Info=//清洗管路//&&"
)
PLAIN_SEGMENT = "QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&"


def frame_with_length(segment: bytes, length: int, crc: CrcVariant = CrcVariant.STANDARD) -> bytes:
    """A frame whose LLLL says `length`, whatever the segment's size (CRC over the bytes)."""
    return b"##%04d%b%b\r\n" % (length, segment, crc_text(segment, crc).encode())


def run(reader: FrameReader, chunks: list[bytes]) -> list[RawFrame | FramingError]:
    items: list[RawFrame | FramingError] = []
    for chunk in chunks:
        items.extend(reader.feed(chunk))
    return items


def frames_of(items: list[RawFrame | FramingError]) -> list[RawFrame]:
    return [item for item in items if isinstance(item, RawFrame)]


def errors_of(items: list[RawFrame | FramingError]) -> list[FramingError]:
    return [item for item in items if isinstance(item, FramingError)]


# -- verified frames -------------------------------------------------------------------------------


@pytest.mark.parametrize("frame_id", APPENDIX_IDS)
def test_each_verified_frame_is_one_raw_frame(appendix: dict[str, bytes], frame_id: str) -> None:
    frame = appendix[frame_id]
    reader = FrameReader()
    items = reader.feed(frame)
    assert items == [RawFrame(frame, frame[6:-6], frame[-6:-2], ())]
    assert reader.buffered == 0
    assert int(frame[2:6]) == len(frame) - 12  # Appendix A: LLLL = bytes of the segment


def test_merged_frames_in_one_read(appendix: dict[str, bytes]) -> None:
    stream = b"".join(appendix[i] for i in APPENDIX_IDS)
    items = FrameReader().feed(stream)
    assert [item.data for item in items] == [appendix[i] for i in APPENDIX_IDS]
    assert all(isinstance(item, RawFrame) for item in items)


def test_frame_fed_byte_by_byte(appendix: dict[str, bytes]) -> None:
    frame = appendix["4"]
    reader = FrameReader()
    items = run(reader, [frame[i : i + 1] for i in range(len(frame))])
    assert [item.data for item in items] == [frame]
    assert reader.buffered == 0


# -- properties ------------------------------------------------------------------------------------

_FRAMES_FOR_STREAMS = [
    *[f"{i}" for i in range(15)],
    "A1.9014",
]
_EXTRA_FRAMES = [build_frame(CHINESE_SEGMENT), build_frame(PLAIN_SEGMENT, CrcVariant.MODBUS_BE)]
garbage = st.binary(max_size=40).filter(lambda g: b"##" not in g)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    picks=st.lists(st.tuples(st.integers(0, len(_FRAMES_FOR_STREAMS) + 1), garbage), min_size=1, max_size=6),
    tail=garbage,
    data=st.data(),
)
def test_any_chunking_yields_the_frames_and_loses_no_byte(
    appendix: dict[str, bytes], picks: list[tuple[int, bytes]], tail: bytes, data: st.DataObject
) -> None:
    pool = [appendix[i] for i in _FRAMES_FOR_STREAMS] + _EXTRA_FRAMES
    frames = [pool[index] for index, _ in picks]
    stream = b"".join(junk + frame for (_, junk), frame in zip(picks, frames, strict=True)) + tail
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=25)))
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]

    reader = FrameReader()
    items = run(reader, chunks)
    items.extend(reader.flush())

    assert [frame.data for frame in frames_of(items)] == frames
    assert all(not frame.relaxations or "length-over-1024" in frame.relaxations for frame in frames_of(items))
    assert b"".join(item.data for item in items) == stream  # in order, nothing lost, nothing twice
    garbage_bytes = sum(len(junk) for _, junk in picks) + len(tail)
    assert sum(len(error.data) for error in errors_of(items)) == garbage_bytes
    assert reader.buffered == 0


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(junk=st.binary(max_size=300), frame_index=st.integers(0, 14), data=st.data())
def test_random_garbage_before_a_frame_never_hides_it(
    appendix: dict[str, bytes], junk: bytes, frame_index: int, data: st.DataObject
) -> None:
    frame = appendix[str(frame_index)]
    stream = junk + frame
    cuts = sorted(data.draw(st.sets(st.integers(1, len(stream) - 1), max_size=10)))
    bounds = [0, *cuts, len(stream)]
    reader = FrameReader()
    items = run(reader, [stream[a:b] for a, b in zip(bounds, bounds[1:], strict=False)])
    # The frame comes out as soon as its last byte is in: no flush, no further bytes needed.
    assert frame[6:-6] in [raw.segment for raw in frames_of(items)]
    items.extend(reader.flush())
    assert b"".join(item.data for item in items) == stream


@settings(deadline=None)
@given(st.binary(max_size=2000), st.integers(1, 64))
def test_arbitrary_bytes_never_lose_or_duplicate_a_byte(stream: bytes, chunk: int) -> None:
    reader = FrameReader()
    items = run(reader, [stream[i : i + chunk] for i in range(0, len(stream), chunk)])
    items.extend(reader.idle())
    items.extend(reader.flush())
    assert b"".join(item.data for item in items) == stream
    assert reader.buffered == 0


# -- garbage and bad headers -----------------------------------------------------------------------


def test_garbage_between_frames_is_returned_with_its_bytes(appendix: dict[str, bytes]) -> None:
    items = FrameReader().feed(b"GET / HTTP/1.1\r\n" + appendix["0"] + b"\x00\xff junk" + appendix["8"])
    assert [type(item) for item in items] == [FramingError, RawFrame, FramingError, RawFrame]
    assert isinstance(items[0], FramingError) and items[0].reason == "garbage"
    assert items[0].data == b"GET / HTTP/1.1\r\n"
    assert items[2].data == b"\x00\xff junk"


def test_trailing_hash_is_held_back_as_a_possible_header_start(appendix: dict[str, bytes]) -> None:
    reader = FrameReader()
    assert errors_of(reader.feed(b"noise#")) == [FramingError("garbage", b"noise", "bytes outside a frame")]
    assert reader.buffered == 1
    items = reader.feed(appendix["0"][1:])
    assert [item.data for item in items] == [appendix["0"]]


def test_triple_hash_resyncs_on_the_real_header(appendix: dict[str, bytes]) -> None:
    items = FrameReader().feed(b"#" + appendix["0"])
    assert [item.data for item in items] == [b"#", appendix["0"]]
    assert isinstance(items[0], FramingError) and items[0].reason == "bad-length"


@pytest.mark.parametrize("head", [b"##01X1", b"##ABCD", b"##-101", b"## 101", b"##0x10", b"##X"])
def test_non_digit_length_is_an_error_at_once(head: bytes) -> None:
    reader = FrameReader()
    items = reader.feed(head)
    assert [(item.reason, item.data) for item in errors_of(items)] == [("bad-length", head)]
    assert reader.buffered == 0


def test_non_digit_length_drops_only_up_to_the_next_header(appendix: dict[str, bytes]) -> None:
    items = FrameReader().feed(b"##12AB;CN=2011" + appendix["3"])
    assert isinstance(items[0], FramingError) and items[0].reason == "bad-length"
    assert items[0].data == b"##12AB;CN=2011"
    assert items[1] == RawFrame(appendix["3"], appendix["3"][6:-6], b"C181", ())


def test_oversize_is_refused_without_waiting_and_the_reader_resyncs(appendix: dict[str, bytes]) -> None:
    reader = FrameReader(max_length=1024)
    big = build_frame("QN=1;ST=22;CN=2011;MN=X;CP=&&" + "a" * 1500 + "&&")
    first = reader.feed(big[:100])
    assert [(item.reason, item.data) for item in errors_of(first)] == [("oversize", big[:100])]
    assert reader.buffered == 0
    rest = reader.feed(big[100:] + appendix["0"])
    assert [item.reason for item in errors_of(rest)] == ["garbage"]
    assert [item.data for item in frames_of(rest)] == [appendix["0"]]


def test_length_above_1024_is_accepted_and_flagged() -> None:
    segment = ("QN=1;ST=31;CN=2011;MN=X;CP=&&" + "a01012-Rtd=1.0;" * 80 + "&&").encode()
    assert len(segment) > 1024
    frame = build_frame(segment)
    (raw,) = FrameReader().feed(frame)
    assert isinstance(raw, RawFrame) and raw.segment == segment
    assert raw.relaxations == ("length-over-1024",)


def test_max_length_must_fit_the_length_field() -> None:
    with pytest.raises(ValueError):
        FrameReader(max_length=10000)


# -- terminators -----------------------------------------------------------------------------------


def test_crlf_in_a_later_read_completes_the_frame(appendix: dict[str, bytes]) -> None:
    frame = appendix["0"]
    reader = FrameReader()
    assert reader.feed(frame[:-2]) == []
    assert reader.feed(frame[-2:-1]) == []
    assert reader.feed(frame[-1:]) == [RawFrame(frame, frame[6:-6], b"1C80", ())]


def test_missing_crlf_before_the_next_frame(appendix: dict[str, bytes]) -> None:
    items = FrameReader().feed(appendix["0"][:-2] + appendix["8"])
    assert [item.data for item in items] == [appendix["0"][:-2], appendix["8"]]
    assert isinstance(items[0], RawFrame) and items[0].relaxations == ("missing-crlf",)


def test_missing_crlf_with_matching_crc_before_garbage(appendix: dict[str, bytes]) -> None:
    items = FrameReader().feed(appendix["0"][:-2] + b"xyz")
    assert isinstance(items[0], RawFrame) and items[0].relaxations == ("missing-crlf",)
    assert items[1] == FramingError("garbage", b"xyz", "bytes outside a frame")


def test_missing_crlf_with_bad_crc_before_garbage_is_a_bad_terminator(appendix: dict[str, bytes]) -> None:
    bad = appendix["0"][:-6] + b"0000xyz"
    items = FrameReader().feed(bad + appendix["8"])
    assert [(type(item), item.data) for item in items] == [(FramingError, bad), (RawFrame, appendix["8"])]
    assert isinstance(items[0], FramingError) and items[0].reason == "bad-terminator"


@pytest.mark.parametrize("terminator", [b"\n", b"\r"])
def test_lone_cr_or_lf_terminator(appendix: dict[str, bytes], terminator: bytes) -> None:
    frame = appendix["0"][:-2] + terminator
    items = FrameReader().feed(frame + appendix["8"])
    assert [item.data for item in items] == [frame, appendix["8"]]
    assert isinstance(items[0], RawFrame) and items[0].relaxations == ("partial-crlf",)


def test_idle_delivers_a_frame_lacking_only_crlf_when_its_crc_matches(appendix: dict[str, bytes]) -> None:
    reader = FrameReader()
    assert reader.feed(appendix["0"][:-2]) == []
    assert reader.idle() == [RawFrame(appendix["0"][:-2], appendix["0"][6:-6], b"1C80", ("missing-crlf",))]
    assert reader.buffered == 0
    assert reader.flush() == []


def test_idle_keeps_waiting_when_the_crc_does_not_match(appendix: dict[str, bytes]) -> None:
    reader = FrameReader()
    frame = appendix["0"][:-6] + b"0000"
    reader.feed(frame)
    assert reader.idle() == []
    assert reader.buffered == len(frame)
    assert reader.flush() == [FramingError("truncated", frame, f"stream ended inside a frame ({len(frame)} bytes)")]


def test_flush_returns_an_unfinished_frame_as_truncated(appendix: dict[str, bytes]) -> None:
    reader = FrameReader()
    reader.feed(appendix["2"][:500])
    (error,) = reader.flush()
    assert error.reason == "truncated" and error.data == appendix["2"][:500]
    assert reader.buffered == 0


# -- wrong lengths ---------------------------------------------------------------------------------


def test_length_counted_in_utf8_characters_falls_back_and_is_flagged() -> None:
    segment = CHINESE_SEGMENT.encode("utf-8")
    frame = frame_with_length(segment, len(CHINESE_SEGMENT))
    assert len(CHINESE_SEGMENT) < len(segment)
    items = FrameReader().feed(frame)
    assert items == [RawFrame(frame, segment, frame[-6:-2], ("length-by-characters",))]


def test_length_in_characters_fed_in_pieces() -> None:
    segment = CHINESE_SEGMENT.encode("utf-8")
    frame = frame_with_length(segment, len(CHINESE_SEGMENT))
    reader = FrameReader()
    items = run(reader, [frame[i : i + 7] for i in range(0, len(frame), 7)])
    assert items == [RawFrame(frame, segment, frame[-6:-2], ("length-by-characters",))]


def test_length_counted_in_gb18030_characters() -> None:
    segment = CHINESE_SEGMENT.encode("gb18030")
    frame = frame_with_length(segment, len(CHINESE_SEGMENT))
    (raw,) = FrameReader().feed(frame)
    assert isinstance(raw, RawFrame) and raw.segment == segment
    assert raw.relaxations == ("length-by-characters-gb18030",)


def test_chinese_frame_with_byte_length_needs_no_relaxation() -> None:
    frame = build_frame(CHINESE_SEGMENT)
    assert FrameReader().feed(frame) == [RawFrame(frame, CHINESE_SEGMENT.encode(), frame[-6:-2], ())]


@pytest.mark.parametrize("declared", [50, 100, 102, 300, 2000])
def test_wrong_length_recovered_by_the_closing_crc_and_crlf(declared: int) -> None:
    segment = PLAIN_SEGMENT.encode()
    frame = frame_with_length(segment, declared)
    reader = FrameReader()
    # No further bytes: a too-long declared length must not hold the frame back.
    assert reader.feed(frame) == [RawFrame(frame, segment, b"1C80", ("length-mismatch",))]
    assert reader.buffered == 0


def test_truncated_frame_does_not_hold_back_the_next_one(appendix: dict[str, bytes]) -> None:
    reader = FrameReader()
    cut = appendix["2"][:300]  # declares 872 bytes, sends 300
    items = reader.feed(cut + appendix["0"])
    assert items == [
        FramingError("truncated", cut, "frame cut off by the start of another frame"),
        RawFrame(appendix["0"], appendix["0"][6:-6], b"1C80", ()),
    ]
    assert reader.buffered == 0


def test_a_false_start_in_garbage_cannot_swallow_a_real_frame(appendix: dict[str, bytes]) -> None:
    frame = appendix["0"]
    # "##LLLL" whose declared length ends exactly where the real frame's segment ends.
    prefix_len = 10
    declared = prefix_len - 6 + len(frame) - 6
    false_start = b"##%04dabcd" % declared
    assert len(false_start) == prefix_len
    items = FrameReader().feed(false_start + frame)
    assert items == [
        FramingError("truncated", false_start, "frame cut off by the start of another frame"),
        RawFrame(frame, frame[6:-6], b"1C80", ()),
    ]


# -- whole inputs ----------------------------------------------------------------------------------


def test_split_frames_treats_the_end_of_input_as_a_boundary(appendix: dict[str, bytes]) -> None:
    data = appendix["0"] + appendix["1"][:-2]
    items = split_frames(data)
    assert [item.data for item in items] == [appendix["0"], appendix["1"][:-2]]
    assert isinstance(items[1], RawFrame) and items[1].relaxations == ("missing-crlf",)


def test_split_frames_reports_leftovers(appendix: dict[str, bytes]) -> None:
    items = split_frames(appendix["0"] + b"##0100QN=1")
    assert isinstance(items[0], RawFrame)
    assert items[1] == FramingError("truncated", b"##0100QN=1", "input ended inside a frame")
    assert split_frames(b"abc#") == [FramingError("garbage", b"abc#", "bytes outside a frame")]
    assert split_frames(b"") == []
