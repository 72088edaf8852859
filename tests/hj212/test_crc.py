"""CRC: the HJ 212 algorithm against the standard's bit loop, Modbus variants, matching rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tianlan.hj212 import CrcVariant, crc_text, hj212_crc, match_crc, modbus_crc

SEGMENT_0 = b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&"


def reference_hj212(data: bytes) -> int:
    """The pseudocode of HJ 212-2017 Appendix A, bit by bit (reference §2)."""
    reg = 0xFFFF
    for byte in data:
        reg = (reg >> 8) ^ byte
        for _ in range(8):
            low = reg & 1
            reg >>= 1
            if low:
                reg ^= 0xA001
    return reg


def reference_modbus(data: bytes) -> int:
    """CRC-16/MODBUS, bit by bit."""
    reg = 0xFFFF
    for byte in data:
        reg ^= byte
        for _ in range(8):
            low = reg & 1
            reg >>= 1
            if low:
                reg ^= 0xA001
    return reg


@given(st.binary(max_size=3000))
def test_hj212_crc_equals_the_standard_bit_loop(data: bytes) -> None:
    assert hj212_crc(data) == reference_hj212(data)


@given(st.binary(max_size=1200))
def test_modbus_crc_equals_the_bit_loop(data: bytes) -> None:
    assert modbus_crc(data) == reference_modbus(data)


@pytest.mark.parametrize("size", [0, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1024, 9999])
def test_hj212_crc_at_fold_boundaries(size: int) -> None:
    data = bytes((i * 37 + 11) % 256 for i in range(size))
    assert hj212_crc(data) == reference_hj212(data)


def test_standard_example_is_1c80_not_the_prose_1c08() -> None:
    assert len(SEGMENT_0) == 101
    assert hj212_crc(SEGMENT_0) == 0x1C80
    assert crc_text(SEGMENT_0) == "1C80"


def test_modbus_printing_orders() -> None:
    value = modbus_crc(SEGMENT_0)
    assert crc_text(SEGMENT_0, CrcVariant.MODBUS_BE) == f"{value:04X}"
    assert crc_text(SEGMENT_0, CrcVariant.MODBUS_LE) == f"{value & 0xFF:02X}{value >> 8:02X}"


def test_known_modbus_check_value() -> None:
    # CRC-16/MODBUS catalogue check value for "123456789".
    assert modbus_crc(b"123456789") == 0x4B37
    assert crc_text(b"123456789", CrcVariant.MODBUS_LE) == "374B"


def test_match_crc_is_case_insensitive_and_accepts_str() -> None:
    assert match_crc(SEGMENT_0, b"1c80") is CrcVariant.STANDARD
    assert match_crc(SEGMENT_0, "1C80") is CrcVariant.STANDARD
    assert match_crc(SEGMENT_0, "1c80", [CrcVariant.MODBUS_LE]) is None


@pytest.mark.parametrize("variant", list(CrcVariant))
def test_match_crc_finds_each_variant(variant: CrcVariant) -> None:
    field = crc_text(SEGMENT_0, variant)
    assert match_crc(SEGMENT_0, field) is variant
    assert match_crc(SEGMENT_0, field, [variant]) is variant
    others = [v for v in CrcVariant if v is not variant]
    assert match_crc(SEGMENT_0, field, others) is None


def test_match_crc_returns_the_first_matching_variant_in_order() -> None:
    # A palindromic Modbus value prints the same both ways: order decides.
    for i in range(5000):
        data = str(i).encode()
        value = modbus_crc(data)
        if value >> 8 == value & 0xFF:
            field = crc_text(data, CrcVariant.MODBUS_BE)
            order = [CrcVariant.MODBUS_BE, CrcVariant.MODBUS_LE]
            assert match_crc(data, field, order) is CrcVariant.MODBUS_BE
            assert match_crc(data, field, order[::-1]) is CrcVariant.MODBUS_LE
            return
    pytest.skip("no palindromic Modbus CRC among the inputs tried")


@pytest.mark.parametrize("field", [b"", b"1C8", b"1C800", b"1CG0", b"+1C8", b"0x1C", "1Ｃ80", b" 1C8"])
def test_match_crc_rejects_malformed_fields(field: bytes | str) -> None:
    assert match_crc(SEGMENT_0, field) is None
