"""The ``/api/v1`` data API: one router per concern, included by :func:`tianlan.web.app.create_app`."""

from __future__ import annotations

from fastapi import APIRouter

from tianlan.web import auth
from tianlan.web.api import alarms, ingest_json, observations, registry, results


def data_router() -> APIRouter:
    """Every data-API router (mounted under ``/api/v1``)."""
    r = APIRouter()
    for mod in (auth, registry, observations, results, alarms, ingest_json):
        r.include_router(mod.router)
    try:  # the ledger endpoints, once the ledger module provides what they read
        from tianlan.web.api import ledger
    except ImportError:
        pass
    else:
        r.include_router(ledger.router)
    return r
