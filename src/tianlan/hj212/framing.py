"""Framing: turn a TCP byte stream into HJ 212 frames (HJ 212-2017 §6.3.1, Table 2).

A frame is ``"##" LLLL <data segment> CCCC "\\r\\n"``: LLLL is the size of the data segment as four
decimal digits, CCCC the CRC of the segment as four hex digits. TCP delivers frames merged and split
(粘包/拆包) and sometimes with garbage between them; `FrameReader` is a sans-I/O state machine that
is fed bytes and returns whole frames and framing errors, in stream order, never losing a byte: every
byte it is given comes back exactly once, inside a `RawFrame` or inside a `FramingError`.

Leniency (each use is recorded in `RawFrame.relaxations`, reference §1 and §7):

* ``length-over-1024``: LLLL above the standard's 1024, accepted up to `max_length`;
* ``length-by-characters`` / ``length-by-characters-gb18030``: LLLL counts characters, not bytes,
  of a segment holding Chinese text (UTF-8 tried first, then GB18030);
* ``length-mismatch``: LLLL is wrong but the segment closes with ``&&`` + a matching CRC + CR LF;
* ``missing-crlf`` / ``partial-crlf``: no terminator, or a lone CR or LF, accepted when the next
  bytes are ``##`` or the CRC matches.

Framing never decides the CRC verdict (`decode` does, since the variant depends on the device); it
uses an any-variant CRC match only as a structural hint in the lenient paths above. On a structural
failure only the bytes up to the next ``##`` are discarded (returned as a `FramingError`) and the
reader resynchronises there.
"""

from __future__ import annotations

from dataclasses import dataclass

from .crc import match_crc

__all__ = ["STANDARD_MAX_LENGTH", "FrameReader", "FramingError", "RawFrame", "split_frames"]

STANDARD_MAX_LENGTH = 1024
"""Largest data segment the standard allows (HJ 212-2017 §6.3.1)."""

