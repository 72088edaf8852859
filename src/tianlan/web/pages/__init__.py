"""Server-rendered pages (Jinja2 + HTMX + ECharts): the public portal and the operator console.

:func:`include_pages` mounts both routers and the static files on an app. Pages hold no business
rules: they read official results, alarms and registry data through the repositories and show them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tianlan.web.pages import messages as _messages  # noqa: F401  (the pages' own messages)

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


def include_pages(app: FastAPI) -> None:
    """Add the portal (``/``), the console (``/console``) and ``/static`` to ``app``."""
    from tianlan.store.releases_repo import ReleasesRepo
    from tianlan.web.pages.admin import router as admin_router
    from tianlan.web.pages.console import router as console_router
    from tianlan.web.pages.portal import router as portal_router
    from tianlan.web.pages.records import router as records_router

    ReleasesRepo(app.state.engine).seed_defaults()  # the default release list, where missing
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(portal_router)
    app.include_router(console_router)
    app.include_router(records_router)
    app.include_router(admin_router)
