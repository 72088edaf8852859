"""The public portal (no sign-in): real-time AQI map and tables, 24-hour trend per city, monthly
city ranking, water sections, the information-release list and documents, the 12369 fraud report.

Everything shown is an official result already stored by ``tianlan assess`` (HJ 633 AQI, HJ 663
statistics, the ranking rules, GB 3838 classes) or a released document; the pages compute nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from tianlan.errors import InputError, NotFound
from tianlan.model.hebei import PROVINCE_CODE
from tianlan.model.registry import Region, Site
from tianlan.model.timeutil import beijing_datetime
from tianlan.store.assess_repo import beijing_month_bounds
from tianlan.store.portal_repo import PortalRepo
from tianlan.store.registry_repo import RegistryRepo
from tianlan.store.releases_repo import ReleasesRepo
from tianlan.store.reports_repo import CATEGORIES, ReportsRepo, TooManyReports, source_hash
from tianlan.web import i18n
from tianlan.web.pages.page_cache import page_cache
from tianlan.web.pages.templating import render

router = APIRouter(include_in_schema=False)
POLLUTANTS = ("PM2.5", "PM10", "O3", "NO2", "SO2", "CO")


def _engine(request: Request) -> Engine:
    return request.app.state.engine


@dataclass
class Network:
    """Regions and sites, with each site's city (the region directly under the province)."""

    regions: dict[str, Region]
    sites: list[Site]

    def city_of(self, region_code: str) -> str:
        r = self.regions.get(region_code)
        while r is not None and r.parent and r.parent != PROVINCE_CODE:
            r = self.regions.get(r.parent)
        return r.code if r is not None else region_code

    def name(self, code: str, lang: str) -> str:
        r = self.regions.get(code)
        if r is None:
            return code
        return (r.name_en or r.name) if lang == "en" else r.name

    def cities(self) -> list[Region]:
        return sorted((r for r in self.regions.values() if r.parent == PROVINCE_CODE), key=lambda r: r.code)


def network(engine: Engine) -> Network:
    reg = RegistryRepo(engine).load()
    return Network({r.code: r for r in reg.regions}, reg.sites)


NETWORK_TTL_S = 30.0  # the registry changes rarely; a new site shows on the portal within this long


def _network(request: Request) -> Network:
    """The network, cached on the app for :data:`NETWORK_TTL_S` (loading it is ~10 ms of a ~20 ms page)."""
    import time

    state = request.app.state
    hit = getattr(state, "portal_network", None)
    now = time.monotonic()
    if hit is None or now - hit[0] > NETWORK_TTL_S:
        hit = (now, network(_engine(request)))
        state.portal_network = hit
    return hit[1]


async def _cached_page(request: Request, build: Callable[[], Response], *, query: tuple[str, ...] = ()) -> Response:
    """``build()``'s page from the app's :class:`~tianlan.web.pages.page_cache.PageCache`, keyed by
    path, language and the ``query`` parameters the page reads (results change every few minutes
    at most; the cache follows the assessment job's results version). The ``lang`` cookie is set
    on every answer to an explicit ``?lang=``, as :func:`render` does."""
    lang = i18n.lang_of(request)
    key = (request.url.path, lang, tuple(request.query_params.get(q) for q in query))

    def body() -> tuple[int, bytes]:
        resp = build()
        return resp.status_code, bytes(resp.body)

    status, content = await page_cache(request.app.state, _engine(request)).get(key, body)
    resp = Response(content, status_code=status, media_type="text/html; charset=utf-8")
    if request.query_params.get("lang") in i18n.LANGS:
        resp.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return resp


def _missing(request: Request, e: NotFound) -> Response:
    return render(request, "portal/message.html", {"message": str(e)}, status_code=404)


def _month_label(period_utc: int) -> str:
    return beijing_datetime(period_utc).strftime("%Y-%m")


# --- real-time AQI --------------------------------------------------------------------------------------

@router.get("/")
async def home(request: Request) -> Response:
    return await _cached_page(request, lambda: _home(request))


