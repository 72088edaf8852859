"""Store access for information releases: the release list (what is published, how often, by whom)
and released documents (``release_items``, ``release_documents``).

A published document is never changed or deleted: a correction is a new document whose
``supersedes`` names the one it corrects, and the list shows the correction in its place. Each
document carries the SHA-256 of its text and attachment, so a copy can be checked against the
portal.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update

from tianlan.errors import InputError, NotFound
from tianlan.store.schema_web import release_documents, release_items

FREQUENCIES = ("realtime", "hourly", "daily", "monthly", "quarterly", "yearly", "ad-hoc")
MAX_ATTACHMENT = 20 * 1024 * 1024  # bytes

_CENTRE = "河北省生态环境监测中心 / Hebei Ecological Environment Monitoring Centre"
_DEPT = "河北省生态环境厅 / Hebei Department of Ecology and Environment"

#: The default release list: what the portal publishes by itself, and what is released as documents.
DEFAULT_ITEMS: tuple[dict[str, Any], ...] = (
    {"code": "air-realtime", "title": "城市和站点空气质量实时数据（AQI）", "title_en": "Real-time AQI of stations and cities",
     "frequency": "hourly", "publisher": _CENTRE, "link": "/",
     "description": "每小时发布各国控、省控站点及城市的空气质量指数、首要污染物和六项污染物浓度（HJ 633）。"},
    {"code": "air-city-daily", "title": "城市空气质量日报", "title_en": "Daily city air quality",
     "frequency": "daily", "publisher": _CENTRE, "link": "/",
     "description": "各设区市日均浓度和日 AQI（HJ 663 有效性规定）。"},
    {"code": "city-ranking-monthly", "title": "设区市环境空气质量月度排名", "title_en": "Monthly city ranking",
     "frequency": "monthly", "publisher": _DEPT, "link": "/ranking",
     "description": "按综合指数对各设区市排名，附 PM2.5、优良天数比例及同比变化。"},
    {"code": "water-monthly", "title": "地表水水质月报", "title_en": "Monthly surface water quality",
     "frequency": "monthly", "publisher": _CENTRE, "link": "/water",
     "description": "国控、省控断面水质类别（GB 3838-2002）与目标达标情况。"},
    {"code": "source-monitoring", "title": "重点排污单位自动监测数据及超标情况",
     "title_en": "Key polluters' monitoring and exceedances",
     "frequency": "daily", "publisher": _DEPT, "link": "",
     "description": "重点排污单位排放口自动监测数据、超标时段及处理情况。"},
    {"code": "fraud-cases", "title": "监测数据弄虚作假查处情况", "title_en": "Monitoring-fraud cases and penalties",
     "frequency": "quarterly", "publisher": _DEPT, "link": "",
     "description": "查处的监测数据弄虚作假案件、处罚及移送情况。"},
    {"code": "annual-bulletin", "title": "生态环境状况公报", "title_en": "Annual state of the environment bulletin",
     "frequency": "yearly", "publisher": _DEPT, "link": "",
     "description": "全省生态环境质量年度状况。"},
)


@dataclass(frozen=True)
class ReleaseItem:
    code: str
    title: str
    title_en: str
    frequency: str
    publisher: str
    description: str
    link: str
    sort: int
    documents: int = 0
    last_published_utc: float | None = None


@dataclass(frozen=True)
class ReleaseDocument:
    id: int
    item_code: str
    title: str
    period: str
    body: str
    filename: str | None
    content_type: str | None
    size: int
    sha256: str
    published_utc: float
    published_by: str
    supersedes: int | None
    superseded_by: int | None = None


def content_hash(body: str, content: bytes | None) -> str:
    """Hex SHA-256 over the UTF-8 text, a NUL, and the attachment's bytes."""
    h = hashlib.sha256(body.encode("utf-8"))
    h.update(b"\0")
    h.update(content or b"")
    return h.hexdigest()


class ReleasesRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- the release list ----------------------------------------------------------------------------

    def seed_defaults(self) -> int:
        """Add the :data:`DEFAULT_ITEMS` that are missing (stored items are left as edited); rows added."""
        with self.engine.begin() as c:
            have = set(c.execute(select(release_items.c.code)).scalars())
            rows = [{**it, "sort": i} for i, it in enumerate(DEFAULT_ITEMS) if it["code"] not in have]
            if rows:
                c.execute(insert(release_items), rows)
        return len(rows)

    def upsert_item(self, code: str, *, title: str, frequency: str, publisher: str, title_en: str = "",
                    description: str = "", link: str = "", sort: int = 100) -> None:
        if not code.strip() or len(code) > 32:
            raise InputError("code", "required, at most 32 characters / 必填，最多 32 个字符")
        if not title.strip():
            raise InputError("title", "required / 必填")
        if frequency not in FREQUENCIES:
            raise InputError("frequency", f"one of {', '.join(FREQUENCIES)}, not {frequency!r}")
        if not publisher.strip():
            raise InputError("publisher", "required: who publishes it / 必填：发布单位")
        row = {"title": title.strip(), "title_en": title_en.strip(), "frequency": frequency, "publisher": publisher.strip(),
               "description": description.strip(), "link": link.strip(), "sort": sort}
        with self.engine.begin() as c:
            n = c.execute(update(release_items).where(release_items.c.code == code).values(**row)).rowcount
            if n == 0:
                c.execute(insert(release_items).values(code=code, **row))

    def items(self) -> list[ReleaseItem]:
        """The release list in display order, with each item's document count and latest date."""
        d = release_documents.c
        counts = (select(d.item_code, func.count().label("n"), func.max(d.published_utc).label("last"))
                  .group_by(d.item_code).subquery())
        q = (select(release_items, counts.c.n, counts.c.last)
             .select_from(release_items.outerjoin(counts, counts.c.item_code == release_items.c.code))
             .order_by(release_items.c.sort, release_items.c.code))
        with self.engine.connect() as c:
            return [ReleaseItem(r.code, r.title, r.title_en, r.frequency, r.publisher, r.description, r.link, r.sort,
                                int(r.n or 0), float(r.last) if r.last is not None else None) for r in c.execute(q)]

    def item(self, code: str) -> ReleaseItem:
        for it in self.items():
            if it.code == code:
                return it
        raise NotFound("release item 公开事项", code)

    # -- documents -----------------------------------------------------------------------------------

    def publish(self, item_code: str, *, title: str, user: str, body: str = "", period: str = "",
                content: bytes | None = None, filename: str | None = None, content_type: str | None = None,
                supersedes: int | None = None, now: float | None = None) -> int:
        """Publish a document under ``item_code``; returns its id. Needs text or an attachment."""
        if not title.strip():
            raise InputError("title", "required / 必填")
        if not (user or "").strip():
            raise InputError("user", "required: who publishes / 必填：发布人")
        if not body.strip() and not content:
            raise InputError("body", "a document needs text or an attached file / 需要正文或附件")
        if content is not None and len(content) > MAX_ATTACHMENT:
            raise InputError("file", f"larger than {MAX_ATTACHMENT // 1024 // 1024} MiB / 附件过大")
        if content and not (filename or "").strip():
            raise InputError("filename", "required with an attachment / 附件需要文件名")
        if len(period) > 16:
            raise InputError("period", "at most 16 characters, e.g. 2019-05 / 最多 16 个字符")
        with self.engine.begin() as c:
            if c.execute(select(release_items.c.code).where(release_items.c.code == item_code)).first() is None:
                raise InputError("item", f"unknown release item {item_code!r} / 未知的公开事项")
            if supersedes is not None:
                old = c.execute(select(release_documents.c.item_code).where(release_documents.c.id == supersedes)).first()
                if old is None:
                    raise InputError("supersedes", f"no document {supersedes} / 被更正的文件不存在")
                if old.item_code != item_code:
                    raise InputError("supersedes", f"document {supersedes} belongs to {old.item_code!r}, not {item_code!r}")
            res = c.execute(insert(release_documents).values(
                item_code=item_code, title=title.strip(), period=period.strip(), body=body, filename=filename or None,
                content_type=content_type if content else None, content=content or None,
                sha256=content_hash(body, content), published_utc=time.time() if now is None else now,
                published_by=user.strip(), supersedes=supersedes).returning(release_documents.c.id))
            return int(res.scalar_one())

    def documents(self, *, item_code: str | None = None, limit: int = 50, offset: int = 0,
                  current_only: bool = False) -> list[ReleaseDocument]:
        """Documents, newest first; ``current_only`` leaves out those a later document supersedes."""
        d = release_documents.c
        later = release_documents.alias("later")
        cols = [d.id, d.item_code, d.title, d.period, d.body, d.filename, d.content_type,
                func.coalesce(func.length(d.content), 0).label("size"), d.sha256, d.published_utc, d.published_by,
                d.supersedes]
        sup = select(func.max(later.c.id)).where(later.c.supersedes == d.id).scalar_subquery()
        q = select(*cols, sup.label("superseded_by")).order_by(d.published_utc.desc(), d.id.desc())
        conds = []
        if item_code:
            conds.append(d.item_code == item_code)
        if current_only:
            conds.append(sup.is_(None))
        if conds:
            q = q.where(and_(*conds))
        q = q.limit(max(1, min(limit, 500))).offset(max(0, offset))
        with self.engine.connect() as c:
            return [self._doc(r) for r in c.execute(q)]

    def document(self, doc_id: int) -> ReleaseDocument:
        for doc in self._by_ids([doc_id]):
            return doc
        raise NotFound("document 公开文件", str(doc_id))

    def attachment(self, doc_id: int) -> tuple[str, str, bytes]:
        """(filename, content type, bytes) of a document's attachment; NotFound without one."""
        d = release_documents.c
        with self.engine.connect() as c:
            r = c.execute(select(d.filename, d.content_type, d.content).where(d.id == doc_id)).first()
        if r is None or r.content is None:
            raise NotFound("attachment 附件", str(doc_id))
        return r.filename or f"document-{doc_id}", r.content_type or "application/octet-stream", bytes(r.content)

    def _by_ids(self, ids: list[int]) -> list[ReleaseDocument]:
        d = release_documents.c
        later = release_documents.alias("later")
        sup = select(func.max(later.c.id)).where(later.c.supersedes == d.id).scalar_subquery()
        q = select(d.id, d.item_code, d.title, d.period, d.body, d.filename, d.content_type,
                   func.coalesce(func.length(d.content), 0).label("size"), d.sha256, d.published_utc, d.published_by,
                   d.supersedes, sup.label("superseded_by")).where(d.id.in_(ids))
        with self.engine.connect() as c:
            return [self._doc(r) for r in c.execute(q)]

    @staticmethod
    def _doc(r: Any) -> ReleaseDocument:
        return ReleaseDocument(int(r.id), r.item_code, r.title, r.period, r.body, r.filename, r.content_type, int(r.size or 0),
                               r.sha256, float(r.published_utc), r.published_by,
                               int(r.supersedes) if r.supersedes is not None else None,
                               int(r.superseded_by) if r.superseded_by is not None else None)
