"""Scopes in the query layer (DESIGN principle 6): which sites a reader may see, as SQL.

A :class:`Scope` is plain data — the region codes (a region and every region below it), the
enterprise, or nothing/everything — built once per request from the reader's role and scope
(``tianlan.auth.roles.SCOPE_OF``) and passed into every repository read. Repositories turn it
into a ``WHERE`` condition on ``sites`` (and through ``devices.site_code`` on observations), so
lists, counts, exports and single-object reads all see the same rows: a handler never filters
afterwards, and ``found`` in a page's meta never counts a row the reader could not fetch.

Published results (air stations, water sections) are public; :meth:`Scope.with_public` widens a
scope by site kinds for the endpoints that serve them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from sqlalchemy import ColumnElement, Engine, false, or_, select, true

from tianlan.store.schema import devices, regions, sites

#: site kinds whose results and real-time air values are published (open to everyone)
PUBLIC_SITE_KINDS: frozenset[str] = frozenset({"air", "water"})


@dataclass(frozen=True)
class Scope:
    """The rows a reader may see.

    ``everything``: the whole province (no condition). Otherwise a site is visible when its region
    is in ``regions``, or its enterprise is ``enterprise``, or its kind is in ``public_kinds``.
    A scope with none of these sees nothing (an agency, until agencies are linked to sites).
    ``label`` says what the scope is, for error messages and logs.
    """

    everything: bool = False
    regions: frozenset[str] = frozenset()
    enterprise: str | None = None
    public_kinds: frozenset[str] = frozenset()
    label: str = ""

    @classmethod
    def province(cls) -> Scope:
        return cls(everything=True, label="province")

    @classmethod
    def public(cls, kinds: Iterable[str] = PUBLIC_SITE_KINDS) -> Scope:
        return cls(public_kinds=frozenset(kinds), label="public")

    @classmethod
    def nothing(cls, label: str = "none") -> Scope:
        return cls(label=label)

    def with_public(self, kinds: Iterable[str] = PUBLIC_SITE_KINDS) -> Scope:
        """This scope plus every site of the published ``kinds`` (public results)."""
        return replace(self, public_kinds=self.public_kinds | frozenset(kinds))

    def sees_region(self, code: str) -> bool:
        """Whether region-level results of ``code`` (e.g. alarms by region) are in scope."""
        return self.everything or code in self.regions

    def site_condition(self) -> ColumnElement[bool]:
        """SQL condition on the ``sites`` table selecting the visible sites."""
        if self.everything:
            return true()
        c = sites.c
        parts: list[ColumnElement[bool]] = []
        if self.regions:
            parts.append(c.region_code.in_(sorted(self.regions)))
        if self.enterprise:
            parts.append(c.enterprise_code == self.enterprise)
        if self.public_kinds:
            parts.append(c.kind.in_(sorted(self.public_kinds)))
        return or_(*parts) if parts else false()

    def visible_sites(self):  # type: ignore[no-untyped-def]
        """``SELECT code FROM sites WHERE <visible>`` (for ``IN`` conditions on site-code columns)."""
        return select(sites.c.code).where(self.site_condition())

    def visible_devices(self):  # type: ignore[no-untyped-def]
        """``SELECT id FROM devices`` of visible sites; province scope also sees devices without a site."""
        q = select(devices.c.id)
        if self.everything:
            return q
        return q.join(sites, sites.c.code == devices.c.site_code).where(self.site_condition())

    def station_condition(self, column) -> ColumnElement[bool]:  # type: ignore[no-untyped-def]
        """Condition on a column holding a site code (alarms.station, assessments.subject)."""
        if self.everything:
            return true()
        return column.in_(self.visible_sites())


@dataclass
class RegionTree:
    """The region hierarchy (code → parent), to expand a region scope to every region below it."""

    parent: dict[str, str | None]
    level: dict[str, str]
    name: dict[str, str]
    children: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for code, up in self.parent.items():
            if up is not None:
                self.children.setdefault(up, []).append(code)

    def descendants(self, code: str) -> frozenset[str]:
        """``code`` and every region below it (empty when ``code`` is not a region)."""
        if code not in self.parent:
            return frozenset()
        out, todo = {code}, [code]
        while todo:
            for ch in self.children.get(todo.pop(), ()):
                if ch not in out:
                    out.add(ch)
                    todo.append(ch)
        return frozenset(out)

    def is_province(self, code: str) -> bool:
        return self.level.get(code) == "province"


def load_region_tree(engine: Engine) -> RegionTree:
    with engine.connect() as c:
        rows = c.execute(select(regions.c.code, regions.c.parent_code, regions.c.level, regions.c.name)).all()
    return RegionTree({r.code: r.parent_code for r in rows}, {r.code: r.level for r in rows},
                      {r.code: r.name for r in rows})


class RegionTreeCache:
    """The region tree, reloaded at most every ``ttl_s`` seconds (regions change rarely)."""

    def __init__(self, engine: Engine, ttl_s: float = 30.0) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self._tree: RegionTree | None = None
        self._at = 0.0

    def get(self) -> RegionTree:
        now = time.monotonic()
        if self._tree is None or now - self._at > self.ttl_s:
            self._tree = load_region_tree(self.engine)
            self._at = now
        return self._tree

    def invalidate(self) -> None:
        self._tree = None