def _home(request: Request) -> Response:
    engine, lang = _engine(request), i18n.lang_of(request)
    net = _network(request)
    repo = PortalRepo(engine)
    air = [s for s in net.sites if s.kind == "air"]
    latest = repo.latest_period("station_hour")
    by_station = {r["subject"]: r for r in repo.results("station_hour", latest, latest + 1)} if latest is not None else {}
    stations = []
    for s in air:
        r = by_station.get(s.code)
        stations.append({"code": s.code, "name": s.name, "city": net.city_of(s.region),
                         "city_name": net.name(net.city_of(s.region), lang), "lon": s.lon, "lat": s.lat,
                         "aqi": r["aqi"] if r else None, "level": r["level"] if r else None,
                         "conc": (r["result"].get("concentrations") or {}) if r else {}})
    stations.sort(key=lambda x: (x["city"], x["code"]))
    day = repo.latest_period("city_day")
    cities = []
    if day is not None:
        for r in repo.results("city_day", day, day + 1):
            cities.append({"code": r["subject"], "name": net.name(r["subject"], lang), "aqi": r["aqi"], "level": r["level"],
                           "primary": r["primary"] or "—", "values": r["result"].get("values") or {}})
    map_points = [{"name": s["name"], "code": s["code"], "value": [s["lon"], s["lat"], s["aqi"]], "level": s["level"]}
                  for s in stations if s["lon"] is not None and s["lat"] is not None]
    return render(request, "portal/index.html", {
        "stations": stations, "cities": cities, "latest": latest, "day": day, "map_points": map_points,
        "pollutants": POLLUTANTS, "city_list": [(c.code, net.name(c.code, lang)) for c in net.cities()]})


@router.get("/city/{code}")
async def city(request: Request, code: str) -> Response:
    return await _cached_page(request, lambda: _city(request, code))


def _city(request: Request, code: str) -> Response:
    engine, lang = _engine(request), i18n.lang_of(request)
    net = _network(request)
    if code not in net.regions or net.regions[code].parent != PROVINCE_CODE:
        return _missing(request, NotFound("city 城市", code))
    members = [s for s in net.sites if s.kind == "air" and net.city_of(s.region) == code]
    repo = PortalRepo(engine)
    codes = [s.code for s in members]
    ends = [e for e in (repo.latest_period("city_hour", [code]),
                        repo.latest_period("station_hour", codes) if codes else None) if e is not None]
    end = max(ends) if ends else None
    series: list[dict[str, Any]] = []
    hours: list[int] = []
    if end is not None:
        start = end - 23 * 3600
        hours = list(range(start, end + 1, 3600))
        own = {r["period_utc"]: r["aqi"] for r in repo.results("city_hour", start, end + 1, [code])}
        if own:  # the city's hourly AQI (mean of its evaluation stations, HJ 633), drawn first
            series.append({"code": code, "name": f"{net.name(code, lang)} · {i18n.t('aqi.city', lang)}",
                           "city": True, "data": [own.get(h) for h in hours]})
        rows = repo.results("station_hour", start, end + 1, codes) if codes else []
        for s in members:
            got = {r["period_utc"]: r["aqi"] for r in rows if r["subject"] == s.code}
            series.append({"code": s.code, "name": s.name, "data": [got.get(h) for h in hours]})
    days = repo.results("city_day", (end or 0) - 6 * 86400, (end or 0) + 1, [code]) if end is not None else []
    return render(request, "portal/city.html", {
        "code": code, "name": net.name(code, lang), "series": series,
        "hours": [beijing_datetime(h).strftime("%m-%d %H:00") for h in hours], "days": days,
        "city_list": [(c.code, net.name(c.code, lang)) for c in net.cities()]})


# --- ranking ----------------------------------------------------------------------------------------------

@router.get("/ranking")
async def ranking(request: Request, month: str | None = None) -> Response:
    return await _cached_page(request, lambda: _ranking(request, month), query=("month",))


def _ranking(request: Request, month: str | None) -> Response:
    engine, lang = _engine(request), i18n.lang_of(request)
    net = _network(request)
    repo = PortalRepo(engine)
    months = repo.periods("city_month", 36)
    ranked_months = [p for p in months if any(r["result"].get("rank") is not None
                                              for r in repo.results("city_month", p, p + 1))]
    period: int | None
    if month:
        try:
            y, m = (int(x) for x in month.split("-"))
            period = beijing_month_bounds(y, m)[0]
        except ValueError as e:
            raise InputError("month", f"YYYY-MM, not {month!r} / 月份格式应为 YYYY-MM") from e
    else:
        period = ranked_months[0] if ranked_months else (months[0] if months else None)
    rows = []
    if period is not None:
        for r in repo.results("city_month", period, period + 1):
            res = r["result"]
            rows.append({"code": r["subject"], "name": net.name(r["subject"], lang), "rank": res.get("rank"),
                         "index": res.get("composite_index"), "good": res.get("good_ratio"), "pm25": res.get("PM2.5"),
                         "days": res.get("valid_days"), "primary": res.get("primary") or "—"})
    rows.sort(key=lambda x: (x["rank"] is None, x["rank"] or 0, x["code"]))
    return render(request, "portal/ranking.html", {
        "rows": rows, "month": _month_label(period) if period is not None else None,
        "months": [_month_label(p) for p in ranked_months]})


# --- water --------------------------------------------------------------------------------------------------

