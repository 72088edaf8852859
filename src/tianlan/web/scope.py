"""Who may call what, and which rows they see: permissions by role, and the :class:`Scope` of a principal.

Two questions, answered separately:

- **may this principal call this endpoint?** — :data:`PERMISSIONS` maps a permission to the roles
  that hold it; public endpoints need none (published results: AQI, rankings, water classes,
  latest air values, the region/parameter/site registers).
- **which rows does it see?** — :func:`scope_for` turns a role and its scope code into a
  :class:`~tianlan.store.scoped.Scope` (``roles.SCOPE_OF``: a region scope is that region and every
  region below it; an enterprise its own sites; an agency nothing yet; province everything), which
  the repositories apply in SQL.
"""

from __future__ import annotations

from enum import StrEnum

from tianlan.auth.roles import ALARM_HANDLERS, SCOPE_OF, Role, ScopeKind
from tianlan.store.scoped import RegionTree, Scope


class Perm(StrEnum):
    READ_DATA = "data.read"        # devices, observations, exports, emissions and exceedances
    READ_ALARMS = "alarms.read"    # alarms and their evidence
    ACT_ALARMS = "alarms.act"      # acknowledge, verify, dispose (people only, not keys)
    READ_LEDGER = "ledger.read"    # ledger head and proofs


_ALL = frozenset(Role)
PERMISSIONS: dict[Perm, frozenset[Role]] = {
    # discipline and audit read sealed records and the ledger, not the monitoring data itself
    Perm.READ_DATA: _ALL - {Role.DISCIPLINE, Role.AUDIT},
    # enterprises, agencies and other departments do not see fraud alarms (nor their evidence)
    Perm.READ_ALARMS: frozenset({Role.ADMIN, Role.PROVINCE, Role.CITY, Role.SIGNATORY, Role.ENFORCEMENT}),
    Perm.ACT_ALARMS: ALARM_HANDLERS,
    Perm.READ_LEDGER: frozenset({Role.ADMIN, Role.PROVINCE, Role.AUDIT, Role.DISCIPLINE}),
}

PERM_LABELS = {
    Perm.READ_DATA: "读取监测数据 / read monitoring data",
    Perm.READ_ALARMS: "查看告警 / read alarms",
    Perm.ACT_ALARMS: "处理告警 / act on alarms",
    Perm.READ_LEDGER: "查看账本 / read the ledger",
}


def allowed(role: Role | None, perm: Perm) -> bool:
    return role is not None and role in PERMISSIONS[perm]


def scope_for(role: Role, code: str, tree: RegionTree) -> Scope:
    """The rows a principal of ``role`` bound to ``code`` may read (DESIGN principle 6)."""
    kind = SCOPE_OF[role]
    if kind is ScopeKind.PROVINCE:
        return Scope.province()
    if kind is ScopeKind.REGION:
        if tree.is_province(code):
            return Scope.province()
        regions = tree.descendants(code)
        # an unknown region code sees nothing, never everything
        return Scope(regions=regions, label=f"region:{code}") if regions else Scope.nothing(f"region:{code}?")
    if kind is ScopeKind.ENTERPRISE:
        return Scope(enterprise=code, label=f"enterprise:{code}")
    return Scope.nothing(f"agency:{code}")  # agencies are not linked to sites yet