_HEX = frozenset(b"0123456789ABCDEFabcdef")
_NO_RELAXATIONS: tuple[str, ...] = ()
_WAIT = -1
_FAIL = -2
# What a reader may assume at the end of its buffer: more bytes may follow (_STREAM); the peer went
# quiet, so a frame lacking only its terminator is accepted if its CRC matches (_IDLE); the bytes are
# the whole input, so such a frame is accepted whatever its CRC (_EOF).
_STREAM = 0
_IDLE = 1
_EOF = 2


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One frame exactly as received (HJ 212-2017 §6.3.1).

    `data` holds the bytes from ``##`` through the CR LF (or through the CRC when the terminator was
    missing); `segment` the data segment the CRC covers; `crc_field` the four transmitted CRC
    characters; `relaxations` a code for every leniency the reader needed (module docstring).
    """

    data: bytes
    segment: bytes
    crc_field: bytes
    relaxations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FramingError:
    """Bytes the reader had to discard, with why.

    `reason` is a machine code: ``garbage`` (bytes outside any frame), ``bad-length`` (LLLL not four
    digits, or not ending at a CRC field), ``oversize`` (LLLL above the reader's `max_length`),
    ``bad-terminator`` (a CRC field followed by neither CR LF, ``##`` nor a matching CRC),
    ``truncated`` (a frame cut off by the start of another one, or by the end of the stream).
    `data` holds the discarded bytes, `detail` a human-readable explanation.
    """

    reason: str
    data: bytes
    detail: str = ""


class FrameReader:
    """Sans-I/O HJ 212 frame reader: `feed` bytes in, take `RawFrame`s and `FramingError`s out.

    One reader per connection. `max_length` caps the declared segment length LLLL (9999 = anything
    the 4-digit field can say; the standard's limit is 1024, HJ 212-2017 §6.3.1). A frame whose
    declared length exceeds the cap is refused as ``oversize`` without waiting for its bytes, and
    LLLL that is not four digits is an error at once, so a bad header never stalls the stream.
    """

    __slots__ = ("_buf", "max_length")

    def __init__(self, max_length: int = 9999) -> None:
        if not 0 <= max_length <= 9999:
            raise ValueError(f"max_length must be within 0..9999, got {max_length}")
        self.max_length = max_length
        self._buf = b""

    @property
    def buffered(self) -> int:
        """Number of bytes held back, waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[RawFrame | FramingError]:
        """Add received bytes; return the frames and errors they complete, in stream order."""
        buf = self._buf + data if self._buf else bytes(data)
        out: list[RawFrame | FramingError] = []
        pos = self._parse(buf, out, _STREAM)
        self._buf = buf[pos:]
        return out

    def idle(self) -> list[RawFrame | FramingError]:
        """Deliver a buffered frame that lacks only its CR LF, when its CRC matches any variant.

        Call when the peer has gone quiet (e.g. 200 ms without bytes) so that a device that never
        sends CR LF is answered promptly instead of when its next frame arrives. The frame carries the
        relaxation ``missing-crlf`` (or ``partial-crlf`` after a lone CR). If the terminator arrives
        later after all, those bytes come out as a ``garbage`` error.
        """
        out: list[RawFrame | FramingError] = []
        if self._buf:
            pos = self._parse(self._buf, out, _IDLE)
            self._buf = self._buf[pos:]
        return out

    def flush(self) -> list[FramingError]:
        """End of stream: return what is still buffered as a ``truncated`` or ``garbage`` error.

        Nothing is silently dropped. Call `idle` first to rescue a last frame that only lacks CR LF.
        """
        buf = self._buf
        self._buf = b""
        if not buf:
            return []
        if buf.startswith(b"##"):
            return [FramingError("truncated", buf, f"stream ended inside a frame ({len(buf)} bytes)")]
        return [FramingError("garbage", buf, "stream ended with bytes outside a frame")]

    # -- parsing -------------------------------------------------------------------------------

    def _parse(self, buf: bytes, out: list[RawFrame | FramingError], mode: int) -> int:
        """Append what `buf` holds to `out`; return the offset of the first byte still pending."""
        n = len(buf)
        pos = 0
        while pos < n:
            start = buf.find(b"##", pos)
            if start < 0:
                # A trailing '#' may be the first half of the next frame's "##".
                end = n - 1 if buf[n - 1] == 0x23 and mode != _EOF else n
                if end > pos:
                    out.append(FramingError("garbage", buf[pos:end], "bytes outside a frame"))
                return end
            if start > pos:
                out.append(FramingError("garbage", buf[pos:start], "bytes before a frame header"))
            nxt = self._frame_at(buf, start, out, mode)
            if nxt < 0:
                return start
            pos = nxt
        return pos

    def _frame_at(self, buf: bytes, s: int, out: list[RawFrame | FramingError], mode: int) -> int:
        """Handle the frame starting at `s`; return the offset after it, or _WAIT for more bytes."""
        n = len(buf)
        head = buf[s + 2 : s + 6]
        if len(head) < 4:
            if head and not head.isdigit():
                return self._drop(buf, s, out, "bad-length", f"length field {head!r} is not 4 digits")
            if mode == _EOF:
                return self._drop(buf, s, out, "truncated", "input ended inside a frame header")
            return _WAIT
        if not head.isdigit():
            return self._drop(buf, s, out, "bad-length", f"length field {head!r} is not 4 digits")
        length = int(head)
        if length > self.max_length:
            return self._drop(buf, s, out, "oversize", f"declared length {length} exceeds the cap of {self.max_length}")
        seg_end = s + 6 + length
        relax = ("length-over-1024",) if length > STANDARD_MAX_LENGTH else _NO_RELAXATIONS
        if n >= seg_end + 4:
            end, term = _close(buf, s, seg_end, mode)
            if end >= 0:
                return self._accept(buf, s, seg_end, end, relax + term, out)
            if end == _WAIT:
                return self._wait(buf, s, out, mode)
            # The structure does not close at the byte length: maybe LLLL counts characters.
            found = _by_characters(buf, s, length, mode)
            if isinstance(found, tuple):
                seg_end, end, codes = found
                return self._accept(buf, s, seg_end, end, relax + codes, out)
            if found == _WAIT:
                return self._wait(buf, s, out, mode)
            recovered = self._length_mismatch(buf, s, out)
            if recovered >= 0:
                return recovered
            if _HEX.issuperset(buf[seg_end : seg_end + 4]):
                reason, detail = "bad-terminator", "CRC field not followed by CR LF, '##' or a matching CRC"
            else:
                reason, detail = "bad-length", f"declared length {length} does not end at a CRC field"
            return self._drop(buf, s, out, reason, detail)
        return self._wait(buf, s, out, mode)

    def _accept(
        self, buf: bytes, s: int, seg_end: int, end: int, relax: tuple[str, ...], out: list[RawFrame | FramingError]
    ) -> int:
        """Emit the frame buf[s:end] unless it is a false start swallowing a real frame.

        A stray ``##dddd`` in garbage can declare a length that happens to end exactly where the
        next real frame ends. So when a ``##`` occurs inside the frame and the outer CRC matches no
        variant, a complete CRC-valid frame starting there wins, and the prefix is ``truncated``.
        """
        q = buf.find(b"##", s + 2, end)
        if q >= 0 and match_crc(buf[s + 6 : seg_end], buf[seg_end : seg_end + 4]) is None:
            while q >= 0:
                if self._complete_frame_at(buf, q):
                    out.append(FramingError("truncated", buf[s:q], "frame cut off by the start of another frame"))
                    return q
                q = buf.find(b"##", q + 1, end)
        out.append(RawFrame(buf[s:end], buf[s + 6 : seg_end], buf[seg_end : seg_end + 4], relax))
        return end

    def _wait(self, buf: bytes, s: int, out: list[RawFrame | FramingError], mode: int) -> int:
        """Wait for more bytes of the frame at `s`, unless the bytes already there settle it.

        Two cases settle it: the segment already closes with ``&&`` + matching CRC + CR LF before the
        declared length (the length is wrong), or a complete, CRC-valid frame starts inside the
        awaited span (this frame was cut off). Without these checks a truncated frame would hold back
        the valid frames behind it until enough further bytes arrived.
        """
        recovered = self._length_mismatch(buf, s, out)
        if recovered >= 0:
            return recovered
        q = buf.find(b"##", s + 2)
        while q >= 0:
            if self._complete_frame_at(buf, q):
                out.append(FramingError("truncated", buf[s:q], "frame cut off by the start of another frame"))
                return q
            q = buf.find(b"##", q + 1)
        if mode == _EOF:
            return self._drop(buf, s, out, "truncated", "input ended inside a frame")
        return _WAIT

    def _length_mismatch(self, buf: bytes, s: int, out: list[RawFrame | FramingError]) -> int:
        """Accept the frame at `s` if it closes with ``&&`` + matching CRC + CR LF before the next
        ``##``, whatever LLLL says (relaxation ``length-mismatch``); return its end or -1."""
        limit = buf.find(b"##", s + 2)
        if limit < 0:
            limit = len(buf)
        p = buf.find(b"\r\n", s + 12, limit)
        while p >= 0:
            seg_end = p - 4
            if (
                buf[seg_end - 2 : seg_end] == b"&&"
                and seg_end - s - 6 <= self.max_length
                and match_crc(buf[s + 6 : seg_end], buf[seg_end:p]) is not None
            ):
                relax: tuple[str, ...] = ("length-mismatch",)
                if seg_end - s - 6 > STANDARD_MAX_LENGTH:
                    relax = ("length-over-1024", "length-mismatch")
                out.append(RawFrame(buf[s : p + 2], buf[s + 6 : seg_end], buf[seg_end:p], relax))
                return p + 2
            p = buf.find(b"\r\n", p + 1, limit)
        return -1

    def _complete_frame_at(self, buf: bytes, q: int) -> bool:
        """Whether a whole, CRC-valid, CR LF-terminated frame by its byte length starts at `q`."""
        head = buf[q + 2 : q + 6]
        if len(head) < 4 or not head.isdigit():
            return False
        seg_end = q + 6 + int(head)
        if int(head) > self.max_length or len(buf) < seg_end + 6:
            return False
        if buf[seg_end + 4 : seg_end + 6] != b"\r\n":
            return False
        return match_crc(buf[q + 6 : seg_end], buf[seg_end : seg_end + 4]) is not None

    def _drop(self, buf: bytes, s: int, out: list[RawFrame | FramingError], reason: str, detail: str) -> int:
        """Discard from `s` up to the next ``##`` (resynchronise there); return that offset."""
        n = len(buf)
        q = buf.find(b"##", s + 1)
        if q < 0:
            q = n - 1 if buf[n - 1] == 0x23 and n - 1 > s else n
        out.append(FramingError(reason, buf[s:q], detail))
        return q


def _close(buf: bytes, s: int, seg_end: int, mode: int) -> tuple[int, tuple[str, ...]]:
    """Check that a CRC field and a terminator follow a segment ending at `seg_end`.

    Returns (frame end, relaxations), or (_WAIT, ()) when the bytes so far cannot tell, or
    (_FAIL, ()) when the structure does not close there.
    """
    crc_end = seg_end + 4
    crc_field = buf[seg_end:crc_end]
    if len(crc_field) < 4:
        return _WAIT, _NO_RELAXATIONS
    if not _HEX.issuperset(crc_field):
        return _FAIL, _NO_RELAXATIONS
    tail = buf[crc_end : crc_end + 2]
    if tail == b"\r\n":
        return crc_end + 2, _NO_RELAXATIONS
    if tail == b"" or tail == b"\r" or tail == b"#":
        # Only the end of the buffer follows: CR LF or the next "##" may still be on its way.
        if mode == _STREAM:
            return _WAIT, _NO_RELAXATIONS
        if mode == _IDLE and match_crc(buf[s + 6 : seg_end], crc_field) is None:
            return _WAIT, _NO_RELAXATIONS
        if tail == b"\r":
            return crc_end + 1, ("partial-crlf",)
        return crc_end, ("missing-crlf",)
    if tail[0] == 0x0D or tail[0] == 0x0A:
        end, code = crc_end + 1, "partial-crlf"
    else:
        end, code = crc_end, "missing-crlf"
    if buf[end : end + 2] == b"##" or match_crc(buf[s + 6 : seg_end], crc_field) is not None:
        return end, (code,)
    return _FAIL, _NO_RELAXATIONS


def _by_characters(buf: bytes, s: int, length: int, mode: int) -> tuple[int, int, tuple[str, ...]] | int:
    """Retry a frame whose LLLL counts characters (UTF-8, then GB18030) instead of bytes (reference §1).

    Returns (segment end, frame end, relaxations), _WAIT, or _FAIL.
    """
    if buf[s + 6 : s + 6 + length].isascii():
        return _FAIL  # characters are bytes here; nothing to retry
    verdict = _FAIL
    for code, counter in (("length-by-characters", _utf8_end), ("length-by-characters-gb18030", _gb18030_end)):
        seg_end = counter(buf, s + 6, length)
        if seg_end < 0:
            verdict = _WAIT
            continue
        end, term = _close(buf, s, seg_end, mode)
        if end >= 0:
            return seg_end, end, (code, *term)
        if end == _WAIT:
            verdict = _WAIT
    return verdict


def _utf8_end(buf: bytes, start: int, chars: int) -> int:
    """Offset just after `chars` UTF-8 characters from `start`, or -1 if the buffer ends first."""
    count = 0
    n = len(buf)
    i = start
    while i < n:
        if buf[i] & 0xC0 != 0x80:  # not a continuation byte: a character starts here
            if count == chars:
                return i
            count += 1
        i += 1
    return -1


def _gb18030_end(buf: bytes, start: int, chars: int) -> int:
    """Offset just after `chars` GB18030 characters (1, 2 or 4 bytes) from `start`, or -1."""
    n = len(buf)
    i = start
    for _ in range(chars):
        if i >= n:
            return -1
        b = buf[i]
        if 0x81 <= b <= 0xFE:
            if i + 1 >= n:
                return -1
            i += 4 if 0x30 <= buf[i + 1] <= 0x39 else 2
        else:
            i += 1
    return i if i <= n else -1


def split_frames(data: bytes, max_length: int = 9999) -> list[RawFrame | FramingError]:
    """Frame a complete byte string (a captured log, a replayed file, one datagram).

    Like `FrameReader.feed` followed by the end of the stream: a last frame lacking only its CR LF is
    accepted (``missing-crlf``) and unfinished bytes come back as ``truncated``/``garbage`` errors.
    """
    reader = FrameReader(max_length)
    out: list[RawFrame | FramingError] = []
    buf = bytes(data)
    pos = reader._parse(buf, out, _EOF)
    if pos < len(buf):
        reader._buf = buf[pos:]
        out.extend(reader.flush())
    return out
