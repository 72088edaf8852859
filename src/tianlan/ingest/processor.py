"""The verdict on a received frame: decode, authenticate, extract (pure, no I/O).

Order of checks follows the standard's processing order (framing, CRC, then content) and the
platform policy of the reference §5.1: a frame from an unknown MN or with a wrong PW is archived
and quarantined, never stored as data and never acknowledged (the device will retry).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tianlan.hj212 import CrcVariant, FramingError, RawFrame, decode
from tianlan.hj212.errors import DecodeError
from tianlan.hj212.replies import replies_for, time_set_request
from tianlan.ingest.item import ACCEPTED, IngestItem
from tianlan.ingest.observations import ObservationError, packet_observations
from tianlan.model.timeutil import BEIJING


@dataclass(frozen=True, slots=True)
class DeviceAuth:
    """What the gateway needs to know of a registered device."""

    id: int
    mn: str
    password: str
    crc_variants: frozenset[str]  # always contains "standard" plus the device's configured variant
    active: bool = True

    def __reduce__(self) -> tuple[type[DeviceAuth], tuple[int, str, str, frozenset[str], bool]]:
        # pickle/copy through __init__: a compiled (mypyc) frozen class cannot take the dataclass's setstate
        return (type(self), (self.id, self.mn, self.password, self.crc_variants, self.active))


DeviceLookup = Callable[[str], "DeviceAuth | None"]

# CRC variant → its text as stored (raw_frames.crc_variant); quicker than the enum's .value.
_VARIANT_TEXT: dict[CrcVariant, str] = {variant: variant.value for variant in CrcVariant}


def process_framing_error(err: FramingError, *, received_utc: float, peer: str, channel: str = "tcp") -> IngestItem:
    """A byte run that is not a frame: kept byte for byte as quarantined, with the reason."""
    item = IngestItem(data=err.data, received_utc=received_utc, peer=peer, channel=channel)
    return item.quarantine(f"framing:{err.reason}", err.detail)


def process_frame(
    frame: RawFrame,
    lookup: DeviceLookup,
    *,
    received_utc: float,
    peer: str,
    channel: str = "tcp",
) -> IngestItem:
    """Decode ``frame`` and decide: accepted (with observations and replies) or quarantined."""
    item = IngestItem(data=frame.data, received_utc=received_utc, peer=peer, channel=channel)
    try:
        p = decode(frame)
    except DecodeError as e:
        return item.quarantine(f"decode:{e.reason}", str(e))
    item.mn, item.qn, item.cn = p.mn, p.qn, p.cn
    framing = frame.relaxations
    if framing:
        relax = tuple(framing) + tuple(r for r in p.relaxations if r not in framing)
        item.relaxations = ",".join(relax)
    elif p.relaxations:
        item.relaxations = ",".join(p.relaxations)
    variant = p.crc_variant
    crc_text = _VARIANT_TEXT[variant] if variant is not None else None
    item.crc_variant = crc_text
    if not p.mn:
        return item.quarantine("no-mn", "MN: missing from the header / 包头缺少 MN")
    dev = lookup(p.mn)
    if dev is None:
        return item.quarantine("unknown-mn", f"MN: {p.mn!r} is not a registered device / 未登记的设备")
    item.device_id = dev.id
    if not dev.active:
        return item.quarantine("inactive-device", f"MN: device {p.mn!r} is deactivated / 设备已停用")
    if crc_text is None:
        crc = frame.crc_field.decode("ascii", "replace")
        return item.quarantine("bad-crc", f"CRC: {crc!r} matches no CRC variant / 校验码错误")
    if crc_text not in dev.crc_variants:
        return item.quarantine(
            "crc-variant",
            f"CRC: matches {crc_text} but device {p.mn!r} is registered for "
            f"{'/'.join(sorted(dev.crc_variants))} / 校验算法与登记不符",
        )
    if p.pw != dev.password:
        return item.quarantine("wrong-password", f"PW: wrong password for device {p.mn!r} / 访问密码错误")
    try:
        item.obs = packet_observations(p)
    except ObservationError as e:
        return item.quarantine("bad-datatime" if e.field == "DataTime" else "bad-data", str(e))
    item.status = ACCEPTED
    replies = replies_for(p)
    if p.cn == "1013" and p.mn and p.pw is not None:
        # A device asking for time calibration gets 9013, then the platform's clock as 1012
        # (HJ 212-2017 §6.5 and App. C.4), in Beijing time as devices keep it.
        now = datetime.fromtimestamp(received_utc, BEIJING)
        replies.append(time_set_request(mn=p.mn, pw=p.pw, st=p.st or "22", system_time=now,
                                        pol_id=p.cp.fields.get("PolId"), dialect=p.dialect,
                                        crc=p.crc_variant or CrcVariant.STANDARD))
    item.replies = replies
    return item


STANDARD = CrcVariant.STANDARD.value
