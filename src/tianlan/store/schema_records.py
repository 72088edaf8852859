"""Tables: corrections as versions, reviews and sign-off, chain of custody, enterprise marks, interference records (issue 5 §3-7).

Registered on :data:`tianlan.store.schema.metadata`; the matching Alembic migration creates them.
"""

from __future__ import annotations

from tianlan.store.schema import metadata  # noqa: F401
