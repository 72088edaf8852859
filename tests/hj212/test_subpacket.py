"""Sub-packet reassembly: out of order, interleaved uploads, duplicates, timeout."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tianlan.hj212 import CrcVariant, Packet, Reassembler, build_frame, decode

MN = "010000A8900016F000169DC0"


def part(pno: int, pnum: int = 3, *, data_time: str = "20160801080000", mn: str = MN, qn_tail: int = 0) -> Packet:
    """Sub-packet `pno` of an hour upload, each part with its own QN and factor (HJ 212-2017 C.49)."""
    qn = f"20160801090000{500 + pno + qn_tail:03d}"
    segment = (
        f"QN={qn};ST=32;CN=2061;PW=123456;MN={mn};Flag=7;PNUM={pnum};PNO={pno};"
        f"CP=&&DataTime={data_time};w0{pno}-Avg={pno}.5,w0{pno}-Flag=N&&"
    )
    return decode(build_frame(segment))


def test_in_order_parts_merge() -> None:
    reassembler = Reassembler()
    assert reassembler.add(part(1), 0.0) is None
    assert reassembler.add(part(2), 1.0) is None
    merged = reassembler.add(part(3), 2.0)
    assert merged is not None
    assert merged.cp.factors == {f"w0{n}": {"Avg": f"{n}.5", "Flag": "N"} for n in (1, 2, 3)}
    assert merged.cp.data_time == "20160801080000" and merged.cp.fields == {"DataTime": "20160801080000"}
    assert (merged.qn, merged.pnum, merged.pno, merged.flag) == ("20160801090000501", None, None, 5)
    assert not merged.is_subpacket and "PNUM" not in merged.header and "PNO" not in merged.header
    assert merged.crc_variant is CrcVariant.STANDARD
    assert reassembler.pending == 0


@given(st.permutations([1, 2, 3, 4, 5]))
def test_any_arrival_order_merges_once(order: list[int]) -> None:
    reassembler = Reassembler()
    results = [reassembler.add(part(n, 5), float(i)) for i, n in enumerate(order)]
    assert results[:-1] == [None] * 4
    merged = results[-1]
    assert merged is not None and list(merged.cp.factors) == [f"w0{n}" for n in range(1, 6)]
    assert merged.qn == "20160801090000501"  # part 1 leads, whenever it came


def test_two_interleaved_uploads_stay_apart() -> None:
    reassembler = Reassembler()
    a = [part(n, 2, data_time="20160801080000") for n in (1, 2)]
    b = [part(n, 2, data_time="20160801090000", qn_tail=10) for n in (1, 2)]
    other_device = [part(n, 2, mn="OTHER") for n in (1, 2)]
    assert reassembler.add(a[1], 0) is None
    assert reassembler.add(b[0], 0) is None
    assert reassembler.add(other_device[0], 0) is None
    merged_b = reassembler.add(b[1], 0)
    merged_a = reassembler.add(a[0], 0)
    assert merged_a is not None and merged_b is not None
    assert merged_a.cp.data_time == "20160801080000" and merged_b.cp.data_time == "20160801090000"
    assert reassembler.pending == 1


def test_non_subpackets_pass_straight_through(appendix: dict[str, bytes]) -> None:
    reassembler = Reassembler()
    p = decode(appendix["6"])  # Flag=7 but no PNUM/PNO
    assert reassembler.add(p, 0) is p
    assert reassembler.pending == 0


def test_single_part_upload_completes_at_once() -> None:
    merged = Reassembler().add(part(1, 1), 0)
    assert merged is not None and merged.cp.factors == {"w01": {"Avg": "1.5", "Flag": "N"}}


def test_retransmitted_part_is_kept_once_and_flagged() -> None:
    reassembler = Reassembler()
    reassembler.add(part(1, 2), 0)
    assert reassembler.add(part(1, 2), 1) is None
    merged = reassembler.add(part(2, 2), 2)
    assert merged is not None and "duplicate-subpacket" in merged.relaxations


def test_part_number_out_of_range_is_returned_flagged() -> None:
    bad = part(4, 3)
    result = Reassembler().add(bad, 0)
    assert result is not None and "bad-pno" in result.relaxations and result.pno == 4


def test_incomplete_groups_expire_after_the_timeout() -> None:
    reassembler = Reassembler(timeout_s=60)
    reassembler.add(part(3), 0)
    reassembler.add(part(1), 30)
    reassembler.add(part(1, data_time="20160801090000"), 5)
    assert reassembler.expire(80) == [[part(1, data_time="20160801090000")]]
    assert reassembler.expire(89) == []
    (group,) = reassembler.expire(91)
    assert [p.pno for p in group] == [1, 3]
    assert reassembler.pending == 0
    # A late part after expiry starts a new group; nothing completes from stale state.
    assert reassembler.add(part(2), 100) is None
