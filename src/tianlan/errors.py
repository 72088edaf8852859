"""The one exception tree of Tianlan.

Every rejection of input names the field and the reason, so that a person reading a CLI error, an
API response or a quarantine record knows what to fix.
"""

from __future__ import annotations


class TianlanError(Exception):
    """Base of every error Tianlan raises on purpose."""


class ConfigError(TianlanError):
    """A setting is missing or malformed (names the setting)."""


class InputError(TianlanError):
    """Bad input from a user, a file or a device: names the field and the reason.

    ``field`` is the name of the offending field (a CSV column, a YAML key, a CLI option, an HJ 212
    header item); ``reason`` says what is wrong with it in words a user can act on.
    """

    def __init__(self, field: str, reason: str, *, where: str | None = None) -> None:
        self.field = field
        self.reason = reason
        self.where = where
        loc = f"{where}: " if where else ""
        super().__init__(f"{loc}{field}: {reason}")


class NotFound(TianlanError):
    """A referenced object (device, site, region…) does not exist."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found / 未找到")


class Conflict(TianlanError):
    """The object already exists or the change conflicts with stored state."""


class StoreError(TianlanError):
    """The store cannot be opened, migrated or written."""


class AuthError(TianlanError):
    """Authentication failed: unknown user or key, wrong password, disabled account, revoked key.

    The message never says which of these it was (no account enumeration); ``reason`` keeps it for logs.
    """

    def __init__(self, message: str = "认证失败 / authentication failed", *, reason: str = "") -> None:
        self.reason = reason
        super().__init__(message)
