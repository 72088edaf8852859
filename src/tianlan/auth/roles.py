"""The roles of DESIGN.md's user table and what scope each is bound to.

Every user has exactly one role and one scope. The scope is what the query layer filters by
(DESIGN principle 6): a region code (the region and everything below it), an enterprise code (its
own outlets only), a monitoring-agency code, or the whole province. This module is the one place
that says which role may do what; web, CLI and ledger ask it instead of comparing strings.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"              # platform administrator: users, keys, configuration (province scope)
    PROVINCE = "province"        # provincial monitoring centre: reviews (level 2), ranks, publishes
    CITY = "city"                # city / county monitoring centre: own region, review level 1, alarms
    SIGNATORY = "signatory"      # authorised signatory: the sign-off level (level 3) of a region
    ENFORCEMENT = "enforcement"  # environmental inspection: alarms, evidence, cases in a region
    ENTERPRISE = "enterprise"    # key polluting enterprise: own outlets only, marks
    AGENCY = "agency"            # monitoring agency / operator: custody records, own qualifications
    DEPARTMENT = "department"    # other department: shared data through the API (key), in a region
    DISCIPLINE = "discipline"    # discipline inspection (纪检): reads sealed interference records
    AUDIT = "audit"              # audit (审计): reads the ledger and sealed interference records


class ScopeKind(StrEnum):
    PROVINCE = "province"
    REGION = "region"
    ENTERPRISE = "enterprise"
    AGENCY = "agency"


#: the kind of scope each role is bound to (a region scope may also be the province's code)
SCOPE_OF: dict[Role, ScopeKind] = {
    Role.ADMIN: ScopeKind.PROVINCE,
    Role.PROVINCE: ScopeKind.PROVINCE,
    Role.CITY: ScopeKind.REGION,
    Role.SIGNATORY: ScopeKind.REGION,
    Role.ENFORCEMENT: ScopeKind.REGION,
    Role.ENTERPRISE: ScopeKind.ENTERPRISE,
    Role.AGENCY: ScopeKind.AGENCY,
    Role.DEPARTMENT: ScopeKind.REGION,
    Role.DISCIPLINE: ScopeKind.PROVINCE,
    Role.AUDIT: ScopeKind.PROVINCE,
}

#: Chinese first, with English (user-facing labels)
LABELS: dict[Role, str] = {
    Role.ADMIN: "系统管理员 / Administrator",
    Role.PROVINCE: "省级监测中心 / Provincial centre",
    Role.CITY: "市县监测中心 / City or county centre",
    Role.SIGNATORY: "授权签字人 / Authorised signatory",
    Role.ENFORCEMENT: "执法人员 / Enforcement",
    Role.ENTERPRISE: "重点排污单位 / Enterprise",
    Role.AGENCY: "监测机构 / Monitoring agency",
    Role.DEPARTMENT: "协作部门 / Other department",
    Role.DISCIPLINE: "纪检监察 / Discipline inspection",
    Role.AUDIT: "审计 / Audit",
}

#: roles that may read sealed interference records (besides the record's own filer)
SEALED_READERS = frozenset({Role.DISCIPLINE, Role.AUDIT})
#: roles that may file interference records: monitoring staff of any kind
INTERFERENCE_FILERS = frozenset({Role.PROVINCE, Role.CITY, Role.SIGNATORY, Role.AGENCY})
#: review levels of issue 5 §4: 1 city/operator, 2 province, 3 sign-off
REVIEW_LEVEL_ROLES: dict[int, frozenset[Role]] = {
    1: frozenset({Role.CITY, Role.AGENCY}),
    2: frozenset({Role.PROVINCE}),
    3: frozenset({Role.SIGNATORY}),
}
#: roles that may act on alarms (acknowledge, verify, dispose)
ALARM_HANDLERS = frozenset({Role.PROVINCE, Role.CITY, Role.ENFORCEMENT})
