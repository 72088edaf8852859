"""Chain of custody in the store: samples and their signed steps, access-checked, each a ledger entry.

Who may record steps (:data:`CUSTODY_ROLES`): monitoring agencies and the city and provincial
centres (manual monitoring). Who may read a sample: users of the sampling organisation's scope,
anyone who has taken part in its chain (an actor or a receiver), province-wide roles, and region
roles whose region holds the sampled site. The order rules are :mod:`tianlan.ledger.custody`.
"""

from __future__ import annotations

import base64
import builtins
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select

from tianlan.auth.roles import SCOPE_OF, Role, ScopeKind
from tianlan.errors import Conflict, InputError, NotFound
from tianlan.ledger import custody as cu
from tianlan.store.records_repo import Access, Actor, active, ledger, ledger_proof, load_station, not_found, verify_by
from tianlan.store.schema_records import custody_samples as cs
from tianlan.store.schema_records import custody_steps as cst

#: roles that record custody steps (manual and laboratory monitoring staff)
CUSTODY_ROLES = frozenset({Role.AGENCY, Role.CITY, Role.PROVINCE})
#: roles that read every sample (oversight)
CUSTODY_OVERSIGHT = frozenset({Role.ADMIN, Role.PROVINCE, Role.AUDIT, Role.DISCIPLINE})


@dataclass
class Sample:
    """A sample with its steps (oldest first) and, per step, whether its signature verifies."""

    id: int
    code: str
    owner_scope: str
    site_code: str | None
    created_by: str
    created_utc: float
    steps: builtins.list[cu.Step] = field(default_factory=list)
    step_ids: builtins.list[int] = field(default_factory=list)
    signatures: builtins.list[str] = field(default_factory=list)
    signature_ok: builtins.list[bool] = field(default_factory=list)

    @property
    def holder(self) -> str | None:
        return cu.holder(self.steps)

    @property
    def reported(self) -> bool:
        return any(s.step == "report" for s in self.steps)


