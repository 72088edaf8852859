"""``/api/v1/releases``: the information-release list and released documents (public), and publishing
a document (provincial centre and administrators, signed in).

Published documents are never changed: a correction is published with ``supersedes`` naming the
document it corrects (see :mod:`tianlan.store.releases_repo`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from tianlan.auth.roles import Role
from tianlan.errors import InputError
from tianlan.store.releases_repo import ReleaseDocument, ReleasesRepo
from tianlan.web.api.envelope import Format, FormatDep, json_response, present, respond
from tianlan.web.auth import resolve_principal
from tianlan.web.deps import Caller, PagingDep
from tianlan.web.errors import forbidden, unauthenticated

router = APIRouter(prefix="/releases", tags=["releases 信息公开"])
#: roles that may publish documents
PUBLISHERS = frozenset({Role.ADMIN, Role.PROVINCE})
DocId = Annotated[int, Path(ge=1, le=2**62, description="文件编号 / document id")]


def _doc(d: ReleaseDocument, *, body: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": d.id, "item": d.item_code, "title": d.title, "period": d.period,
                           "published_utc": d.published_utc, "published_by": d.published_by, "sha256": d.sha256,
                           "attachment": ({"filename": d.filename, "content_type": d.content_type, "size": d.size,
                                           "url": f"/api/v1/releases/{d.id}/file"} if d.filename else None),
                           "supersedes": d.supersedes, "superseded_by": d.superseded_by}
    if body:
        out["body"] = d.body
    return out


@router.get("/items", summary="信息公开目录 / the release list: what is published, how often, by whom")
def items(request: Request, p: Caller, fmt: FormatDep = Format.json) -> Response:
    rows = [{"code": i.code, "title": i.title, "title_en": i.title_en, "frequency": i.frequency, "publisher": i.publisher,
             "description": i.description, "link": i.link, "documents": i.documents,
             "last_published_utc": i.last_published_utc} for i in ReleasesRepo(request.app.state.engine).items()]
    return respond(p, rows, fmt, filename="release-items")


@router.get("", summary="已发布文件 / released documents, newest first")
def documents(request: Request, p: Caller, pg: PagingDep,
              item: Annotated[str | None, Query(max_length=32, description="公开事项代码 / release item code")] = None,
              current: Annotated[bool, Query(description="仅现行（不含已被更正的）/ only documents not superseded")] = False,
              fmt: FormatDep = Format.json) -> Response:
    repo = ReleasesRepo(request.app.state.engine)
    if item is not None:
        repo.item(item)  # 404 for an unknown item
    docs = repo.documents(item_code=item, limit=pg.limit, offset=pg.offset, current_only=current)
    return respond(p, [_doc(d) for d in docs], fmt, page=pg.page, limit=pg.limit, filename="releases")


@router.get("/{doc_id}", summary="文件 / one released document with its text")
def document(request: Request, doc_id: DocId) -> Response:
    return json_response(present(_doc(ReleasesRepo(request.app.state.engine).document(doc_id), body=True)))


@router.get("/{doc_id}/file", summary="附件 / the document's attachment, byte for byte")
def attachment(request: Request, doc_id: DocId) -> Response:
    from urllib.parse import quote

    name, ctype, content = ReleasesRepo(request.app.state.engine).attachment(doc_id)
    return Response(content, media_type=ctype, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


class PublishBody(BaseModel):
    item: str = Field(min_length=1, max_length=32, description="公开事项代码 / release item code")
    title: str = Field(min_length=1, max_length=300, description="标题 / title")
    period: str = Field("", max_length=16, description="所属期 / period covered, e.g. 2019-05")
    body: str = Field("", max_length=200_000, description="正文 / text")
    filename: str | None = Field(None, max_length=200, description="附件文件名 / attachment file name")
    content_type: str | None = Field(None, max_length=80, description="附件类型 / attachment media type")
    content_base64: str | None = Field(None, description="附件（Base64）/ attachment, Base64")
    supersedes: int | None = Field(None, ge=1, le=2**62, description="更正的文件编号 / id of the document it corrects")


@router.post("", status_code=201, summary="发布文件 / publish a document (province, admin; signed in)")
def publish(request: Request, body: PublishBody) -> Response:
    p = resolve_principal(request)
    if not p.authenticated:
        raise unauthenticated()
    if p.kind != "user" or p.role not in PUBLISHERS:
        raise forbidden("只有省级中心和管理员可发布 / only the provincial centre and administrators publish")
    content = None
    if body.content_base64:
        try:
            content = base64.b64decode(body.content_base64, validate=True)
        except (binascii.Error, ValueError) as e:
            raise InputError("content_base64", "not valid Base64 / 不是有效的 Base64") from e
    repo = ReleasesRepo(request.app.state.engine)
    doc_id = repo.publish(body.item, title=body.title, user=p.name, body=body.body, period=body.period, content=content,
                          filename=body.filename, content_type=body.content_type, supersedes=body.supersedes)
    return json_response(present(_doc(repo.document(doc_id), body=True)), status=201)
