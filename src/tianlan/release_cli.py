"""``tianlan release …``: publish information-release documents from the command line, and list them.

The same rules as ``POST /api/v1/releases`` (:class:`tianlan.store.releases_repo.ReleasesRepo`):
only an administrator or the provincial centre publishes (``--as-user`` / ``TIANLAN_USER``); a
document needs text or an attachment (at most 20 MiB); a published document is never changed —
a correction is a new document with ``--supersedes`` naming the one it corrects. The portal shows
it at ``/releases/{id}``.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tianlan.cli_common import AsUser, DatabaseUrl, DataDir, acting_user, console, open_engine, settings_for, user_errors
from tianlan.errors import InputError
from tianlan.model.timeutil import utc_to_beijing_iso

app = typer.Typer(help="信息公开：发布文件、列表 / information releases: publish documents, list them",
                  no_args_is_help=True)

#: roles that may publish (as on the API and the console)
PUBLISHER_ROLES = ("admin", "province")


def _read(path: Path, field: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(field, f"无法读取 / cannot read {path}: {e.strerror or e}") from e


@app.command("publish")
@user_errors
def publish(
    item: Annotated[str, typer.Option("--item", help="公开事项代码 / release item code (tianlan release items)")],
    title: Annotated[str, typer.Option("--title", help="标题 / title")],
    period: Annotated[str, typer.Option("--period", help="所属期 / period, e.g. 2026-05")] = "",
    body: Annotated[str, typer.Option("--body", help="正文 / text of the document")] = "",
    body_file: Annotated[Path | None, typer.Option("--body-file", help="正文文件（UTF-8）/ text from a UTF-8 file")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="附件 / attachment (≤ 20 MiB)")] = None,
    content_type: Annotated[str | None, typer.Option("--content-type",
                                                     help="附件类型 / attachment MIME type (default: from the name)")] = None,
    supersedes: Annotated[int | None, typer.Option("--supersedes", help="更正的文件编号 / id of the document corrected")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
    as_user: AsUser = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """发布一份公开文件 / publish a release document (administrator or provincial centre)."""
    from tianlan.auth.roles import Role
    from tianlan.store.releases_repo import ReleasesRepo

    if body and body_file is not None:
        raise InputError("--body-file", "--body 与 --body-file 只能给一个 / give --body or --body-file, not both")
    if body_file is not None:
        try:
            body = _read(body_file, "--body-file").decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError("--body-file", f"不是 UTF-8 文本 / not UTF-8 text: {body_file}") from e
    content = _read(file, "--file") if file is not None else None
    ctype = content_type or (mimetypes.guess_type(file.name)[0] if file is not None else None)
    engine = open_engine(settings_for(data_dir, database_url))
    user = acting_user(engine, as_user, roles=frozenset(Role(r) for r in PUBLISHER_ROLES))
    repo = ReleasesRepo(engine)
    repo.seed_defaults()  # the default release list, where missing (as the web app does)
    doc_id = repo.publish(item, title=title, user=user, body=body, period=period, content=content,
                          filename=file.name if file is not None else None,
                          content_type=ctype or ("application/octet-stream" if content else None), supersedes=supersedes)
    d = repo.document(doc_id)
    out = {"id": d.id, "item": d.item_code, "title": d.title, "period": d.period, "sha256": d.sha256,
           "size": d.size, "filename": d.filename, "published": utc_to_beijing_iso(d.published_utc),
           "published_by": d.published_by, "supersedes": d.supersedes, "url": f"/releases/{d.id}"}
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    console.print(f"已发布 / published: 文件 {d.id}  {d.title}  ({d.item_code}, {d.period or '—'})")
    console.print(f"SHA-256 {d.sha256}  →  /releases/{d.id}")


@app.command("list")
@user_errors
def list_(
    item: Annotated[str | None, typer.Option("--item", help="只列此事项 / only this item's documents")] = None,
    current: Annotated[bool, typer.Option("--current", help="不含已被更正的 / leave out corrected ones")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="最多行数 / at most this many")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """公开文件列表（新的在前）/ released documents, newest first."""
    from tianlan.store.releases_repo import ReleasesRepo

    repo = ReleasesRepo(open_engine(settings_for(data_dir, database_url)))
    docs = repo.documents(item_code=item, limit=limit, current_only=current)
    rows = [{"id": d.id, "item": d.item_code, "title": d.title, "period": d.period,
             "published": utc_to_beijing_iso(d.published_utc), "published_by": d.published_by, "sha256": d.sha256,
             "supersedes": d.supersedes, "superseded_by": d.superseded_by} for d in docs]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    t = Table(title="公开文件 / released documents")
    for col in ("id", "item", "title", "period", "published", "by", "corrected by"):
        t.add_column(col)
    for d in docs:
        t.add_row(str(d.id), d.item_code, d.title, d.period or "—", str(utc_to_beijing_iso(d.published_utc))[:16],
                  d.published_by, str(d.superseded_by or ""))
    console.print(t)


@app.command("items")
@user_errors
def items(
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """信息公开目录 / the release list: what is published, how often, by whom."""
    from tianlan.store.releases_repo import ReleasesRepo

    repo = ReleasesRepo(open_engine(settings_for(data_dir, database_url)))
    repo.seed_defaults()
    rows = [{"code": i.code, "title": i.title, "frequency": i.frequency, "publisher": i.publisher,
             "documents": i.documents} for i in repo.items()]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    t = Table(title="信息公开目录 / release list")
    for col in ("code", "title", "frequency", "publisher", "documents"):
        t.add_column(col)
    for i in repo.items():
        t.add_row(i.code, i.title, i.frequency, i.publisher, str(i.documents))
    console.print(t)
