"""CRC of the HJ 212 data segment and the Modbus variants seen in the field.

HJ 212-2017 Appendix A (identical in HJ/T 212-2005 Appendix A) calls its check "ANSI CRC16", but it
is not CRC-16/MODBUS: per input byte only the *high* byte of the running register survives before
the new byte is XOR-ed in, then the register is shifted eight times with the reflected polynomial
0xA001. The result is printed as four hex digits, high byte first.

Some real data loggers send a plain CRC-16/MODBUS instead, printed low byte first (Modbus wire order);
the high-byte-first Modbus print is supported as well (reference §2.1). Receivers compare the four
transmitted characters case-insensitively (reference §2).

This module is compiled with mypyc when the package is built with a C compiler (see setup.py); each
function then takes the loop that is fastest compiled (`COMPILED`), else the one fastest in CPython.
Both give the same results (tests/hj212/test_crc.py checks each against the standard's bit loop).
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # native 64-bit integers when compiled; plain ints (never looked up) otherwise
    from mypy_extensions import i64

__all__ = ["CrcVariant", "crc_text", "hj212_crc", "match_crc", "modbus_crc"]


def _probe() -> None:
    """Its type tells whether this module runs compiled (a native function) or as Python source."""


COMPILED: Final[bool] = type(_probe).__name__ != "function"
"""True when this module was compiled by mypyc (then the byte loops below beat the big-int fold)."""


class CrcVariant(StrEnum):
    """How a device computes and prints the 4-character CRC field (reference §2, §2.1)."""

    STANDARD = "standard"
    """HJ 212-2017 Appendix A algorithm, printed high byte first ("%04X")."""
    MODBUS_LE = "modbus-le"
    """CRC-16/MODBUS printed low byte first, as in the captured rx.log (Appendix A #14-#16)."""
    MODBUS_BE = "modbus-be"
    """CRC-16/MODBUS printed high byte first."""


def _build_table() -> list[int]:
    """Return the 256-entry table of the reflected polynomial 0xA001 (8 shifts per entry)."""
    table: list[int] = []
    for i in range(256):
        reg = i
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
        table.append(reg)
    return table


_TABLE: Final[list[int]] = _build_table()
# Why the standard CRC is cheap: between input bytes only the high byte h of the register survives,
# and h -> HIGH[h ^ byte] with HIGH[x] = TABLE[x] >> 8. TABLE is linear over GF(2), so this is
# h -> M(h ^ byte) for an 8x8 bit matrix M, and M**8 = I (checked below). Hence after m bytes
#   h_m = M**m h_0  ^  XOR_j M**(m - j + 1) b_j,
# and M**(m - j + 1) depends only on (m - j + 1) mod 8: it suffices to XOR together the bytes whose
# distance from the end is the same modulo 8 (eight byte-wide accumulators), then look each up once.
# In CPython the XOR is done by folding the segment, read as one big-endian integer, down to 64 bits
# (a few C operations per halving); compiled, a plain loop over the bytes is faster still.
_HIGH: Final[list[int]] = [value >> 8 for value in _TABLE]
_POWERS: list[list[int]] = [list(range(256))]  # _POWERS[k][x] = M**k x
for _ in range(8):
    _POWERS.append([_HIGH[x] for x in _POWERS[-1]])
if _POWERS[8] != _POWERS[0]:  # pragma: no cover - a property of the polynomial, asserted once
    raise ImportError("HJ 212 CRC: the per-byte state map does not have order 8")
# Accumulator r holds the XOR of the bytes at distance r, r + 8, ... from the end of the input less
# its last byte; its matrix power is M**(r + 1). (Byte r of the folded word, from the low end.)
_P1: Final[list[int]] = _POWERS[1]
_P2: Final[list[int]] = _POWERS[2]
_P3: Final[list[int]] = _POWERS[3]
_P4: Final[list[int]] = _POWERS[4]
_P5: Final[list[int]] = _POWERS[5]
_P6: Final[list[int]] = _POWERS[6]
_P7: Final[list[int]] = _POWERS[7]
_P0: Final[list[int]] = _POWERS[0]
_START: Final[list[int]] = [_POWERS[k][0xFF] for k in range(8)]  # M**m h_0 for h_0 = 0xFF, m mod 8
_LITTLE_ENDIAN: Final[bool] = sys.byteorder == "little"
# Masks of the fold by width in 64-bit words, made on first use: _MASKS[k] = 2**(64 k) - 1.
_MASKS: Final[dict[int, int]] = {}
# CRC-16/MODBUS two bytes at a time (built on first use: 65 536 entries): reg = _MODBUS_WORD[reg ^ w],
# where w holds the two input bytes as a native 16-bit word.
_MODBUS_WORD: Final[list[int]] = []
_HEX_VALUE: Final[dict[int, int]] = {c: int(chr(c), 16) for c in b"0123456789ABCDEFabcdef"}
_ALL_VARIANTS: Final[tuple[CrcVariant, ...]] = tuple(CrcVariant)


def hj212_crc(data: bytes) -> int:
    """Return the HJ 212 CRC (HJ 212-2017 Appendix A) of `data`, the raw data-segment bytes.

    Equal to the standard's loop ``reg = TABLE[(reg >> 8) ^ byte]`` from 0xFFFF (the tests check it
    against the bit-by-bit pseudocode), computed from eight XOR accumulators (see the comment on
    `_HIGH`): compiled about 0.3 µs for a 750-byte segment, as Python source about 3 µs (instead of
    20 µs for the byte loop). The input is the data segment only (after LLLL, up to and including the
    closing ``&&``).
    """
    if COMPILED:
        return _crc_accumulate(data)
    return _crc_fold(data)


def _crc_accumulate(data: bytes) -> int:
    """`hj212_crc` by eight byte accumulators: the fastest compiled (slow as Python source)."""
    n: i64 = len(data)
    if n == 0:
        return 0xFFFF
    m: i64 = n - 1
    x0: i64 = 0
    x1: i64 = 0
    x2: i64 = 0
    x3: i64 = 0
    x4: i64 = 0
    x5: i64 = 0
    x6: i64 = 0
    x7: i64 = 0
    i: i64 = m - 8
    while i >= 0:
        x7 ^= data[i]
        x6 ^= data[i + 1]
        x5 ^= data[i + 2]
        x4 ^= data[i + 3]
        x3 ^= data[i + 4]
        x2 ^= data[i + 5]
        x1 ^= data[i + 6]
        x0 ^= data[i + 7]
        i -= 8
    # The 0..7 bytes left at the start; the one at index i + 7 is at distance 0 (mod 8).
    j: i64 = i + 7
    if j >= 0:
        x0 ^= data[j]
    if j >= 1:
        x1 ^= data[j - 1]
    if j >= 2:
        x2 ^= data[j - 2]
    if j >= 3:
        x3 ^= data[j - 3]
    if j >= 4:
        x4 ^= data[j - 4]
    if j >= 5:
        x5 ^= data[j - 5]
    if j >= 6:
        x6 ^= data[j - 6]
    high = _START[m & 7] ^ _P1[x0] ^ _P2[x1] ^ _P3[x2] ^ _P4[x3] ^ _P5[x4] ^ _P6[x5] ^ _P7[x6] ^ _P0[x7]
    return _TABLE[high ^ data[m]]


def _crc_fold(data: bytes) -> int:
    """`hj212_crc` by XOR-folding one big integer: the fastest in CPython."""
    n = len(data)
    if n == 0:
        return 0xFFFF
    m = n - 1
    folded = int.from_bytes(data[:m], "big")
    words = (m + 7) >> 3  # width in 64-bit words
    masks = _MASKS
    while words > 1:
        half = (words + 1) >> 1  # the low part keeps the larger half, in whole words
        mask = masks.get(half)
        if mask is None:
            mask = masks[half] = (1 << (half << 6)) - 1
        folded = (folded >> (half << 6)) ^ (folded & mask)
        words = half
    high = (
        _START[m & 7]
        ^ _P1[folded & 0xFF]
        ^ _P2[(folded >> 8) & 0xFF]
        ^ _P3[(folded >> 16) & 0xFF]
        ^ _P4[(folded >> 24) & 0xFF]
        ^ _P5[(folded >> 32) & 0xFF]
        ^ _P6[(folded >> 40) & 0xFF]
        ^ _P7[(folded >> 48) & 0xFF]
        ^ _P0[(folded >> 56) & 0xFF]
    )
    return _TABLE[high ^ data[m]]


def _modbus_word_table() -> list[int]:
    if not _MODBUS_WORD:
        table = _TABLE
        words = [0] * 65536
        for second in range(256):
            for first in range(256):
                reg = (table[first] >> 8) ^ table[second ^ (table[first] & 0xFF)]
                index = first | (second << 8) if _LITTLE_ENDIAN else (first << 8) | second
                words[index] = reg
        _MODBUS_WORD.extend(words)
    return _MODBUS_WORD


def modbus_crc(data: bytes) -> int:
    """Return CRC-16/MODBUS of `data` (init 0xFFFF, reflected poly 0xA001, no final XOR).

    Used by some data loggers instead of the HJ 212 algorithm (reference §2.1).
    """
    if COMPILED:
        return _modbus_bytes(data)
    words = _modbus_word_table()
    reg = 0xFFFF
    n = len(data)
    even = n & ~1
    if even:
        if _LITTLE_ENDIAN:
            for word in array("H", data[:even]):
                reg = words[reg ^ word]
        else:
            # Big-endian hosts: the table is indexed with the bytes swapped, so swap the register too.
            for word in array("H", data[:even]):
                swapped = ((reg & 0xFF) << 8) | (reg >> 8)
                reg = words[swapped ^ word]
    if n & 1:
        reg = (reg >> 8) ^ _TABLE[(reg ^ data[n - 1]) & 0xFF]
    return reg


def _modbus_bytes(data: bytes) -> int:
    """`modbus_crc` by the byte-wise table loop: the fastest compiled (no 64k table to build)."""
    table = _TABLE
    reg: i64 = 0xFFFF
    n: i64 = len(data)
    i: i64 = 0
    while i < n:
        reg = (reg >> 8) ^ table[(reg ^ data[i]) & 0xFF]
        i += 1
    return reg


def _print(value: int, variant: CrcVariant) -> str:
    if variant is CrcVariant.MODBUS_LE:
        return f"{value & 0xFF:02X}{value >> 8:02X}"
    return f"{value:04X}"


def crc_text(data: bytes, variant: CrcVariant = CrcVariant.STANDARD) -> str:
    """Return the four upper-case hex characters a `variant` device transmits for `data`."""
    if variant is CrcVariant.STANDARD:
        return f"{hj212_crc(data):04X}"
    return _print(modbus_crc(data), variant)


def _field_value(field: bytes | str) -> int:
    """The value of a 4-hex-digit CRC field (either case), or -1 when it is anything else."""
    raw = field.encode("ascii", "replace") if isinstance(field, str) else field
    if len(raw) != 4:
        return -1
    hexes = _HEX_VALUE
    a = hexes.get(raw[0], -1)
    b = hexes.get(raw[1], -1)
    c = hexes.get(raw[2], -1)
    d = hexes.get(raw[3], -1)
    if a < 0 or b < 0 or c < 0 or d < 0:
        return -1
    return (a << 12) | (b << 8) | (c << 4) | d


def match_crc(
    data: bytes,
    field: bytes | str,
    variants: Iterable[CrcVariant] = _ALL_VARIANTS,
) -> CrcVariant | None:
    """Return the first of `variants` whose CRC of `data` equals the transmitted `field`, else None.

    The comparison is case-insensitive (reference §2: lower-case CRCs such as ``7d00`` are valid).
    A field that is not exactly four hex digits matches nothing. The Modbus CRC is computed at most
    once for both Modbus print orders.
    """
    wanted = _field_value(field)
    if wanted < 0:
        return None
    modbus: int = -1
    for variant in variants:
        if variant is CrcVariant.STANDARD:
            if hj212_crc(data) == wanted:
                return variant
            continue
        if modbus < 0:
            modbus = modbus_crc(data)
        printed = ((modbus & 0xFF) << 8) | (modbus >> 8) if variant is CrcVariant.MODBUS_LE else modbus
        if printed == wanted:
            return variant
    return None