@router.get("/water")
async def water(request: Request) -> Response:
    return await _cached_page(request, lambda: _water(request))


def _water(request: Request) -> Response:
    engine, lang = _engine(request), i18n.lang_of(request)
    net = _network(request)
    repo = PortalRepo(engine)
    period = repo.latest_period("water_month")
    got = {r["subject"]: r for r in repo.results("water_month", period, period + 1)} if period is not None else {}
    sections = []
    for s in net.sites:
        if s.kind != "water":
            continue
        r = got.get(s.code)
        sections.append({"code": s.code, "name": s.name, "region": net.name(net.city_of(s.region), lang),
                         "type": s.section_type or "—", "target": s.target_class or "—", "lon": s.lon, "lat": s.lat,
                         "class": r["level"] if r else None, "meets": r["result"].get("meets_target") if r else None,
                         "worst": (r["primary"] or "—") if r else "—"})
    return render(request, "portal/water.html", {
        "sections": sections, "month": _month_label(period) if period is not None else None})


# --- releases -----------------------------------------------------------------------------------------------

@router.get("/releases")
def releases(request: Request, item: str | None = None) -> Response:
    repo = ReleasesRepo(_engine(request))
    items = repo.items()
    docs = repo.documents(item_code=item or None, limit=100)
    return render(request, "portal/releases.html", {"items": items, "docs": docs, "item": item,
                                                    "titles": {i.code: i for i in items}})


@router.get("/releases/{doc_id}")
def release_document(request: Request, doc_id: int) -> Response:
    repo = ReleasesRepo(_engine(request))
    try:
        doc = repo.document(doc_id)
    except NotFound as e:
        return _missing(request, e)
    return render(request, "portal/release_doc.html", {"doc": doc, "item": repo.item(doc.item_code)})


@router.get("/releases/{doc_id}/file")
def release_file(request: Request, doc_id: int) -> Response:
    name, ctype, content = ReleasesRepo(_engine(request)).attachment(doc_id)
    from urllib.parse import quote

    return Response(content, media_type=ctype,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


# --- 12369 reports ------------------------------------------------------------------------------------------

def client_source(request: Request) -> str:
    """The salted hash of the reporter's address (rate limiting without keeping the address)."""
    salt = getattr(request.app.state, "report_salt", None)
    if salt is None:
        import secrets

        salt = request.app.state.report_salt = secrets.token_hex(16)
    host = request.client.host if request.client else "unknown"
    return source_hash(host, salt)


def reports_repo(request: Request) -> ReportsRepo:
    limit = getattr(request.app.state, "report_limit", None)
    return ReportsRepo(_engine(request), **({"limit": limit} if limit else {}))


@router.get("/report")
def report_form(request: Request) -> Response:
    net = _network(request)
    lang = i18n.lang_of(request)
    return render(request, "portal/report.html", {"categories": list(CATEGORIES), "form": {}, "error": None,
                                                  "cities": [(c.code, net.name(c.code, lang)) for c in net.cities()]})


@router.post("/report")
def report_submit(request: Request, category: str = Form(""), subject: str = Form(""), region: str = Form(""),
                  description: str = Form(""), contact: str = Form("")) -> Response:
    lang = i18n.lang_of(request)
    form = {"category": category, "subject": subject, "region": region, "description": description, "contact": contact}
    try:
        no = reports_repo(request).submit(category=category, subject=subject, region_code=region or None,
                                          description=description, contact=contact, source=client_source(request))
    except (InputError, TooManyReports) as e:
        net = _network(request)
        if isinstance(e, TooManyReports):
            msg, code = i18n.t("rep.toomany", lang, seconds=e.retry_after_s), 429
        else:
            msg, code = i18n.t("rep.error", lang, field=e.field, reason=e.reason), 400
        resp = render(request, "portal/report.html", {
            "categories": list(CATEGORIES), "form": form, "error": msg,
            "cities": [(c.code, net.name(c.code, lang)) for c in net.cities()]}, status_code=code)
        if isinstance(e, TooManyReports):
            resp.headers["Retry-After"] = str(e.retry_after_s)
        return resp
    return RedirectResponse(f"/report/status?no={no}&new=1", status_code=303)


@router.get("/report/status")
def report_status(request: Request, no: str = "", new: int = 0) -> Response:
    status, error, code = None, None, 200
    if no:
        try:
            status = reports_repo(request).status(no)
        except InputError as e:
            error, code = i18n.t("rep.error", i18n.lang_of(request), field=e.field, reason=e.reason), 400
        except NotFound:
            error, code = i18n.t("rep.notfound", i18n.lang_of(request)), 404
    return render(request, "portal/report_status.html", {"no": no, "status": status, "error": error, "new": bool(new)},
                  status_code=code)
