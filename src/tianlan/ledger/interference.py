"""Interference records (干预留痕): who may file, who may read, what a record holds.

Issue 5 §7. The reform plan requires monitoring staff to record any attempt by officials to
interfere with monitoring — written instructions, letters, verbal opinions, hints — so that it can be
retrieved as evidence. The rules, as decided here:

* any monitoring staff member (:data:`tianlan.auth.roles.INTERFERENCE_FILERS`) may file a record;
* after filing, a record can only be appended to (addenda with their own attachments), never edited
  or deleted — the repository has no such operation and the ledger detects one done with SQL;
* a record is visible only to the sealed readers (:data:`tianlan.auth.roles.SEALED_READERS`:
  discipline inspection and audit) and to its filer — not to administrators or any other role;
* an official named in a record never sees it, even holding a reader role: a named official is
  matched by username (when the filer names the user account) or by display name;
* every read — and every refused attempt — is itself a ledger entry.

Pure functions only; the repository enforces them on every call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tianlan.auth.roles import INTERFERENCE_FILERS, SEALED_READERS, Role
from tianlan.errors import InputError

METHODS: dict[str, str] = {
    "written": "书面指示 / written instruction",
    "letter": "函件 / letter",
    "verbal": "口头意见 / verbal opinion",
    "hint": "暗示 / hint",
    "other": "其他 / other",
}
#: largest attachment accepted, bytes (evidence files: scans, photos, recordings)
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Official:
    """A person named as having interfered."""

    name: str
    position: str = ""
    organisation: str = ""
    username: str = ""  # the platform account, when the filer knows it

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "position": self.position, "organisation": self.organisation,
                "username": self.username}


def parse_official(text: str) -> Official:
    """``name[,position[,organisation[,username]]]`` (the CLI's ``--official``) → Official."""
    parts = [p.strip() for p in text.split(",")]
    if not parts[0]:
        raise InputError("--official", f"needs at least a name: name[,position[,organisation[,username]]], got {text!r}")
    parts += [""] * (4 - len(parts))
    if len(parts) > 4:
        raise InputError("--official", f"at most 4 comma-separated parts, got {text!r}")
    return Official(*parts[:4])


def validate_filing(role: Role, method: str, officials: Sequence[Official], request: str) -> None:
    if role not in INTERFERENCE_FILERS:
        raise InputError("user", f"role {role.value} may not file interference records; monitoring staff only "
                                 "/ 仅监测人员可填报")
    if method not in METHODS:
        raise InputError("--method", f"must be one of {', '.join(METHODS)}, got {method!r}")
    if not officials:
        raise InputError("--official", "name at least one person who interfered / 需填写干预人")
    if not request.strip():
        raise InputError("--request", "required: what was asked / 需填写干预内容")


def named(officials: Sequence[Mapping[str, Any]], username: str, display_name: str) -> bool:
    """Whether the user (``username``, ``display_name``) is among ``officials``."""
    for o in officials:
        if o.get("username") and o["username"] == username:
            return True
        if display_name and o.get("name") and o["name"].strip() == display_name.strip():
            return True
    return False


def may_read(role: Role, username: str, display_name: str, filer: str,
             officials: Sequence[Mapping[str, Any]]) -> str | None:
    """None when the user may read the record, else the reason they may not (for the denial log)."""
    if named(officials, username, display_name):
        return "named in the record / 被记录人"
    if username == filer:
        return None
    if role in SEALED_READERS:
        return None
    return f"role {role.value} is not a sealed reader / 无权查阅"


# Rows of these tables are covered by ledger entries: `tianlan ledger verify` detects an edit or deletion.
from tianlan.ledger import covered as _covered  # noqa: E402

_covered.register("interference_records", ["id"], ["filer", "filed_utc", "occurred_utc", "method", "officials",
                                                   "request", "station"])
_covered.register("interference_addenda", ["id"], ["record_id", "author", "time_utc", "text"])
_covered.register("interference_attachments", ["id"], ["record_id", "addendum_id", "filename", "sha256", "size",
                                                       "data", "added_by", "added_utc"])
