"""Packets: decode and encode the HJ 212 data segment (HJ 212-2017 §6.3.2, §6.3.3).

A data segment is a header of ``NAME=value;`` items (QN, ST, CN, PW, MN, Flag, PNUM, PNO — in any
order in practice, reference §3.4) followed by ``CP=&&<data area>&&``. The data area holds items
separated by ``;`` (different items) and ``,`` (values of the same item); per-factor keys are
``<code>-<Suffix>`` (HJ 212-2017 §6.3.3, Table 4). Values stay text: they are decimal strings whose
width carries meaning, and storing them exactly matters more than parsing them here.

Decoding is lenient: every deviation from the standard that is tolerated is named in
`Packet.relaxations` (codes listed in `decode`). Only a segment that cannot be understood at all
raises `DecodeError`; a CRC mismatch does not (``crc_variant`` is None).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .codes import FACTOR_SUFFIXES
from .crc import CrcVariant, crc_text, match_crc
from .errors import DecodeError
from .framing import FramingError, RawFrame, split_frames

__all__ = [
    "CpData",
    "Dialect",
    "Packet",
    "build_frame",
    "decode",
    "encode",
    "encode_segment",
    "info_text",
    "make_cp",
]


class Dialect(StrEnum):
    """Protocol edition a packet follows, from the Flag version bits V5..V0 (HJ 212-2017 Table 3).

    Flag absent or 0-3 → HJ/T 212-2005; 4-7 (version 000001) → HJ 212-2017; 8-11 (000010) →
    HJ 212-2025 (as one implementation encodes it; reference §3.5, §9).
    """

    HJ212_2005 = "2005"
    HJ212_2017 = "2017"
    HJ212_2025 = "2025"


_VERSION_DIALECT: dict[int, Dialect] = {0: Dialect.HJ212_2005, 1: Dialect.HJ212_2017, 2: Dialect.HJ212_2025}
_ALL_VARIANTS: tuple[CrcVariant, ...] = tuple(CrcVariant)
_HEADER_KEYS: dict[str, str] = {
    "QN": "QN",
    "ST": "ST",
    "CN": "CN",
    "PW": "PW",
    "MN": "MN",
    "FLAG": "Flag",
    "PNUM": "PNUM",
    "PNO": "PNO",
}
_EXACT_HEADER_KEYS: frozenset[str] = frozenset(_HEADER_KEYS.values())
_ANSWER_CNS: frozenset[str] = frozenset({"9011", "9012", "9013", "9014"})
# Only for segments without the exact "CP=&&" (slow path): "CP = &&", "cp=&&" (reference §3.6).
_LOOSE_CP_MARKER = re.compile(r"[Cc][Pp][ \t]*=[ \t]*&&")


@dataclass(slots=True)
class CpData:
    """The CP data area (HJ 212-2017 §6.3.3).

    `data_time` is the raw text of ``DataTime`` (also present in `fields`); `fields` holds every
    item that is not per-factor (``DataTime``, ``QnRtn``, ``ExeRtn``, ``BeginTime``, ``SystemTime``,
    ``RestartTime``, vendor keys such as ``FANSTATUS``); `factors` maps a factor code to its
    ``{suffix: value}`` items, e.g. ``{"a34004": {"Rtd": "33", "Flag": "N"}}``, suffixes and values
    as transmitted. ``Info`` values keep their ``//`` delimiters (see `info_text`).
    """

    data_time: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    factors: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(slots=True)
class Packet:
    """One decoded HJ 212 packet (HJ 212-2017 §6.3.2, Table 3).

    Header values are the transmitted text (None when absent); `flag`, `pnum`, `pno` are integers.
    `header` keeps every raw header item as sent (any order; unknown items such as ``RF`` too).
    `crc_variant` is the CRC variant that matched, None when none did. `relaxations` names each
    leniency decoding needed.
    """

    qn: str | None = None
    st: str | None = None
    cn: str | None = None
    pw: str | None = None
    mn: str | None = None
    flag: int | None = None
    pnum: int | None = None
    pno: int | None = None
    cp: CpData = field(default_factory=CpData)
    header: dict[str, str] = field(default_factory=dict)
    dialect: Dialect = Dialect.HJ212_2017
    crc_variant: CrcVariant | None = None
    relaxations: tuple[str, ...] = ()

    @property
    def crc_ok(self) -> bool:
        """Whether the transmitted CRC matched one of the variants decode was allowed to try."""
        return self.crc_variant is not None

    @property
    def wants_ack(self) -> bool:
        """Flag bit A (value 1): the sender wants an answer (HJ 212-2017 Table 3; 2005 Flag 1/3)."""
        return self.flag is not None and self.flag & 1 == 1

    @property
    def is_subpacket(self) -> bool:
        """Whether this is one of several sub-packets: PNUM and PNO present (reference §3.5 — real
        devices set Flag bit D without sending them, so the bit alone does not decide)."""
        return self.pnum is not None and self.pno is not None

    @property
    def answered_qn(self) -> str | None:
        """QN of the packet a 9011-9014 answer refers to: the header QN (2017) or, in the 2005
        form, the QN inside CP (HJ/T 212-2005 §6.5); None for other packets."""
        if self.cn not in _ANSWER_CNS:
            return None
        return self.qn if self.qn is not None else self.cp.fields.get("QN")


def info_text(value: str) -> str:
    """Return an ``xxx-Info`` value without its ``//`` delimiters (HJ 212-2017 C.40)."""
    if len(value) >= 4 and value.startswith("//") and value.endswith("//"):
        return value[2:-2]
    return value


