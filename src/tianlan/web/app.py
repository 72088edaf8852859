"""The FastAPI application: ``/api/v1`` (health, ingest, the data API) with OpenAPI docs at ``/api/docs``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy import Engine

from tianlan import __version__
from tianlan.auth.roles import Role
from tianlan.gateway.http_ingest import router as ingest_router
from tianlan.settings import Settings
from tianlan.store.frames_repo import FramesRepo
from tianlan.web import errors
from tianlan.web.api import data_router
from tianlan.web.auth import Principal, WebAuth
from tianlan.web.deps import principal
from tianlan.web.errors import forbidden, unauthenticated
from tianlan.web.ratelimit import RateLimitHeaders

OPENAPI_TAGS = [
    {"name": "auth 登录", "description": "登录、退出 / sign-in for people (session cookie + CSRF token)"},
    {"name": "registry 基础信息", "description": "行政区划、点位、设备、因子 / regions, sites, devices, parameters"},
    {"name": "observations 监测数据", "description": "原始、小时、日数据，最新值，批量导出 / observations, latest, export"},
    {"name": "aqi 空气质量（公开）", "description": "AQI、城市统计与排名（公开）/ AQI, city statistics, rankings (public)"},
    {"name": "water 水质（公开）", "description": "断面水质类别（公开）/ water quality classes (public)"},
    {"name": "emissions 污染源", "description": "排口排放与超标 / outlet emissions and exceedances"},
    {"name": "alarms 告警", "description": "告警、证据与处理 / alarms, evidence, actions"},
    {"name": "ledger 账本", "description": "账本头、检查点与存在性证明 / ledger head, checkpoints, proofs"},
    {"name": "ingest 数据接收", "description": "HTTP 数据接收 / HTTP ingest"},
]


PROVINCE_WIDE_ROLES = frozenset({Role.ADMIN, Role.PROVINCE, Role.AUDIT})


async def province_wide(request: Request) -> Principal:
    """Only a province-wide caller (admin, provincial centre or audit; user or key): 401 anonymous, 403 others."""
    p = await principal(request)
    if not p.authenticated:
        raise unauthenticated()
    if p.role not in PROVINCE_WIDE_ROLES or not p.scope.everything:
        raise forbidden(f"仅限全省范围的管理员、省级中心或审计 / province-wide admin, province or audit only "
                        f"(role {p.role})")
    return p


def create_app(engine: Engine, gateway=None, *, settings: Settings | None = None) -> FastAPI:  # type: ignore[no-untyped-def]
    app = FastAPI(title="Tianlan 天蓝 · 数据接口 / data API", version=__version__, docs_url="/api/docs",
                  openapi_url="/api/openapi.json", openapi_tags=OPENAPI_TAGS,
                  description="河北省生态环境监测数据平台 / provincial environmental monitoring data platform. "
                              "See docs/api.md: envelope, paging, scopes, keys, rate limits, errors.")
    app.state.engine = engine
    app.state.gateway = gateway
    app.state.auth = WebAuth(engine, settings or (gateway.settings if gateway is not None else Settings()))
    errors.install(app)
    app.add_middleware(RateLimitHeaders)
    api = APIRouter(prefix="/api/v1")

    @api.get("/health", summary="运行状态 / Health", tags=["ingest 数据接收"])
    def health(request: Request) -> dict:
        gw = request.app.state.gateway
        return {
            "status": "ok",
            "version": __version__,
            "database": engine.dialect.name,
            "hj212_port": gw.port if gw else None,
            "gateway": gw.stats.as_dict() if gw else None,
            "writer": gw.stats.writer_dict(gw.writer) if gw else None,
            # streaming QC and alarms (tianlan.qc.live): queued, processed, lag, ms/frame, backlog
            "live_qc": lq.as_dict() if (lq := getattr(request.app.state, "live_qc", None)) is not None else None,
        }

    @api.get("/frames/stats", summary="接收统计 / Ingest statistics", tags=["ingest 数据接收"])
    def frames_stats(p: Annotated[Principal, Depends(province_wide)]) -> dict:
        """Frames received by status and reason, and per device (MN) across the province: for
        province-wide callers only (administrator, provincial centre or audit user or key)."""
        return FramesRepo(engine).stats()

    api.include_router(ingest_router, tags=["ingest 数据接收"])
    api.include_router(data_router())
    from tianlan.web.api import releases as releases_api  # the portal's API (issue 6)
    from tianlan.web.api import reports as reports_api

    api.include_router(releases_api.router)
    api.include_router(reports_api.router)
    app.include_router(api)
    from tianlan.web.pages import include_pages  # public portal and operator console (issue 6)

    include_pages(app)
    return app
