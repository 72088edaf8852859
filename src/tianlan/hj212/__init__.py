"""tianlan.hj212 — sans-I/O codec for HJ 212 (HJ/T 212-2005, HJ 212-2017, HJ 212-2025 dialects).

Bytes in, frames and packets out; packets in, bytes out. No sockets, no database, no clocks except
where a caller asks for a fresh QN. Typical use per connection::

    reader = FrameReader()
    for item in reader.feed(received):
        if isinstance(item, FramingError):
            quarantine(item.data, item.reason)
            continue
        packet = decode(item, crc_variants=device_variants)
        for answer in replies_for(packet):
            send(answer)
"""

# First: decide between the compiled modules (mypyc) and their Python sources (see _native).
from . import _native  # noqa: F401, I001
from .codes import CODE_2005_TO_2017, PARAMETERS, normalise_code
from .crc import CrcVariant, crc_text, hj212_crc, match_crc, modbus_crc
from .errors import DecodeError
from .framing import FrameReader, FramingError, RawFrame, split_frames
from .packet import (
    CpData,
    Dialect,
    Packet,
    build_frame,
    decode,
    encode,
    encode_segment,
    info_text,
    make_cp,
)
from .replies import (
    command_request,
    data_ack,
    exec_result,
    is_upload,
    new_qn,
    notice_ack,
    replies_for,
    request_ack,
    time_get_request,
    time_set_request,
)
from .subpacket import Reassembler

__all__ = [
    "CODE_2005_TO_2017",
    "PARAMETERS",
    "CpData",
    "CrcVariant",
    "DecodeError",
    "Dialect",
    "FrameReader",
    "FramingError",
    "Packet",
    "RawFrame",
    "Reassembler",
    "build_frame",
    "command_request",
    "crc_text",
    "data_ack",
    "decode",
    "encode",
    "encode_segment",
    "exec_result",
    "hj212_crc",
    "info_text",
    "is_upload",
    "make_cp",
    "match_crc",
    "modbus_crc",
    "new_qn",
    "normalise_code",
    "notice_ack",
    "replies_for",
    "request_ack",
    "split_frames",
    "time_get_request",
    "time_set_request",
]
