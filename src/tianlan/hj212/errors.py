"""Errors raised by the HJ 212 codec.

Framing problems are not exceptions: `FrameReader` returns them as `FramingError` values so that a
byte stream keeps flowing. `DecodeError` is raised only when a data segment cannot be understood at all.
"""

from __future__ import annotations

from tianlan.errors import TianlanError

__all__ = ["DecodeError"]


class DecodeError(TianlanError, ValueError):
    """A data segment that cannot be understood (HJ 212-2017 §6.3.2).

    `reason` is a short machine code: ``"bad-frame"`` (no frame in the bytes given), ``"bad-encoding"``
    (neither UTF-8 nor GB18030), ``"no-cp"`` (no ``CP=&&``), ``"bad-header"`` (e.g. CN missing, PNUM
    not a number), ``"bad-flag"`` (Flag not an integer). `field` names the item at fault, if any.
    Part of the project's one exception tree (`tianlan.errors.TianlanError`) and a ValueError.
    """

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field

    def __reduce__(self) -> tuple[type[DecodeError], tuple[str, str, str | None]]:
        return (type(self), (self.reason, str(self), self.field))
