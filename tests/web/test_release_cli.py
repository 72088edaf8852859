"""``tianlan release publish|list|items`` on both stores: who may publish, text and attachments with
their SHA-256, corrections (supersedes), the errors naming the option, and the portal showing it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from tianlan.cli import app
from tianlan.store.releases_repo import ReleasesRepo, content_hash


def _run(url: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, [*args, "--database-url", url])


def _users(store) -> None:  # type: ignore[no-untyped-def]
    from tianlan.auth.users import UsersRepo
    from tianlan.store.registry_repo import RegistryRepo

    RegistryRepo(store).seed_defaults()
    users = UsersRepo(store)
    users.add("prov-pub", "correct horse battery", "province", "130000", actor="test")
    users.add("city-one", "correct horse battery", "city", "130100", actor="test")


def test_release_publish_list_and_correct(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = store.url.render_as_string(hide_password=False)
    _users(store)
    pdf = tmp_path / "ranking-2026-05.pdf"
    pdf.write_bytes(b"%PDF-1.4 ranking " + bytes(range(256)))
    r = _run(url, "release", "publish", "--item", "city-ranking-monthly", "--title", "2026年5月设区市环境空气质量排名",
             "--period", "2026-05", "--body", "排名见附件。", "--file", str(pdf), "--as-user", "prov-pub", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["item"] == "city-ranking-monthly" and out["published_by"] == "prov-pub"
    assert out["sha256"] == content_hash("排名见附件。", pdf.read_bytes())
    assert out["filename"] == "ranking-2026-05.pdf" and out["size"] == pdf.stat().st_size
    repo = ReleasesRepo(store)
    name, ctype, content = repo.attachment(out["id"])
    assert (name, ctype) == ("ranking-2026-05.pdf", "application/pdf")
    assert hashlib.sha256(content).digest() == hashlib.sha256(pdf.read_bytes()).digest()

    # a correction from a text file supersedes it; the list marks the old one corrected
    text = tmp_path / "fix.txt"
    text.write_text("更正：保定市排名为第 9 位。", encoding="utf-8")
    r = _run(url, "release", "publish", "--item", "city-ranking-monthly", "--title", "更正", "--body-file", str(text),
             "--supersedes", str(out["id"]), "--as-user", "prov-pub", "--json")
    assert r.exit_code == 0, r.output
    fix = json.loads(r.stdout)
    assert fix["supersedes"] == out["id"]
    assert repo.document(fix["id"]).body == "更正：保定市排名为第 9 位。"
    listed = json.loads(_run(url, "release", "list", "--item", "city-ranking-monthly", "--json").stdout)
    assert [(d["id"], d["superseded_by"]) for d in listed] == [(fix["id"], None), (out["id"], fix["id"])]
    current = json.loads(_run(url, "release", "list", "--current", "--json").stdout)
    assert [d["id"] for d in current] == [fix["id"]]
    items = {i["code"]: i for i in json.loads(_run(url, "release", "items", "--json").stdout)}
    assert items["city-ranking-monthly"]["documents"] == 2
    table = _run(url, "release", "list")
    assert table.exit_code == 0 and "更正" in table.stdout

    # refusals name what is wrong and publish nothing
    refusals = [
        (("--item", "air-realtime", "--title", "x", "--body", "y", "--as-user", "city-one"), "role"),
        (("--item", "air-realtime", "--title", "x", "--as-user", "prov-pub"), "body"),
        (("--item", "no-such-item", "--title", "x", "--body", "y", "--as-user", "prov-pub"), "item"),
        (("--item", "air-realtime", "--title", "x", "--body", "y"), "--as-user"),
        (("--item", "air-realtime", "--title", "x", "--file", str(tmp_path / "missing.pdf"), "--as-user", "prov-pub"),
         "--file"),
        (("--item", "air-realtime", "--title", "x", "--body", "y", "--body-file", str(text), "--as-user", "prov-pub"),
         "--body-file"),
    ]
    for args, field in refusals:
        r = _run(url, "release", "publish", *args)
        assert r.exit_code != 0 and field in r.output, (args, r.output)
    assert len(repo.documents(limit=100)) == 2
