"""The record commands end to end through the real ``tianlan`` CLI on both stores."""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from pathlib import Path

import pytest
from records_world import DAY, PARAM, PW, World
from typer.testing import CliRunner

from tianlan.cli import app

runner = CliRunner()


@pytest.fixture
def run(store_url: str, world: World, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("TIANLAN_USER", raising=False)
    monkeypatch.delenv("TIANLAN_DATA_DIR", raising=False)

    def go(user: str | None, *args: str, password: bool = False, ok: bool = True):  # type: ignore[no-untyped-def]
        extra = ["--database-url", store_url] + (["--as-user", user] if user else [])
        if password:
            extra.append("--password-stdin")
        r = runner.invoke(app, [*args, *extra], input=PW + "\n" if password else None)
        if r.exception and not isinstance(r.exception, SystemExit):
            raise r.exception
        assert (r.exit_code == 0) == ok, r.output
        return r.output

    return go


def _export(run, *more: str) -> dict[int, tuple[str, str]]:  # type: ignore[no-untyped-def]
    out = run(None, "data", "export", "--mn", "MN-A", "--kind", "hour", *more)
    rows = list(csv.DictReader(io.StringIO(out)))
    return {i: (r["value"], r["version"]) for i, r in enumerate(rows)}


def test_correct_export_as_of_history_and_review_freeze(run, world: World) -> None:  # type: ignore[no-untyped-def]
    t = f"{DAY}T05:00:00"
    out = run("city_sjz", "correct", "propose", "--mn", "MN-A", "--parameter", PARAM, "--time", t, "--action",
              "correct", "--value", "12.5", "--reason", "单位换算错误 / unit error", "--document", "运维记录 2019-001")
    vid = re.search(r"#(\d+)", out).group(1)  # type: ignore[union-attr]
    assert "--document" in run("city_sjz", "correct", "propose", "--mn", "MN-A", "--parameter", PARAM, "--time", t,
                               "--action", "correct", "--value", "1", "--reason", "r", "--document", " ", ok=False)
    assert "a second user" in run("city_sjz", "correct", "approve", vid, ok=False)
    run("city_sjz2", "correct", "approve", vid, "--note", "核实 / checked")
    now = _export(run)
    assert now[5] == ("12.5", vid) and now[4] == ("34.0", "0")
    old = _export(run, "--as-of", "2020-01-01")  # before any correction existed
    assert old[5] == ("35.0", "0")
    hist = json.loads(run("prov", "data", "history", "--mn", "MN-A", "--parameter", PARAM, "--time", t, "--json"))
    assert hist[0]["raw_value"] == 35.0 and hist[0]["in_effect"] == int(vid)
    assert hist[0]["versions"][0]["prev_value"] == 35.0 and hist[0]["versions"][0]["decided_by"] == "city_sjz2"
    assert "--mn" in run("city_ts", "data", "history", "--mn", "MN-A", "--parameter", PARAM, "--time", t, ok=False)
    lst = json.loads(run("prov", "correct", "list", "--json"))
    assert [(x["id"], x["status"]) for x in lst] == [(int(vid), "approved")]
    # review: three signed levels, then the day is frozen
    run("city_sjz", "review", "approve", "--station", "A-SJZ", "--day", DAY, password=True)
    assert "wrong" not in run("prov", "review", "queue", "--from", DAY, "--to", "2019-01-02", "--json")
    queue = json.loads(run("prov", "review", "queue", "--from", DAY, "--to", "2019-01-02", "--json"))
    assert [(q["station"], q["awaiting"]) for q in queue] == [("A-SJZ", 2)]
    run("prov", "review", "approve", "--station", "A-SJZ", "--day", DAY, password=True)
    run("sig_sjz", "review", "sign", "--station", "A-SJZ", "--day", DAY, password=True)
    show = json.loads(run("auditor", "review", "show", "--station", "A-SJZ", "--day", DAY, "--json"))
    assert show["signed"] and [a["signature_ok"] for a in show["actions"]] == [True, True, True]
    out = run("city_sjz", "correct", "propose", "--mn", "MN-A", "--parameter", PARAM, "--time", t, "--action",
              "invalidate", "--reason", "r", "--document", "d")
    vid2 = re.search(r"#(\d+)", out).group(1)  # type: ignore[union-attr]
    assert "signed off" in run("prov", "correct", "approve", vid2, ok=False)
    over = json.loads(run("prov", "review", "overdue", "--from", DAY, "--to", "2019-01-02", "--json"))
    assert [(o["station"], o["level"]) for o in over] == [("A-TS", 1)]


def _pdf_unicode(pdf: bytes) -> set[int]:
    """Code points mapped by the PDF's ToUnicode CMaps (what a reader extracts as text)."""
    cps: set[int] = set()
    for m in re.finditer(rb"stream\n(.*?)\nendstream", pdf, re.S):
        data = m.group(1)
        try:
            data = zlib.decompress(data)
        except zlib.error:
            pass  # fpdf2 writes the ToUnicode CMap uncompressed
        if b"beginbfchar" in data:
            cps |= {int(h, 16) for h in re.findall(rb"<[0-9A-Fa-f]+>\s*<([0-9A-Fa-f]{4})>", data)}
    return cps


def test_custody_cli_and_pdf(run, world: World, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = ("--sample", "S-2019-001")
    run("lab_sampler", "custody", "sample", *s, "--time", "2019-01-01T08:00", "--place", "甲厂总排口", "--container",
        "1 L 玻璃瓶", "--preservation", "H2SO4 pH<2", "--holding-h", "48", "--site", "S-E1", password=True)
    err = run("lab_analyst", "custody", "analysis", *s, "--time", "2019-01-01T07:00", "--method", "HJ 828-2017",
              "--instrument", "BT-03", "--standard-lot", "B1905", password=True, ok=False)
    assert "time" in err and "analysed before sampled" in err
    run("lab_sampler", "custody", "transfer", *s, "--time", "2019-01-01T09:00", "--to", "lab_analyst", password=True)
    run("lab_analyst", "custody", "analysis", *s, "--time", "2019-01-01T10:00", "--method", "HJ 828-2017",
        "--instrument", "BT-03", "--standard-lot", "B1905", "--result", "w01018=56 mg/L", password=True)
    run("lab_signer", "custody", "report", *s, "--time", "2019-01-02T10:00", "--reviewer", "lab_reviewer",
        "--report-no", "R-1", password=True)
    shown = json.loads(run("auditor", "custody", "show", *s, "--proof", "--json"))
    assert [x["step"] for x in shown["steps"]] == ["sample", "transfer", "analysis", "report"]
    assert all(x["signature_ok"] for x in shown["steps"]) and len(shown["ledger_proof"]) == 5
    assert "--sample" in run("ent2", "custody", "show", *s, ok=False)
    pdf = tmp_path / "r.pdf"
    run("lab_reviewer", "custody", "pdf", *s, "-o", str(pdf))
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and (b"WenQuanYi" in data or b"Noto" in data)
    cps = _pdf_unicode(data)
    for ch in "样品流转记录账本证明甲厂总排口":
        assert ord(ch) in cps, ch  # the Chinese text is really in the PDF, not tofu


def test_marks_and_interference_cli(run, world: World, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("ent1", "mark", "add", "--station", "S-E1", "--kind", "maintenance", "--from", "2019-01-01T08:00", "--to",
        "2019-01-01T10:00", "--reason", "更换探头")
    assert "--station" in run("ent2", "mark", "add", "--station", "S-E1", "--kind", "maintenance", "--from",
                              "2019-01-01T08:00", "--to", "2019-01-01T10:00", "--reason", "x", ok=False)
    marks = json.loads(run("city_sjz", "mark", "list", "--json"))
    assert [(m["station"], m["timeliness"]) for m in marks] == [("S-E1", "late")]  # marked years later: kept, flagged
    assert json.loads(run("ent2", "mark", "list", "--json")) == []
    att = tmp_path / "letter.txt"
    att.write_text("请关照 / please take care of it", encoding="utf-8")
    out = run("city_sjz", "interference", "file", "--when", "2019-01-02T09:00", "--method", "letter", "--official",
              "王局长,局长,某区分局,official", "--request", "要求删除1月1日超标数据", "--attach", str(att))
    rid = re.search(r"#(\d+)", out).group(1)  # type: ignore[union-attr]
    run("city_sjz", "interference", "append", rid, "--text", "又来电话")
    for who in ("admin", "official", "prov"):
        assert "visible" in run(who, "interference", "show", rid, ok=False)
    rec = json.loads(run("discipline", "interference", "show", rid, "--json", "--save-attachments",
                         str(tmp_path / "att")))
    assert rec["request"] == "要求删除1月1日超标数据" and rec["attachments"][0]["ok"]
    assert (tmp_path / "att" / f"{rec['attachments'][0]['id']}-letter.txt").read_text(encoding="utf-8").startswith("请")
    log = {(x["actor"], x["kind"]) for x in rec["access_log"]}
    assert {("admin", "interference.denied"), ("official", "interference.denied"),
            ("discipline", "interference.read")} <= log
    assert json.loads(run("official", "interference", "list", "--json")) == []
    assert [r["id"] for r in json.loads(run("auditor", "interference", "list", "--json"))] == [int(rid)]