def make_cp(
    data_time: str | None = None,
    factors: Mapping[str, Mapping[str, str]] | None = None,
    fields: Mapping[str, str] | None = None,
) -> CpData:
    """Build a `CpData`; `data_time` is also put first in `fields`, as `decode` does."""
    all_fields: dict[str, str] = {} if data_time is None else {"DataTime": data_time}
    if fields:
        for key, value in fields.items():
            if key != "DataTime" or data_time is None:
                all_fields[key] = value
    return CpData(
        data_time if data_time is not None else all_fields.get("DataTime"),
        all_fields,
        {code: dict(items) for code, items in (factors or {}).items()},
    )


# -- decoding ------------------------------------------------------------------------------------


def decode(frame: RawFrame | bytes, *, crc_variants: Iterable[CrcVariant] = _ALL_VARIANTS) -> Packet:
    """Decode one frame into a `Packet` (HJ 212-2017 §6.3).

    `frame` is a `RawFrame` from `FrameReader`, or the bytes of one whole frame (framed here with
    end-of-input semantics). `crc_variants` are the CRC variants this device may use, tried in order;
    the one that matches is stored in `Packet.crc_variant` — a mismatch is not an error.

    Raises `DecodeError` only when the segment cannot be understood: ``bad-frame`` (no frame in the
    bytes), ``bad-encoding``, ``no-cp``, ``bad-header`` (CN missing, PNUM/PNO not integers),
    ``bad-flag``.

    Relaxation codes, besides the framing ones: ``extra-bytes`` (bytes besides the one frame given),
    ``encoding-gb18030``; header: ``cp-marker`` (``CP = &&``, ``cp=&&``), ``missing-separator``
    (``Flag=5CP=&&``, HJ 212-2017 C.19), ``comma-separator`` (``,`` after QN, C.22), ``stray-space``,
    ``empty-item``, ``item-without-value``, ``header-key-case``, ``duplicate-item``, ``qn-format``,
    ``st-length`` (e.g. ST=101), ``cn-format``, ``missing-mn``, ``missing-pw``, ``empty-flag``,
    ``flag-out-of-range``, ``flag-version-unknown``, ``version-bits-predate-2025`` (Flag=8 on data
    dated before 2025), ``split-flag-without-pnum``, ``pnum-without-split-flag``,
    ``incomplete-pnum-pno``; CP: ``cp-unterminated``, ``trailing-after-cp``, ``cp-unknown-suffix``
    (e.g. ``LA-td``), ``cp-key-case``, ``info-unterminated``, ``datatime-17-digits``,
    ``datatime-format``.
    """
    if isinstance(frame, RawFrame):
        raw = frame
        relax: list[str] = list(raw.relaxations)
    else:
        raw, relax = _frame_of(frame)
    segment = raw.segment
    crc_variant = match_crc(segment, raw.crc_field, crc_variants)
    try:
        text = segment.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = segment.decode("gb18030")
        except UnicodeDecodeError:
            raise DecodeError("bad-encoding", "data segment is neither UTF-8 nor GB18030 text") from None
        relax.append("encoding-gb18030")

    cp_at = text.find("CP=&&")
    if cp_at >= 0:
        body_start = cp_at + 5
    else:
        cp_at, body_start = _find_cp_marker(text)
        relax.append("cp-marker")

    header: dict[str, str] = {}
    typed: dict[str, str] = {}
    _parse_header(text[:cp_at], header, typed, relax)

    cn = typed.get("CN")
    if not cn:
        raise DecodeError("bad-header", "header item CN is missing or empty", "CN")
    flag = _header_int(typed, "Flag", "bad-flag", relax)
    pnum = _header_int(typed, "PNUM", "bad-header", relax)
    pno = _header_int(typed, "PNO", "bad-header", relax)
    qn = typed.get("QN")
    st = typed.get("ST")
    mn = typed.get("MN")
    pw = typed.get("PW")

    end = len(text) - 2
    if not (end >= body_start and text.endswith("&&")):
        end = text.rfind("&&")
        if end < body_start:
            end = len(text)
            relax.append("cp-unterminated")
        else:
            relax.append("trailing-after-cp")
    cp = _parse_cp(text[body_start:end], relax)

    if qn is not None and not (len(qn) == 17 and qn.isdigit()):
        relax.append("qn-format")
    if st is not None and len(st) != 2:
        relax.append("st-length")
    if not (len(cn) == 4 and cn.isdigit()):
        relax.append("cn-format")
    if cn not in _ANSWER_CNS:
        if mn is None:
            relax.append("missing-mn")
        if pw is None:
            relax.append("missing-pw")

    if flag is None:
        dialect = Dialect.HJ212_2005
    else:
        found = _VERSION_DIALECT.get(flag >> 2)
        if found is None:
            dialect = Dialect.HJ212_2017
            relax.append("flag-version-unknown")
        else:
            dialect = found
            if dialect is Dialect.HJ212_2025 and (qn or cp.data_time or "9999")[:4] < "2025":
                relax.append("version-bits-predate-2025")
        if flag > 255:
            relax.append("flag-out-of-range")
        if flag & 2:
            if pnum is None and pno is None:
                relax.append("split-flag-without-pnum")
        elif pnum is not None or pno is not None:
            relax.append("pnum-without-split-flag")
    if (pnum is None) != (pno is None):
        relax.append("incomplete-pnum-pno")

    return Packet(
        qn,
        st,
        cn,
        pw,
        mn,
        flag,
        pnum,
        pno,
        cp,
        header,
        dialect,
        crc_variant,
        tuple(dict.fromkeys(relax)) if relax else (),
    )


