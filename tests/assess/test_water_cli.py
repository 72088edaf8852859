"""``tianlan assess water`` on files, through a local Typer app (the lead mounts it under ``assess``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tianlan.assess.commands_water import register


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()
    register(a)

    @a.callback()
    def _root() -> None:
        """Keeps ``water`` a named sub-command, as under ``tianlan assess``."""

    return a


def _run(app: typer.Typer, *args: str):
    return CliRunner().invoke(app, ["water", *args])


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


GOOD = (
    "section,time,pH,DO,CODMn,NH3-N,w21011,Hg(ug/L),FC,target_class,type\n"
    "S1,2024-05-01T08:00,7.5,6.5,3.8,0.45,0.12,0.08,15000,III,\n"
    "S2,2024-05-01,7.2,5.2,5.0,2.5,0.15,,,II,river\n"
    "L1,2024-05-01,9.2,6.5,5,1.0,0.12,,,III,lake\n"
)


def test_classifies_each_row(app: typer.Typer, tmp_path: Path) -> None:
    res = _run(app, "--input", str(_write(tmp_path, GOOD)))
    assert res.exit_code == 0, res.output
    rows = _rows(res.stdout)
    assert list(rows[0])[:11] == ["section", "time", "pH", "DO", "CODMn", "NH3-N", "w21011", "Hg(ug/L)", "FC",
                                  "target_class", "type"]
    assert list(rows[0])[11:] == ["class", "qualitative", "worst", "exceed_III", "meets_target", "class_pH", "class_DO",
                                  "class_CODMn", "class_NH3-N", "class_TP", "class_Hg", "class_FC", "standard"]
    s1, s2, l1 = rows
    # Hg 0.08 µg/L = 0.00008 mg/L -> III; FC is graded but not in the section class
    assert (s1["class"], s1["worst"], s1["exceed_III"], s1["meets_target"]) == ("III", "TP;Hg", "", "yes")
    assert (s1["class_Hg"], s1["class_FC"], s1["qualitative"]) == ("III", "IV", "良好")
    assert (s2["class"], s2["worst"], s2["exceed_III"], s2["meets_target"]) == ("劣V", "NH3-N", "NH3-N(1.5)", "no")
    assert s2["class_Hg"] == "" and s2["standard"] == "GB 3838-2002"
    # lake TP column: 0.12 > 0.1 -> V; pH 9.2 -> 劣V without a multiple
    assert (l1["class"], l1["class_TP"], l1["exceed_III"]) == ("劣V", "V", "pH;TP(1.4)")


def test_lake_flag_sets_the_default_waterbody(app: typer.Typer, tmp_path: Path) -> None:
    p = _write(tmp_path, "section,TP\nA,0.12\n")
    assert _rows(_run(app, "--input", str(p)).stdout)[0]["class"] == "III"
    assert _rows(_run(app, "--input", str(p), "--lake").stdout)[0]["class"] == "V"


def test_output_file_and_summary(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    res = _run(app, "-i", str(_write(tmp_path, GOOD)), "-o", str(out))
    assert res.exit_code == 0, res.output
    assert "3 个样品 / samples" in res.stdout and "劣V 2" in res.stdout
    assert [r["class"] for r in _rows(out.read_text("utf-8"))] == ["III", "劣V", "劣V"]


def test_bom_and_chinese_headers(app: typer.Typer, tmp_path: Path) -> None:
    p = tmp_path / "bom.csv"
    p.write_text("断面,时间,溶解氧,氨氮,总磷\nX,2024-01-01,7.6,0.1,0.02\n", encoding="utf-8-sig")
    res = _run(app, "--input", str(p))
    assert res.exit_code == 0, res.output
    row = _rows(res.stdout)[0]
    assert row["class"] == "I" and row["class_NH3-N"] == "I" and row["worst"] == "DO;NH3-N;TP"


@pytest.mark.parametrize(("text", "where", "what"), [
    ("section,NH4\nA,1\n", "row 1", "NH4"),
    ("section,DO\nA,abc\n", "row 2", "DO"),
    ("section,DO,COD\nA,5\n", "row 2", "columns"),
    ("section,DO,target_class\nA,5,VI\n", "row 2", "target_class"),
    ("section,DO,type\nA,5,sea\n", "row 2", "type"),
    ("section,COD\nA,1\nB,-3\n", "row 3", "COD"),
    ("DO\n5\n", "row 1", "section"),
    ("section,time\nA,2024\n", "row 1", "columns"),
    ("section,DO,w01009\nA,5,5\n", "row 1", "w01009"),
    ("section,DO,time\nA,5,yesterday\n", "row 2", "time"),
    ("section,pH(ug/L)\nA,5\n", "row 1", "pH(ug/L)"),
    ("section,Hg[ppm]\nA,5\n", "row 1", "Hg[ppm]"),
    (",DO\nA,5\n", "row 1", "column 1"),
    ("", "in.csv", "--input"),
    ("section,DO\n,5\n", "row 2", "section"),
])
def test_errors_name_row_and_column(app: typer.Typer, tmp_path: Path, text: str, where: str, what: str) -> None:
    res = _run(app, "--input", str(_write(tmp_path, text)))
    assert res.exit_code == 2, res.output
    assert "错误 / error" in res.stderr
    assert where in res.stderr and what in res.stderr
    assert "Traceback" not in res.output


def test_missing_file(app: typer.Typer, tmp_path: Path) -> None:
    res = _run(app, "--input", str(tmp_path / "nope.csv"))
    assert res.exit_code == 2 and "--input" in res.stderr and "not found" in res.stderr


def test_help_documents_the_format(app: typer.Typer) -> None:
    res = CliRunner().invoke(app, ["water", "--help"], env={"COLUMNS": "120"})
    assert res.exit_code == 0
    for word in ("section", "target_class", "w21003", "exceed_III", "class_", "--lake", "劣V"):
        assert word in res.stdout


def test_unit_suffixes(app: typer.Typer, tmp_path: Path) -> None:
    """A µg/L header converts exactly; a bracket that is not a unit stays part of the name."""
    p = _write(tmp_path, "section,Cr(VI),Cd[µg/L],总汞（ug/L）\nA,0.05,5,0.1\n")
    res = _run(app, "--input", str(p))
    assert res.exit_code == 0, res.output
    row = _rows(res.stdout)[0]
    # Cr6+ 0.05 mg/L -> II; Cd 5 µg/L = 0.005 mg/L -> II (limit exactly met); Hg 0.0001 mg/L -> III
    assert (row["class_Cr6+"], row["class_Cd"], row["class_Hg"], row["class"]) == ("II", "II", "III", "III")
