"""Store access for public reports of monitoring fraud (12369): submit, look up by tracking number,
handle (``public_reports``).

Anyone may report, without an account. A report gets a tracking number (``12369-YYYYMMDD-XXXXXX``,
Beijing date and six characters from an alphabet without look-alikes) that is the only key the
public sees; the status lookup shows the category, status, dates and public answer, never the text,
contact or who handled it. Rate limiting counts reports per source (a salted hash of the reporter's
address, so the address itself is not kept) in a sliding window.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tianlan.errors import Conflict, InputError, NotFound, TianlanError
from tianlan.model.timeutil import beijing_datetime
from tianlan.store.schema import regions
from tianlan.store.schema_web import public_reports

CATEGORIES: dict[str, tuple[str, str]] = {
    "falsify": ("篡改、伪造监测数据", "falsified or fabricated data"),
    "tamper": ("擅自改动监测设施或参数", "tampering with monitors or their settings"),
    "interfere": ("干扰采样、人为干预监测", "interfering with sampling or monitoring"),
    "bypass": ("偷排、绕过监测设施", "discharging around the monitors"),
    "other": ("其他弄虚作假行为", "other monitoring fraud"),
}
STATUSES: dict[str, tuple[str, str]] = {
    "received": ("已受理", "received"),
    "processing": ("核查中", "being investigated"),
    "closed": ("已办结", "closed"),
}
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
MAX_DESCRIPTION = 5000
MAX_SUBJECT = 200


class TooManyReports(TianlanError):
    """The source has sent as many reports as the window allows; ``retry_after_s`` until the next."""

    def __init__(self, limit: int, window_s: int, retry_after_s: int) -> None:
        self.limit, self.window_s, self.retry_after_s = limit, window_s, retry_after_s
        super().__init__(f"source: at most {limit} reports per {window_s // 60} min; retry in {retry_after_s} s / "
                         f"提交过于频繁，请 {retry_after_s} 秒后再试")


@dataclass(frozen=True)
class PublicStatus:
    """What anyone holding the tracking number may see."""

    tracking_no: str
    category: str
    status: str
    status_note: str
    created_utc: float
    updated_utc: float


@dataclass(frozen=True)
class Report:
    id: int
    tracking_no: str
    category: str
    subject: str
    region_code: str | None
    description: str
    contact: str
    status: str
    status_note: str
    handled_by: str
    created_utc: float
    updated_utc: float


def source_hash(address: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}\0{address}".encode()).hexdigest()


def new_tracking_no(now_utc: float) -> str:
    day = beijing_datetime(now_utc).strftime("%Y%m%d")
    return f"12369-{day}-{''.join(secrets.choice(_ALPHABET) for _ in range(6))}"


def normalise_tracking_no(text: str) -> str:
    t = (text or "").strip().upper().replace(" ", "")
    if not t.startswith("12369-") or len(t) != 21:
        raise InputError("tracking_no", "form 12369-YYYYMMDD-XXXXXX / 格式应为 12369-年月日-六位编码")
    return t


class ReportsRepo:
    """``limit`` reports per source per ``window_s`` (defaults: 5 per hour)."""

    def __init__(self, engine: Engine, *, limit: int = 5, window_s: int = 3600) -> None:
        self.engine = engine
        self.limit = limit
        self.window_s = window_s

    def submit(self, *, category: str, subject: str, description: str, source: str, region_code: str | None = None,
               contact: str = "", now: float | None = None) -> str:
        """Store a report and return its tracking number (InputError naming the field; TooManyReports)."""
        t = time.time() if now is None else now
        if category not in CATEGORIES:
            raise InputError("category", f"one of {', '.join(CATEGORIES)}, not {category!r} / 请选择举报类型")
        subject = (subject or "").strip()
        if not subject:
            raise InputError("subject", "required: which enterprise, outlet or station / 必填：被举报单位或站点")
        if len(subject) > MAX_SUBJECT:
            raise InputError("subject", f"at most {MAX_SUBJECT} characters / 最多 {MAX_SUBJECT} 字")
        description = (description or "").strip()
        if len(description) < 10:
            raise InputError("description", "describe what happened, at least 10 characters / 请描述情况，至少 10 字")
        if len(description) > MAX_DESCRIPTION:
            raise InputError("description", f"at most {MAX_DESCRIPTION} characters / 最多 {MAX_DESCRIPTION} 字")
        if len(contact or "") > 200:
            raise InputError("contact", "at most 200 characters / 最多 200 字")
        region = (region_code or "").strip() or None
        with self.engine.begin() as c:
            if region is not None and c.execute(select(regions.c.code).where(regions.c.code == region)).first() is None:
                raise InputError("region", f"unknown region code {region!r} / 未知的行政区划代码")
            r = public_reports.c
            recent = c.execute(select(r.created_utc).where(and_(r.source_hash == source, r.created_utc > t - self.window_s))
                               .order_by(r.created_utc)).scalars().all()
            if len(recent) >= self.limit:
                retry = int(recent[len(recent) - self.limit] + self.window_s - t) + 1
                raise TooManyReports(self.limit, self.window_s, max(retry, 1))
        for _ in range(5):  # a clash of six random characters on one day is rare; try again if it happens
            no = new_tracking_no(t)
            try:
                with self.engine.begin() as c:
                    c.execute(insert(public_reports).values(
                        tracking_no=no, category=category, subject=subject, region_code=region, description=description,
                        contact=(contact or "").strip(), source_hash=source, status="received", status_note="",
                        handled_by="", created_utc=t, updated_utc=t))
                return no
            except IntegrityError:
                continue
        raise Conflict("tracking_no: could not allocate a tracking number, try again / 编号分配失败，请重试")

    def status(self, tracking_no: str) -> PublicStatus:
        no = normalise_tracking_no(tracking_no)
        r = public_reports.c
        with self.engine.connect() as c:
            row = c.execute(select(r.tracking_no, r.category, r.status, r.status_note, r.created_utc, r.updated_utc)
                            .where(r.tracking_no == no)).first()
        if row is None:
            raise NotFound("report 举报", no)
        return PublicStatus(row.tracking_no, row.category, row.status, row.status_note, float(row.created_utc),
                            float(row.updated_utc))

    def get(self, tracking_no: str) -> Report:
        no = normalise_tracking_no(tracking_no)
        with self.engine.connect() as c:
            row = c.execute(select(public_reports).where(public_reports.c.tracking_no == no)).first()
        if row is None:
            raise NotFound("report 举报", no)
        return self._report(row)

    def list(self, *, status: str | None = None, regions: Collection[str] | None = None, limit: int = 100) -> list[Report]:
        """Reports, newest first (staff view); ``regions``: only those naming one of these region codes."""
        r = public_reports.c
        q = select(public_reports).order_by(r.created_utc.desc(), r.id.desc()).limit(max(1, min(limit, 1000)))
        if status:
            q = q.where(r.status == status)
        if regions is not None:
            q = q.where(r.region_code.in_(sorted(regions)))
        with self.engine.connect() as c:
            return [self._report(x) for x in c.execute(q)]

    def handle(self, tracking_no: str, *, status: str, note: str, user: str, now: float | None = None) -> PublicStatus:
        """Move a report to ``status`` with a public answer, attributed to ``user``."""
        if status not in STATUSES:
            raise InputError("status", f"one of {', '.join(STATUSES)}, not {status!r}")
        if not (user or "").strip():
            raise InputError("user", "required / 必填：处理人")
        if not (note or "").strip():
            raise InputError("note", "required: the public answer / 必填：答复内容")
        no = normalise_tracking_no(tracking_no)
        t = time.time() if now is None else now
        with self.engine.begin() as c:
            n = c.execute(update(public_reports).where(public_reports.c.tracking_no == no).values(
                status=status, status_note=note.strip(), handled_by=user.strip(), updated_utc=t)).rowcount
        if n != 1:
            raise NotFound("report 举报", no)
        return self.status(no)

    def count(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(public_reports)).scalar_one())

    @staticmethod
    def _report(row) -> Report:  # type: ignore[no-untyped-def]
        m = row._mapping
        return Report(int(m["id"]), m["tracking_no"], m["category"], m["subject"], m["region_code"], m["description"],
                      m["contact"], m["status"], m["status_note"], m["handled_by"], float(m["created_utc"]),
                      float(m["updated_utc"]))