def _frame_of(data: bytes) -> tuple[RawFrame, list[str]]:
    """Frame the bytes of one whole frame; extra bytes around it are tolerated and flagged."""
    items = split_frames(data)
    for item in items:
        if isinstance(item, RawFrame):
            relax = list(item.relaxations)
            if len(items) > 1:
                relax.append("extra-bytes")
            return item, relax
    detail = "empty input"
    if items and isinstance(items[0], FramingError):
        detail = f"{items[0].reason}: {items[0].detail}"
    raise DecodeError("bad-frame", f"no HJ 212 frame in the bytes given ({detail})")


def _find_cp_marker(text: str) -> tuple[int, int]:
    """Locate a ``CP=&&`` written with other case or spaces; return (start, data-area start)."""
    found = _LOOSE_CP_MARKER.search(text)
    if found is None:
        raise DecodeError("no-cp", "no 'CP=&&' data area in the data segment", "CP")
    return found.start(), found.end()


def _parse_header(text: str, header: dict[str, str], typed: dict[str, str], relax: list[str]) -> None:
    """Parse ``NAME=value`` header items in any order (HJ 212-2017 Table 3; reference §3.4, §3.6)."""
    if text and text[-1] != ";" and text.rstrip()[-1:] not in ("", ";", ","):
        relax.append("missing-separator")
    if "," in text:
        relax.append("comma-separator")
        text = text.replace(",", ";")
    items = text.split(";")
    last = len(items) - 1
    for index, item in enumerate(items):
        key, sep, value = item.partition("=")
        if " " in item or "\t" in item:
            stripped_key = key.strip()
            stripped_value = value.strip()
            if stripped_key != key or stripped_value != value:
                relax.append("stray-space")
            key, value = stripped_key, stripped_value
        if not key:
            if sep or index != last:
                relax.append("empty-item")
            continue
        if not sep:
            relax.append("item-without-value")
        if key in header:
            relax.append("duplicate-item")
            continue
        header[key] = value
        canonical = key if key in _EXACT_HEADER_KEYS else _HEADER_KEYS.get(key.upper())
        if canonical is not None:
            if canonical != key:
                relax.append("header-key-case")
            if canonical in typed:
                relax.append("duplicate-item")
            else:
                typed[canonical] = value