class CustodyRepo:
    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.access = Access(engine)
        self.clock = clock

    # --- writes -----------------------------------------------------------------------------------

    def record(self, user: Actor, password: str, code: str, step: str, time_utc: int,
               details: Mapping[str, Any], *, site: str | None = None) -> cu.Step:
        """Record and sign one step of sample ``code`` (a ``sample`` step creates the sample)."""
        from tianlan.auth.users import UsersRepo

        active(user)
        if user.role not in CUSTODY_ROLES:
            raise InputError("user", f"{user.username} ({user.role.value}) may not record custody steps; roles allowed: "
                                     f"{', '.join(sorted(r.value for r in CUSTODY_ROLES))} / 无此权限")
        code = code.strip()
        if not code or len(code) > 64:
            raise InputError("--sample", "sample number: 1-64 characters / 样品编号")
        users = UsersRepo(self.engine)
        for f in ("to", "reviewer"):
            if step in ("transfer", "report") and f in details and details[f]:
                try:
                    ok = users.get(str(details[f])).active
                except NotFound:
                    ok = False
                if not ok:
                    raise InputError(f, f"no active user {details[f]!r} / 无此用户")
        with self.engine.begin() as conn:
            if step == "sample":
                if conn.execute(select(cs.c.id).where(cs.c.code == code)).first() is not None:
                    raise Conflict(f"--sample: sample {code!r} already recorded / 样品编号已存在")
                if site:
                    load_station(conn, site, field="--site")
                sample = Sample(0, code, user.scope, site, user.username, self.clock())
            else:
                sample = self._load(conn, code)
                self._require_write(user, sample)
            new = cu.Step(step, int(time_utc), user.username, dict(details), seq=len(sample.steps) + 1)
            cu.validate(sample.steps, new, now_utc=self.clock())
            sig = users.sign_as(user.username, password, cu.message(code, new.seq, new))
            if step == "sample":
                row = {"code": code, "owner_scope": user.scope, "site_code": site, "created_by": user.username,
                       "created_utc": sample.created_utc}
                sample.id = int(conn.execute(cs.insert().values(**row).returning(cs.c.id)).scalar_one())
                ledger(conn, kind="custody.sample", user=user.username, table="custody_samples", row_id=sample.id,
                       payload=row)
            srow = {"sample_id": sample.id, "seq": new.seq, "step": step, "time_utc": new.time_utc,
                    "actor": user.username, "details": json.dumps(new.details, ensure_ascii=False, sort_keys=True),
                    "signature": base64.b64encode(sig).decode(), "recorded_utc": self.clock()}
            sid = int(conn.execute(cst.insert().values(**srow).returning(cst.c.id)).scalar_one())
            ledger(conn, kind=f"custody.{step}", user=user.username, table="custody_steps", row_id=sid,
                   payload={**srow, "sample": code, "details": new.details})
            return new

    # --- reads ------------------------------------------------------------------------------------

    def get(self, user: Actor, code: str, *, with_proof: bool = False) -> tuple[Sample, builtins.list[dict[str, Any]]]:
        """The sample with its steps and verified signatures; with ``with_proof`` the ledger proof
        of the sample row and of each step (:func:`tianlan.store.records_repo.ledger_proof`)."""
        with self.engine.connect() as conn:
            s = self._load(conn, code)
            self._require_read(conn, user, s)
            proofs = []
            if with_proof:
                proofs.append(ledger_proof(conn, "custody_samples", s.id))
                proofs += [ledger_proof(conn, "custody_steps", i) for i in s.step_ids]
            for st, sig in zip(s.steps, s.signatures, strict=True):
                s.signature_ok.append(verify_by(conn, st.actor, cu.message(s.code, st.seq, st), base64.b64decode(sig)))
        return s, proofs

    def list(self, user: Actor, *, limit: int = 200) -> builtins.list[Sample]:
        out = []
        with self.engine.connect() as conn:
            for code in conn.execute(select(cs.c.code).order_by(cs.c.id.desc())).scalars():
                s = self._load(conn, code)
                if self._may_read(conn, user, s):
                    out.append(s)
                    if len(out) >= limit:
                        break
        return out

    # --- internals --------------------------------------------------------------------------------

    def _load(self, conn: Connection, code: str) -> Sample:
        r = conn.execute(select(cs).where(cs.c.code == code)).first()
        if r is None:
            raise not_found("sample / 样品", code)
        s = Sample(int(r.id), r.code, r.owner_scope, r.site_code, r.created_by, float(r.created_utc))
        for x in conn.execute(select(cst).where(cst.c.sample_id == s.id).order_by(cst.c.seq)):
            s.steps.append(cu.Step(x.step, int(x.time_utc), x.actor, json.loads(x.details), seq=int(x.seq)))
            s.step_ids.append(int(x.id))
            s.signatures.append(x.signature)
        return s

    @staticmethod
    def _participants(s: Sample) -> set[str]:
        who = {st.actor for st in s.steps}
        who |= {str(st.details.get("to")) for st in s.steps if st.step == "transfer"}
        return who

    def _require_write(self, user: Actor, s: Sample) -> None:
        if user.scope == s.owner_scope or user.username in self._participants(s) \
                or SCOPE_OF[user.role] is ScopeKind.PROVINCE:
            return
        raise InputError("--sample", f"{user.username} is neither of the sampling organisation nor in the chain of "
                                     f"sample {s.code} / 无权记录")

    def _may_read(self, conn: Connection, user: Actor, s: Sample) -> bool:
        if not user.active:
            return False
        if user.role in CUSTODY_OVERSIGHT or user.scope == s.owner_scope or user.username in self._participants(s):
            return True
        if s.site_code and SCOPE_OF[user.role] is ScopeKind.REGION:
            return self.access.covers(user, load_station(conn, s.site_code))
        return False

    def _require_read(self, conn: Connection, user: Actor, s: Sample) -> None:
        if not self._may_read(conn, user, s):
            raise InputError("--sample", f"sample {s.code} is outside {user.username}'s scope / 超出权限范围")
