"""Tables: information releases, public fraud reports (12369) and web sessions (issue 6).

Registered on :data:`tianlan.store.schema.metadata`; the matching Alembic migration creates them.
"""

from __future__ import annotations

from tianlan.store.schema import metadata  # noqa: F401
