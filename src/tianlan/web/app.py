"""The FastAPI application: ``/api/v1`` (health, ingest statistics, HTTP ingest)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import Engine

from tianlan import __version__
from tianlan.gateway.http_ingest import router as ingest_router
from tianlan.store.frames_repo import FramesRepo


def create_app(engine: Engine, gateway=None) -> FastAPI:  # type: ignore[no-untyped-def]
    app = FastAPI(title="Tianlan 天蓝", version=__version__, docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.engine = engine
    app.state.gateway = gateway
    api = APIRouter(prefix="/api/v1")

    @api.get("/health", summary="运行状态 / Health")
    def health(request: Request) -> dict:
        gw = request.app.state.gateway
        return {
            "status": "ok",
            "version": __version__,
            "database": engine.dialect.name,
            "hj212_port": gw.port if gw else None,
            "gateway": gw.stats.as_dict() if gw else None,
            "writer": gw.stats.writer_dict(gw.writer) if gw else None,
        }

    @api.get("/frames/stats", summary="接收统计 / Ingest statistics")
    def frames_stats() -> dict:
        return FramesRepo(engine).stats()

    api.include_router(ingest_router)
    app.include_router(api)
    return app
