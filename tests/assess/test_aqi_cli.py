"""``tianlan assess aqi`` on files, through Typer's CliRunner on a local app (register(app))."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from tianlan.assess.commands_aqi import register

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    a = typer.Typer()
    register(a)

    @a.command()
    def other() -> None:  # a second command keeps "aqi" a sub-command, as under `tianlan assess`
        pass

    return a


def write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


HOURLY = """station,time,SO2,NO2,CO,O3,PM10,PM2.5
1029A,2026-02-28T23:00,10,40,0.8,60,120,70
1029A,2026-03-01T00:00,10,40,0.8,60,120,70
1029A,2026-03-01T01:00,10,40,0.8,60,,NA
1030A,2019-01-01T08:00:00+08:00,900,40,2.2,60,60,35
"""


def test_hourly_to_file(app: typer.Typer, tmp_path: Path) -> None:
    src, out = write(tmp_path, HOURLY), tmp_path / "out.csv"
    r = runner.invoke(app, ["aqi", "--input", str(src), "--report", "hourly", "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert "written" in r.output and "HJ633-2026 2" in r.output
    res = pl.read_csv(out, infer_schema_length=0)
    assert res.columns == ["station", "time", "edition", "AQI", "level", "primary", "IAQI_SO2", "IAQI_NO2", "IAQI_CO",
                           "IAQI_O3", "IAQI_PM10", "IAQI_PM2.5", "note"]  # fmt: skip
    assert res["time"].to_list()[:2] == ["2026-02-28T23:00", "2026-03-01T00:00"]  # key columns as given
    assert res["edition"].to_list() == ["HJ633-2012-published", "HJ633-2026", "HJ633-2026", "HJ633-2012-published"]
    assert res["AQI"].to_list() == ["94", "110", None, "55"]
    assert res["level"].to_list() == ["II", "III", None, "II"]
    assert res["primary"].to_list() == ["PM2.5", "PM2.5", None, "PM10"]
    assert res["IAQI_CO"][3] == "22"  # CO 1 h column: 2.2 mg/m3 -> 22
    assert res["note"][2] is not None and "NA" in res["note"][2]
    assert res["note"][3] is not None and "SO2" in res["note"][3]  # SO2 > 800 with no 24 h value


def test_hourly_csv_to_stdout_and_named_standard(app: typer.Typer, tmp_path: Path) -> None:
    src = write(tmp_path, HOURLY)
    r = runner.invoke(app, ["aqi", "--input", str(src), "--report", "hourly", "--standard", "HJ633-2026", "--format", "csv"])
    assert r.exit_code == 0, r.output
    res = pl.read_csv(io.StringIO(r.stdout), infer_schema_length=0)
    assert set(res["edition"]) == {"HJ633-2026"}
    assert res["IAQI_SO2"][3] == "200"  # 2026: SO2 1 h > 800 -> 200


def test_table_has_chinese_then_english_headers(app: typer.Typer, tmp_path: Path) -> None:
    src = write(tmp_path, HOURLY)
    r = runner.invoke(app, ["aqi", "--input", str(src), "--report", "hourly"], env={"COLUMNS": "240"})
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert out.index("空气质量指数") < out.index("AQI")
    assert out.index("首要污染物") < out.index("primary")
    assert "NA" in out and "HJ633-2012-published" in out and "轻度污染" in out


def test_daily_report(app: typer.Typer, tmp_path: Path) -> None:
    rows = "".join(f"X,{d},8,35,0.8,250,120,100,55\n" for d in ("2026-02-28", "2026-03-01"))
    text = "station,time,SO2,NO2,CO,O3,O3_8h,PM10,PM2.5\n" + rows
    src = write(tmp_path, text)
    out = tmp_path / "o.csv"
    r = runner.invoke(app, ["aqi", "--input", str(src), "--report", "daily", "--output", str(out)])
    assert r.exit_code == 0, r.output
    res = pl.read_csv(out, infer_schema_length=0)
    assert res["edition"].to_list() == ["HJ633-2012", "HJ633-2026"]
    assert res["AQI"].to_list() == ["125", "90"]
    assert res["primary"].to_list() == ["O3", "PM2.5"]
    assert res["IAQI_O3"].to_list() == ["125", None]  # 2026 daily: no O3 1 h sub-index


def test_2012_text_hourly_computes_sliding_means(app: typer.Typer, tmp_path: Path) -> None:
    lines = ["station,time,PM2.5"] + [f"A,2019-01-01T{h:02d}:00,75" for h in range(1, 24)] + ["A,2019-01-02T00:00,75"]
    src, out = write(tmp_path, "\n".join(lines) + "\n"), tmp_path / "o.csv"
    r = runner.invoke(app, ["aqi", "--input", str(src), "--report", "hourly", "--standard", "HJ633-2012", "--output", str(out)])
    assert r.exit_code == 0, r.output
    res = pl.read_csv(out, infer_schema_length=0)
    assert res["IAQI_PM2.5"].to_list()[18:] == [None, "100", "100", "100", "100", "100"]  # >= 20 hours in the window


@pytest.mark.parametrize(
    "text, args, field, fragment",
    [
        ("station,time,PM10\nA,2019-01-01T01:00,abc\n", [], "PM10", "line 2"),
        ("station,time,PM10\nA,2019-01-01T01:00,5\nA,2019-01-01T02:00,-3\n", [], "PM10", "line 3"),
        ("station,time,PM10\nA,2019-01-01T01:00,5\nA,2019-01-01 02:30,3\n", [], "time", "line 3"),
        ("station,time,PM10\nA,2019-01-01T01:00,5\nA,2019-01-01T01:00,3\n", [], "time", "line 3"),
        ("station,time,PM10\n,2019-01-01T01:00,5\n", [], "station", "line 2"),
        ("time,PM10\n2019-01-01T01:00,5\n", [], "station", "missing"),
        ("station,time,FOO\nA,2019-01-01T01:00,5\n", [], "columns", "pollutant"),
        ("station,time,PM10\nA,2019-01-01T01:00,5\n", ["--standard", "HJ633-2013"], "--standard", "HJ633-2026"),
        ("station,time,PM10\nA,2019-01-01T01:00,5\n", ["--report", "weekly"], "--report", "hourly"),
        ("station,time,PM10\nA,2019-01-01T01:00,5\n", ["--report", "daily"], "time", "line 2"),
    ],
)
def test_bad_input_exits_2_naming_column_and_line(
    app: typer.Typer, tmp_path: Path, text: str, args: list[str], field: str, fragment: str
) -> None:
    src = write(tmp_path, text)
    base = ["aqi", "--input", str(src)]
    if "--report" not in args:
        base += ["--report", "hourly"]
    r = runner.invoke(app, [*base, *args])
    assert r.exit_code == 2, r.output
    err = " ".join(r.stderr.split())
    assert f"{field}:" in err and fragment in err, err


def test_missing_file_exits_2(app: typer.Typer, tmp_path: Path) -> None:
    r = runner.invoke(app, ["aqi", "--input", str(tmp_path / "nope.csv"), "--report", "hourly"])
    assert r.exit_code == 2
    assert "--input" in r.stderr


def test_bom_crlf_and_header_only_files(app: typer.Typer, tmp_path: Path) -> None:
    src = tmp_path / "bom.csv"
    src.write_bytes(b"\xef\xbb\xbfstation,time,PM2.5\r\nA,2019-01-01,75\r\n")
    r = runner.invoke(app, ["aqi", "--input", str(src), "--report", "daily", "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[1].startswith("A,2019-01-01,HJ633-2012,100,II,PM2.5,100,")
    empty = write(tmp_path, "station,time,PM2.5\n", "empty.csv")
    r = runner.invoke(app, ["aqi", "--input", str(empty), "--report", "hourly", "--format", "csv"])
    assert r.exit_code == 0 and r.stdout.strip() == "station,time,edition,AQI,level,primary,note"


def test_unwritable_output_exits_2(app: typer.Typer, tmp_path: Path) -> None:
    src = write(tmp_path, "station,time,PM2.5\nA,2019-01-01,75\n")
    r = runner.invoke(app, ["aqi", "--input", str(src), "--report", "daily", "--output", str(tmp_path / "no" / "o.csv")])
    assert r.exit_code == 2 and "--output" in r.stderr
