"""The portal's tables on both stores: the release list and documents, public reports (12369)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tianlan.errors import InputError, NotFound
from tianlan.store.releases_repo import DEFAULT_ITEMS, ReleasesRepo, content_hash
from tianlan.store.reports_repo import ReportsRepo, TooManyReports, normalise_tracking_no, source_hash


def test_release_list_is_seeded_once_and_keeps_edits(store: Engine) -> None:
    repo = ReleasesRepo(store)
    assert repo.seed_defaults() == len(DEFAULT_ITEMS)
    repo.upsert_item("water-monthly", title="地表水水质月报（修订）", frequency="monthly", publisher="省监测中心")
    assert repo.seed_defaults() == 0
    items = {i.code: i for i in repo.items()}
    assert items["water-monthly"].title == "地表水水质月报（修订）"
    assert [i.code for i in repo.items()][:2] == ["air-realtime", "air-city-daily"]
    with pytest.raises(InputError) as e:
        repo.upsert_item("x", title="t", frequency="weekly-ish", publisher="p")
    assert e.value.field == "frequency"
    with pytest.raises(NotFound):
        repo.item("nope")


def test_documents_are_immutable_and_corrections_supersede(store: Engine) -> None:
    repo = ReleasesRepo(store)
    repo.seed_defaults()
    a = repo.publish("fraud-cases", title="2026年第一季度查处情况", user="prov", body="共查处 3 起。", period="2026-Q1",
                     content=b"\x00\x01binary", filename="cases.xlsx", content_type="application/vnd.ms-excel", now=100.0)
    b = repo.publish("fraud-cases", title="更正", user="prov", body="共查处 4 起。", supersedes=a, now=200.0)
    first = repo.document(a)
    assert (first.superseded_by, first.size, first.sha256) == (b, 8, content_hash("共查处 3 起。", b"\x00\x01binary"))
    assert repo.attachment(a) == ("cases.xlsx", "application/vnd.ms-excel", b"\x00\x01binary")
    assert [d.id for d in repo.documents(item_code="fraud-cases")] == [b, a]
    assert [d.id for d in repo.documents(current_only=True)] == [b]
    assert repo.item("fraud-cases").documents == 2 and repo.item("fraud-cases").last_published_utc == 200.0
    with pytest.raises(NotFound):
        repo.attachment(b)
    for kwargs, field in (({"supersedes": 999}, "supersedes"), ({"title": " "}, "title"), ({"body": ""}, "body"),
                          ({"user": ""}, "user")):
        args = {"title": "t", "user": "u", "body": "text", **kwargs}
        with pytest.raises(InputError) as e:
            repo.publish("fraud-cases", **args)  # type: ignore[arg-type]
        assert e.value.field == field
    c = repo.publish("annual-bulletin", title="公报", user="prov", body="全文")
    with pytest.raises(InputError) as e:
        repo.publish("fraud-cases", title="t", user="u", body="x", supersedes=c)
    assert e.value.field == "supersedes"


def test_reports_get_tracking_numbers_and_are_rate_limited_per_source(store: Engine) -> None:
    repo = ReportsRepo(store, limit=3, window_s=3600)
    src = source_hash("203.0.113.9", "salt")
    nos = [repo.submit(category="falsify", subject=f"企业{i}", description="数据长期恒定，疑似篡改。", source=src,
                       region_code="130100", now=1_000_000.0 + i) for i in range(3)]
    assert len(set(nos)) == 3 and all(n.startswith("12369-19700112-") for n in nos)
    with pytest.raises(TooManyReports) as e:
        repo.submit(category="falsify", subject="x", description="数据长期恒定，疑似篡改。", source=src, now=1_000_010.0)
    assert e.value.retry_after_s == 3600 - 10 + 1
    other = repo.submit(category="other", subject="y", description="另一来源的举报内容。",
                        source=source_hash("198.51.100.1", "salt"), now=1_000_010.0)
    assert repo.submit(category="other", subject="z", description="一小时后可以再提交。", source=src,
                       now=1_000_000.0 + 3601) != other
    st = repo.status(nos[0].lower())
    assert (st.tracking_no, st.status, st.status_note) == (nos[0], "received", "")
    repo.handle(nos[0], status="closed", note="查无实据。", user="prov", now=1_000_100.0)
    assert repo.status(nos[0]).status_note == "查无实据。" and repo.get(nos[0]).handled_by == "prov"
    assert [r.tracking_no for r in repo.list(regions={"130100"})] == list(reversed(nos))
    assert repo.list(regions={"130200"}) == []
    assert repo.count() == 5
    for kwargs, field in (({"category": "x"}, "category"), ({"subject": ""}, "subject"), ({"description": "短"}, "description"),
                          ({"region_code": "999999"}, "region")):
        args = {"category": "other", "subject": "s", "description": "这是足够长的描述内容。", "source": "s2", **kwargs}
        with pytest.raises(InputError) as e2:
            repo.submit(**args)  # type: ignore[arg-type]
        assert e2.value.field == field
    with pytest.raises(InputError):
        normalise_tracking_no("12369-123")
    with pytest.raises(NotFound):
        repo.status("12369-20260101-ZZZZZZ")
