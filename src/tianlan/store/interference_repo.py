"""Interference records (干预留痕) in the store: file, append, read — every read logged in the ledger.

The repository offers no update and no delete. Filing and each addendum or attachment are ledger
entries on covered rows, so an edit or deletion done with SQL is reported by ``tianlan ledger
verify``. Every read (a record shown, an attachment fetched, a list) is a ledger entry naming the
reader, and so is every refused attempt. Ledger payloads carry ids and digests only, never the
content or the names, so the ledger itself does not leak a sealed record to those who read it.

A refusal says the same thing whether the record exists or not ("no record N visible to you"), so
a named official learns nothing by probing ids; the ledger keeps the real reason.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select

from tianlan.errors import InputError
from tianlan.ledger import interference as itf
from tianlan.ledger.chain import append_entry
from tianlan.store.records_repo import Actor, active, ledger, load_station
from tianlan.store.schema_ledger import ledger_entries as le
from tianlan.store.schema_records import interference_addenda as ia
from tianlan.store.schema_records import interference_attachments as iat
from tianlan.store.schema_records import interference_records as ir

READ_KINDS = ("interference.read", "interference.list", "interference.denied")


@dataclass
class Record:
    id: int
    filer: str
    filed_utc: float
    occurred_utc: int
    method: str
    officials: builtins.list[dict[str, str]]
    request: str
    station: str | None
    addenda: builtins.list[dict[str, Any]] = field(default_factory=list)
    attachments: builtins.list[dict[str, Any]] = field(default_factory=list)  # id, addendum_id, filename, sha256, size, ok
    reads: builtins.list[dict[str, Any]] = field(default_factory=list)  # the access log (sealed readers only)


def _record(r) -> Record:  # type: ignore[no-untyped-def]
    return Record(int(r.id), r.filer, float(r.filed_utc), int(r.occurred_utc), r.method, json.loads(r.officials),
                  r.request, r.station)


class InterferenceRepo:
    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    # --- writes -----------------------------------------------------------------------------------

    def file(self, user: Actor, *, occurred_utc: int, method: str, officials: Sequence[itf.Official], request: str,
             station: str | None = None, attachments: Sequence[tuple[str, bytes]] = ()) -> int:
        """File a record; returns its id."""
        active(user)
        itf.validate_filing(user.role, method, officials, request)
        now = self.clock()
        if occurred_utc > now + 300:
            raise InputError("--when", "is in the future / 时间晚于当前")
        with self.engine.begin() as conn:
            if station:
                station = load_station(conn, station).code
            row = {"filer": user.username, "filed_utc": now, "occurred_utc": occurred_utc, "method": method,
                   "officials": json.dumps([o.as_dict() for o in officials], ensure_ascii=False),
                   "request": request.strip(), "station": station}
            rid = int(conn.execute(ir.insert().values(**row).returning(ir.c.id)).scalar_one())
            ledger(conn, kind="interference.file", user=user.username, table="interference_records", row_id=rid,
                   payload={"record": rid})
            self._attach(conn, user, rid, None, attachments)
            return rid

    def append(self, user: Actor, record_id: int, text: str, attachments: Sequence[tuple[str, bytes]] = ()) -> int:
        """Append an addendum (and its attachments) to a record the user may read; returns its id."""
        if not text.strip():
            raise InputError("--text", "required / 需填写补充内容")
        with self.engine.begin() as conn:
            self._readable(conn, user, record_id, "append")
            aid = int(conn.execute(ia.insert().values(record_id=record_id, author=user.username, time_utc=self.clock(),
                                                      text=text.strip()).returning(ia.c.id)).scalar_one())
            ledger(conn, kind="interference.append", user=user.username, table="interference_addenda", row_id=aid,
                   payload={"record": record_id, "addendum": aid})
            self._attach(conn, user, record_id, aid, attachments)
            return aid

    # --- reads (each logged) ----------------------------------------------------------------------

    def show(self, user: Actor, record_id: int) -> Record:
        """The record with its addenda, attachment list (hashes checked) and, for sealed readers, its access log."""
        with self.engine.begin() as conn:
            rec = self._readable(conn, user, record_id, "show")
            rec.addenda = [{"id": int(a.id), "author": a.author, "time_utc": float(a.time_utc), "text": a.text}
                           for a in conn.execute(select(ia).where(ia.c.record_id == record_id).order_by(ia.c.id))]
            for a in conn.execute(select(iat).where(iat.c.record_id == record_id).order_by(iat.c.id)):
                rec.attachments.append({"id": int(a.id), "addendum_id": a.addendum_id, "filename": a.filename,
                                        "sha256": a.sha256, "size": int(a.size), "added_by": a.added_by,
                                        "ok": hashlib.sha256(bytes(a.data)).hexdigest() == a.sha256})
            append_entry(conn, kind="interference.read", actor=user.username,
                         payload={"record": record_id, "what": "show"})
            rec.reads = self._reads(conn, record_id)
            return rec

    def attachment(self, user: Actor, record_id: int, attachment_id: int) -> tuple[str, bytes, str]:
        """(filename, bytes, sha256) of one attachment; InputError when the stored bytes no longer hash to it."""
        with self.engine.begin() as conn:
            self._readable(conn, user, record_id, "attachment")
            a = conn.execute(select(iat).where(iat.c.id == attachment_id, iat.c.record_id == record_id)).first()
            if a is None:
                raise InputError("--attachment", f"record {record_id} has no attachment {attachment_id}")
            append_entry(conn, kind="interference.read", actor=user.username,
                         payload={"record": record_id, "what": "attachment", "attachment": attachment_id})
            data = bytes(a.data)
        if hashlib.sha256(data).hexdigest() != a.sha256:
            raise InputError("--attachment", f"attachment {attachment_id} does not match its SHA-256; the stored copy "
                                             "was altered / 附件已被篡改")
        return a.filename, data, a.sha256

    def list(self, user: Actor) -> builtins.list[Record]:
        """The records the user may read (a named official never sees one naming them); the list is logged."""
        active(user)
        out = []
        with self.engine.begin() as conn:
            for r in conn.execute(select(ir).order_by(ir.c.id.desc())):
                rec = _record(r)
                if itf.may_read(user.role, user.username, user.display_name, rec.filer, rec.officials) is None:
                    out.append(rec)
            append_entry(conn, kind="interference.list", actor=user.username,
                         payload={"records": [r.id for r in out]})
        return out

    # --- internals --------------------------------------------------------------------------------

    def _readable(self, conn: Connection, user: Actor, record_id: int, what: str) -> Record:
        r = conn.execute(select(ir).where(ir.c.id == record_id)).first()
        reason = "inactive user" if not user.active else ("no such record" if r is None else
                                                          itf.may_read(user.role, user.username, user.display_name,
                                                                       r.filer, json.loads(r.officials)))
        if reason is not None:
            # the refusal is logged in its own transaction, so it survives the error raised here
            with self.engine.begin() as c2:
                append_entry(c2, kind="interference.denied", actor=user.username,
                             payload={"record": record_id, "what": what, "reason": reason})
            raise InputError("record", f"no interference record {record_id} visible to {user.username} / 无权查阅或不存在")
        return _record(r)

    def _attach(self, conn: Connection, user: Actor, record_id: int, addendum_id: int | None,
                attachments: Sequence[tuple[str, bytes]]) -> None:
        for name, data in attachments:
            if len(data) > itf.MAX_ATTACHMENT_BYTES:
                raise InputError("--attach", f"{name}: {len(data)} bytes > {itf.MAX_ATTACHMENT_BYTES} / 附件过大")
            digest = hashlib.sha256(data).hexdigest()
            aid = int(conn.execute(iat.insert().values(
                record_id=record_id, addendum_id=addendum_id, filename=name, sha256=digest, size=len(data), data=data,
                added_by=user.username, added_utc=self.clock()).returning(iat.c.id)).scalar_one())
            ledger(conn, kind="interference.attach", user=user.username, table="interference_attachments", row_id=aid,
                   payload={"record": record_id, "attachment": aid, "sha256": digest, "size": len(data)})

    @staticmethod
    def _reads(conn: Connection, record_id: int) -> builtins.list[dict[str, Any]]:
        out = []
        q = select(le.c.seq, le.c.time_utc, le.c.kind, le.c.actor, le.c.payload).where(le.c.kind.in_(READ_KINDS))
        for r in conn.execute(q.order_by(le.c.seq)):
            p = json.loads(r.payload)
            if p.get("record") == record_id or record_id in p.get("records", ()):
                out.append({"seq": int(r.seq), "time_utc": float(r.time_utc), "kind": r.kind, "actor": r.actor,
                            "what": p.get("what", "list"), "reason": p.get("reason")})
        return out
