"""``/api/v1`` registers: regions, parameters, sites (public kinds open to all), devices (scoped, no passwords)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from tianlan.errors import NotFound
from tianlan.store.api_repo import ApiRepo
from tianlan.web.api.envelope import Format, FormatDep, respond
from tianlan.web.auth import Principal
from tianlan.web.deps import Caller, PagingDep, RegionDep, public_scope, require
from tianlan.web.scope import Perm

router = APIRouter()
TAG = "registry 基础信息"


class RegionLevel(StrEnum):
    province = "province"
    city = "city"
    county = "county"
    township = "township"


class SiteKind(StrEnum):
    air = "air"
    water = "water"
    source = "source"


class System(StrEnum):
    air = "air"
    gas = "gas"
    water = "water"
    noise = "noise"
    other = "other"


def _repo(request: Request) -> ApiRepo:
    return ApiRepo(request.app.state.engine)


@router.get("/regions", tags=[TAG], summary="行政区划 / Regions")
def list_regions(request: Request, p: Caller, fmt: FormatDep = Format.json,
                 level: Annotated[RegionLevel | None, Query(description="级别 / level")] = None,
                 parent: Annotated[str | None, Query(max_length=12, description="上级代码 / parent code")] = None) -> Response:
    """The administrative divisions of the province (public)."""
    rows = _repo(request).regions(level=level.value if level else None, parent=parent)
    return respond(p, rows, fmt, filename="regions")


@router.get("/parameters", tags=[TAG], summary="监测因子 / Parameters")
def list_parameters(request: Request, p: Caller, fmt: FormatDep = Format.json,
                    system: Annotated[System | None, Query(description="体系 / system")] = None) -> Response:
    """HJ 212 parameter codes with names and units (public)."""
    return respond(p, _repo(request).parameters(system=system.value if system else None), fmt, filename="parameters")


@router.get("/sites", tags=[TAG], summary="监测点位 / Sites")
def list_sites(request: Request, p: Caller, pg: PagingDep, regions: RegionDep, fmt: FormatDep = Format.json,
               kind: Annotated[SiteKind | None, Query(description="类型 / kind")] = None,
               enterprise: Annotated[str | None, Query(max_length=32, description="企业代码 / enterprise code")] = None,
               ) -> Response:
    """Air stations and water sections are public; enterprise outlets only within the caller's scope."""
    page = _repo(request).sites(public_scope(p), kind=kind.value if kind else None, region_codes=regions,
                                enterprise=enterprise, limit=pg.limit, offset=pg.offset)
    return respond(p, page.rows, fmt, found=page.found, page=pg.page, limit=pg.limit, filename="sites")


@router.get("/sites/{code}", tags=[TAG], summary="点位详情 / One site")
def get_site(request: Request, p: Caller, code: Annotated[str, Path(max_length=32)]) -> dict[str, Any]:
    site = _repo(request).site(public_scope(p), code)
    if site is None:
        raise NotFound("site 点位", code)
    return {"meta": {"name": "tianlan-api", "found": 1}, "results": [site]}


@router.get("/devices", tags=[TAG], summary="数采仪 / Devices (scoped; never passwords)")
def list_devices(request: Request, pg: PagingDep, regions: RegionDep,
                 p: Annotated[Principal, Depends(require(Perm.READ_DATA))], fmt: FormatDep = Format.json,
                 site: Annotated[str | None, Query(max_length=32, description="点位代码 / site code")] = None,
                 kind: Annotated[SiteKind | None, Query(description="类型 / kind")] = None) -> Response:
    page = _repo(request).devices(p.scope, site=site, kind=kind.value if kind else None, region_codes=regions,
                                  limit=pg.limit, offset=pg.offset)
    return respond(p, page.rows, fmt, found=page.found, page=pg.page, limit=pg.limit, filename="devices")
