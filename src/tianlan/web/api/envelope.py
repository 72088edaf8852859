"""The response envelope and formats of the data API (OpenAQ style).

JSON: ``{"meta": {"name", "website", "found", "page", "limit", "scope"}, "results": [...]}``; every
``*_utc`` epoch field of a row is presented as ``*`` in Beijing time ISO 8601 with its explicit
offset (``2026-05-01T08:00:00+08:00``). CSV (``format=csv``): one row per result, nested objects as
JSON text, UTF-8 with a BOM so that spreadsheet programs read Chinese names correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import Query
from fastapi.responses import Response, StreamingResponse

from tianlan.model.timeutil import BEIJING
from tianlan.web.auth import Principal

API_NAME = "tianlan-api"


class Format(StrEnum):
    json = "json"
    csv = "csv"


FormatDep = Annotated[Format, Query(alias="format", description="json（默认）或 csv / json (default) or csv")]


def iso(epoch_s: float | int | None) -> str | None:
    """Beijing-time ISO 8601 with offset (seconds resolution) or None."""
    if epoch_s is None:
        return None
    return datetime.fromtimestamp(epoch_s, BEIJING).isoformat(timespec="seconds")


def present(row: dict[str, Any]) -> dict[str, Any]:
    """A store row as the API shows it: ``x_utc`` epoch → ``x`` in Beijing ISO 8601."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k.endswith("_utc") and (v is None or isinstance(v, (int, float))):
            out[k[:-4]] = iso(v)
        elif isinstance(v, dict):
            out[k] = present(v)
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            out[k] = [present(x) if isinstance(x, dict) else x for x in v]
        else:
            out[k] = v
    return out


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY),
                    status_code=status, media_type="application/json", headers=headers)


def meta(p: Principal, *, found: int | None, page: int | None = None, limit: int | None = None,
         **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": API_NAME, "website": "/api/docs", "found": found, "page": page, "limit": limit,
                         "scope": p.scope.label or None}
    m.update(extra)
    return m


def _cell(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return orjson.dumps(v).decode()
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else v


def csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    cols = list(columns) if columns else (list(rows[0]) if rows else [])
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in cols])
    return buf.getvalue()


def respond(p: Principal, rows: list[dict[str, Any]], fmt: Format, *, found: int | None = None,
            page: int | None = None, limit: int | None = None, filename: str = "tianlan", **extra: Any) -> Response:
    """The page as a JSON envelope or as CSV (meta in ``X-Total-Count``/``X-Page`` headers)."""
    shown = [present(r) for r in rows]
    n = len(rows) if found is None else found
    if fmt is Format.csv:
        flat = [{k: v for k, v in r.items()} for r in shown]
        headers = {"Content-Disposition": f'attachment; filename="{filename}.csv"', "X-Total-Count": str(n)}
        if page is not None:
            headers["X-Page"] = str(page)
        return Response(csv_text(flat), media_type="text/csv; charset=utf-8", headers=headers)
    return json_response({"meta": meta(p, found=n, page=page, limit=limit, **extra), "results": shown})


def stream_bytes(chunks: Iterable[bytes], media_type: str, filename: str) -> StreamingResponse:
    """A streamed download (bulk export): ``chunks`` are produced lazily, in a worker thread."""
    return StreamingResponse(chunks, media_type=media_type,
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})