def _header_int(typed: dict[str, str], name: str, reason: str, relax: list[str]) -> int | None:
    text = typed.get(name)
    if text is None:
        return None
    if text.isascii() and text.isdigit():
        return int(text)
    if not text and name == "Flag":
        relax.append("empty-flag")
        return None
    raise DecodeError(reason, f"header item {name}={text!r} is not a non-negative integer", name)


def _parse_cp(body: str, relax: list[str]) -> CpData:
    """Parse the CP data area (HJ 212-2017 §6.3.3; reference §3.6 for the leniency)."""
    fields: dict[str, str] = {}
    factors: dict[str, dict[str, str]] = {}
    if not body:
        return CpData(None, fields, factors)
    if "//" in body:
        items = _split_with_info(body, relax)
    elif "," in body:
        items = body.replace(",", ";").split(";")
    else:
        items = body.split(";")
    spaced = " " in body or "\t" in body or "\r" in body or "\n" in body
    known = FACTOR_SUFFIXES
    for item in items:
        key, sep, value = item.partition("=")
        if spaced:
            stripped_key = key.strip()
            stripped_value = value.strip()
            if stripped_key != key or stripped_value != value:
                relax.append("stray-space")
            key, value = stripped_key, stripped_value
        if not key or not sep:
            if not key:
                relax.append("empty-item")  # e.g. the trailing ';' before '&&' (Appendix A #6)
                continue
            relax.append("item-without-value")
        code, _, suffix = key.rpartition("-")
        if code and suffix:
            group = factors.get(code)
            if group is None:
                factors[code] = {suffix: value}
            elif suffix in group:
                relax.append("duplicate-item")
                continue
            else:
                group[suffix] = value
            if suffix not in known:
                relax.append("cp-unknown-suffix")
        elif key in fields:
            relax.append("duplicate-item")
        else:
            fields[key] = value
    data_time = fields.get("DataTime")
    if data_time is None and fields:
        for key, value in fields.items():
            if key.lower() == "datatime":
                data_time = value
                relax.append("cp-key-case")
                break
    if data_time is not None and not (len(data_time) == 14 and data_time.isdigit()):
        relax.append("datatime-17-digits" if len(data_time) == 17 and data_time.isdigit() else "datatime-format")
    return CpData(data_time, fields, factors)


