"""Tables: users, roles, API keys and the hash-chained ledger (issue 5 §0-2).

Registered on :data:`tianlan.store.schema.metadata`; the matching Alembic migration creates them.
"""

from __future__ import annotations

from tianlan.store.schema import metadata  # noqa: F401
