"""The Jinja2 environment of the pages: language, messages, AQI level colours, time formatting."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import Response

from tianlan.assess.levels import level_table
from tianlan.model.timeutil import beijing_datetime
from tianlan.web import i18n

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))


def fmt_time(epoch_s: float | int | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Beijing time for display."""
    return "—" if epoch_s is None else beijing_datetime(epoch_s).strftime(fmt)


def fmt_num(v: Any, digits: int = 1) -> str:
    if v is None:
        return "—"
    try:
        return f"{float(v):.{digits}f}"
    except (TypeError, ValueError):
        return str(v)


def levels(lang: str) -> list[dict[str, Any]]:
    """HJ 633 levels with range, category in ``lang`` and colour (for legends and the map)."""
    return [{"level": lv.level, "min": lv.aqi_min, "max": lv.aqi_max, "color": lv.hex,
             "name": i18n.t(f"aqi.level.{lv.level}", lang)} for lv in level_table()]


def level_color(level: str | None) -> str:
    for lv in level_table():
        if lv.level == level:
            return lv.hex
    return "#BBBBBB"


def text_on(color: str) -> str:
    """Black or white text on a level colour (yellow and green need dark text)."""
    return "#111" if color.upper() in ("#FFFF00", "#00E400", "#BBBBBB") else "#fff"


TEMPLATES.env.filters["bjtime"] = fmt_time
TEMPLATES.env.filters["num"] = fmt_num
TEMPLATES.env.filters["tojson_compact"] = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
TEMPLATES.env.globals["level_color"] = level_color
TEMPLATES.env.globals["text_on"] = text_on


def render(request: Request, name: str, ctx: dict[str, Any], *, status_code: int = 200,
           user: Any = None) -> Response:
    """Render ``name`` in the request's language; remember an explicit ``?lang=`` in a cookie."""
    lang = i18n.lang_of(request)
    base = {"request": request, "lang": lang, "_": partial(i18n.t, lang=lang), "other_lang": i18n.other(lang),
            "levels": levels(lang), "user": user, "path": request.url.path}
    resp = TEMPLATES.TemplateResponse(request, name, {**base, **ctx}, status_code=status_code)
    if request.query_params.get("lang") in i18n.LANGS:
        resp.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return resp