def _split_with_info(body: str, relax: list[str]) -> list[str]:
    """Split CP items on ``;`` and ``,`` except inside ``//…//`` Info texts (HJ 212-2017 C.40).

    An Info text closes at the first ``//`` followed by a separator or the end of the data area, so
    a log line may itself contain ``;``, ``,`` or ``//``.
    """
    items: list[str] = []
    n = len(body)
    i = 0
    while i <= n:
        semi = body.find(";", i)
        comma = body.find(",", i)
        sep = min(semi if semi >= 0 else n, comma if comma >= 0 else n)
        opening = body.find("//", i, sep)
        if opening < 0 or not body[i:opening].rstrip().endswith("="):
            items.append(body[i:sep])
            i = sep + 1
            continue
        close = body.find("//", opening + 2)
        end = -1
        while close >= 0:
            after = close + 2
            while after < n and body[after] == " ":
                after += 1
            if after == n or body[after] in ";,":
                end = after
                break
            close = body.find("//", close + 1)
        if end < 0:
            relax.append("info-unterminated")
            end = n
        items.append(body[i:end])
        i = end + 1
    return items


# -- encoding ------------------------------------------------------------------------------------


def encode_segment(p: Packet) -> str:
    """Return the data segment text of `p` (HJ 212-2017 §6.3.2, standard header order).

    Header: QN, ST, CN, PW, MN, Flag, PNUM, PNO (those not None), then the other items of
    `p.header` (e.g. ``RF``) as given, then ``CP=&&…&&``. Raises ValueError for a CP value that
    would break the syntax (``;``/``,`` outside ``//…//``, or ``&&``).
    """
    parts: list[str] = []
    for name, value in (
        ("QN", p.qn),
        ("ST", p.st),
        ("CN", p.cn),
        ("PW", p.pw),
        ("MN", p.mn),
        ("Flag", p.flag),
        ("PNUM", p.pnum),
        ("PNO", p.pno),
    ):
        if value is not None:
            parts.append(f"{name}={value}")
    for key, text in p.header.items():
        if key not in _EXACT_HEADER_KEYS and key.upper() not in _HEADER_KEYS:
            parts.append(f"{key}={text}")
    parts.append(f"CP=&&{_encode_cp(p.cp)}&&")
    return ";".join(parts)


def _encode_cp(cp: CpData) -> str:
    items: list[str] = []
    if cp.data_time is not None:
        items.append(f"DataTime={cp.data_time}")
    for key, value in cp.fields.items():
        if cp.data_time is not None and key.lower() == "datatime":
            continue
        _check_value(key, value)
        items.append(f"{key}={value}")
    for code, group in cp.factors.items():
        for suffix, value in group.items():
            _check_value(f"{code}-{suffix}", value)
        items.append(",".join([f"{code}-{suffix}={value}" for suffix, value in group.items()]))
    return ";".join(items)


def _check_value(key: str, value: str) -> None:
    if "&&" in value or ((";" in value or "," in value) and not (value.startswith("//") and value.endswith("//"))):
        raise ValueError(f"CP value of {key} would break the data-area syntax: {value!r}")


def build_frame(segment: str | bytes, crc: CrcVariant = CrcVariant.STANDARD) -> bytes:
    """Wrap a data segment into a frame ``##LLLL<segment>CCCC\\r\\n`` (HJ 212-2017 §6.3.1).

    LLLL counts the bytes of the UTF-8 segment; CCCC is its CRC printed the `crc` way.
    """
    data = segment.encode("utf-8") if isinstance(segment, str) else bytes(segment)
    if len(data) > 9999:
        raise ValueError(f"data segment is {len(data)} bytes; the length field holds at most 9999")
    return b"##%04d%b%b\r\n" % (len(data), data, crc_text(data, crc).encode("ascii"))


def encode(p: Packet, *, crc: CrcVariant = CrcVariant.STANDARD) -> bytes:
    """Return the whole frame of `p` (HJ 212-2017 §6.3.1), its CRC printed the `crc` way."""
    return build_frame(encode_segment(p), crc)
