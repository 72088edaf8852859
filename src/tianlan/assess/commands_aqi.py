"""``tianlan assess aqi``: AQI of a CSV file, exactly, by the edition in force for each row.

Input (UTF-8 CSV): ``station,time`` and any of ``SO2,NO2,CO,O3,PM10,PM2.5,O3_8h`` (µg/m3, CO mg/m3).
Hourly: ``time`` is the hour-ending time in Beijing time (ISO 8601, e.g. ``2019-01-01T08:00`` for
07:00–08:00; an offset such as ``+08:00`` or ``Z`` is converted), the values are 1 h means and
``O3_8h`` the 8 h sliding mean ending that hour; optional ``SO2_24h,PM10_24h,PM2.5_24h`` are the 24 h
sliding means (computed from the file when the HJ 633-2012 text needs them and they are absent).
Daily: ``time`` is a date, the values daily means, ``O3`` the daily maximum 1 h and ``O3_8h`` the
daily maximum 8 h mean. Empty, ``NA``, ``-``, ``—`` and ``/`` cells are missing values.

Output: the key columns, ``edition`` (the HJ 633 edition each row used), ``AQI,level,primary``,
``IAQI_<column>`` for each pollutant column used, and ``note`` (special rules, caps, missing data;
empty AQI/level with a note is the HJ 633-2026 "NA"). Bad input exits with code 2 and a message
naming the column, the line and the reason.

The lead mounts this on the ``tianlan assess`` sub-app with ``register(assess_app)``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import polars as pl
import typer
from rich.table import Table

from tianlan.assess.aqi_frame import add_aqi, parse_times
from tianlan.assess.editions import POLLUTANT_KEYS, parse_standard
from tianlan.assess.levels import Level
from tianlan.cli_common import console, user_errors
from tianlan.errors import InputError

MISSING_MARKS = ("", "NA", "N/A", "nan", "NaN", "-", "—", "/")
SLIDING_COLUMNS = ("SO2_24h", "PM10_24h", "PM2.5_24h")
HEADERS_CN = {
    "station": "站点",
    "time": "时间",
    "edition": "标准版本",
    "AQI": "空气质量指数",
    "level": "级别",
    "primary": "首要污染物",
    "note": "说明",
}


def register(app: typer.Typer) -> None:
    """Add the ``aqi`` command to ``app`` (the ``tianlan assess`` sub-app)."""
    app.command("aqi")(aqi_command)


@user_errors
def aqi_command(
    input: Annotated[Path, typer.Option("--input", help="输入 CSV / input CSV: station,time,SO2,NO2,CO,O3,PM10,PM2.5,O3_8h")],
    report: Annotated[str, typer.Option("--report", help="hourly（实时报）| daily（日报）")],
    standard: Annotated[
        str, typer.Option("--standard", help="标准版本 / edition: auto | HJ633-2012 | HJ633-2012-published | HJ633-2026")
    ] = "auto",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出 CSV / output CSV (default: print)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="无 --output 时 / without --output: table | csv")] = "table",
    limit: Annotated[int, typer.Option("--limit", help="表格最多行数 / most rows shown in the table")] = 200,
) -> None:
    """空气质量指数 / AQI by HJ 633 (edition by date of the data, or named).

    Hourly ``time`` is the hour-ending time (Beijing); ``auto`` uses HJ633-2012-published for hourly
    and HJ633-2012 for daily data before 2026-03-01 and HJ633-2026 from it.
    """
    if report not in ("hourly", "daily"):
        raise InputError("--report", f"expected hourly or daily, got {report!r} / 报告类型应为 hourly 或 daily")
    parse_standard(standard)
    if fmt not in ("table", "csv"):
        raise InputError("--format", f"expected table or csv, got {fmt!r}")
    result = compute_file(input, report, standard)
    if output is not None:
        try:
            result.write_csv(output)
        except OSError as e:
            raise InputError("--output", f"cannot write {output}: {e.strerror or e} / 无法写出") from None
        used = result.group_by("edition", maintain_order=True).len()
        eds = ", ".join(f"{r[0]} {r[1]:,}" for r in used.iter_rows())
        console.print(f"已写出 / written: {result.height:,} 行 rows → {output} ({eds})", highlight=False)
    elif fmt == "csv":
        sys.stdout.write(result.write_csv())
    else:
        print_table(result, limit)


def read_input(path: Path, report: str) -> pl.DataFrame:
    """The input CSV with typed pollutant columns; InputError naming the column and line otherwise."""
    where = str(path)
    if not path.is_file():
        raise InputError("--input", f"no such file: {path} / 文件不存在")
    try:
        raw = pl.read_csv(path, infer_schema_length=0, encoding="utf8")
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, UnicodeDecodeError) as e:
        raise InputError("--input", f"not a readable UTF-8 CSV file: {e}", where=where) from None
    if raw.columns and raw.columns[0].startswith("\ufeff"):
        raw = raw.rename({raw.columns[0]: raw.columns[0].lstrip("\ufeff")})
    raw = raw.rename({c: c.strip() for c in raw.columns})
    for col in ("station", "time"):
        if col not in raw.columns:
            raise InputError(col, "column missing / 缺少列", where=where)
    pollutants = [c for c in POLLUTANT_KEYS if c in raw.columns]
    if not pollutants:
        raise InputError("columns", f"no pollutant column; expected any of {', '.join(POLLUTANT_KEYS)} / 无污染物列", where=where)
    extra = [c for c in SLIDING_COLUMNS if c in raw.columns] if report == "hourly" else []
    blank = raw["station"].is_null() | (raw["station"].str.strip_chars() == "")
    if blank.any():
        line = int(blank.arg_true()[0]) + 2
        raise InputError("station", f"第 {line} 行 / line {line}: empty station code / 站点为空", where=where)
    cols = []
    for c in (*pollutants, *extra):
        s = raw[c].str.strip_chars()
        s = pl.Series(c, s).set(s.is_in(list(MISSING_MARKS)), None)  # type: ignore[arg-type]
        num = s.cast(pl.Float64, strict=False)
        bad = (num.is_null() & s.is_not_null()) | num.is_infinite() | num.is_nan() | (num < 0)
        if bad.any():
            i = int(bad.arg_true()[0])
            reason = "not a number / 不是数字" if num[i] is None else "must be a finite number ≥ 0 / 应为非负有限数"
            raise InputError(c, f"第 {i + 2} 行 / line {i + 2}: {reason}: {raw[c][i]!r}", where=where)
        cols.append(num)
    times = parse_times(raw["time"], report, where=where, first_line=2)
    df = pl.DataFrame([raw["station"].str.strip_chars(), raw["time"], times.alias("_time"), *cols])
    repeat = df.select(~pl.struct("station", "_time").is_first_distinct()).to_series()
    if repeat.any():
        i = int(repeat.arg_true()[0])
        st, tm = df["station"][i], df["_time"][i]
        j = int(((df["station"] == st) & (df["_time"] == tm)).arg_true()[0])
        raise InputError(
            "time",
            f"第 {i + 2} 行 / line {i + 2}: station {st!r} at {df['time'][i]!r} repeats line {j + 2} / 站点时间重复",
            where=where,
        )
    return df


def compute_file(path: Path, report: str, standard: str = "auto") -> pl.DataFrame:
    """The output table of ``tianlan assess aqi`` for a file."""
    df = read_input(path, report)
    out = add_aqi(df, report, standard, time_col="_time", station_col="station")
    iaqi_cols = [c for c in out.columns if c.startswith("IAQI_")]
    return out.select("station", "time", "edition", "AQI", "level", "primary", *iaqi_cols, "note")


def _level_style(level: str | None) -> str:
    if level is None:
        return ""
    lv = Level(level)
    r, g, b = lv.rgb
    fg = "black" if (0.299 * r + 0.587 * g + 0.114 * b) > 140 else "white"
    return f"{fg} on {lv.hex}"


def print_table(result: pl.DataFrame, limit: int) -> None:
    """A Rich table, Chinese headers first; level cells in the level's colour; NA for unpublished AQI.

    Notes are numbered and printed below the table, so the table stays narrow.
    """
    shown = result.head(max(limit, 0))
    footnotes: dict[str, int] = {}
    for n in shown["note"].to_list():
        if n is not None and n not in footnotes:
            footnotes[n] = len(footnotes) + 1
    columns = [c for c in result.columns if c != "note" or footnotes]
    t = Table(show_lines=False)
    for c in columns:
        head = f"分指数\n{c}" if c.startswith("IAQI_") else f"{HEADERS_CN.get(c, c)}\n{c}"
        numeric = c == "AQI" or c.startswith("IAQI_")
        t.add_column(head, justify="right" if numeric else "left", overflow="fold")
    for row in shown.iter_rows(named=True):
        cells = []
        for c in columns:
            v = row[c]
            if c == "level":
                cells.append(f"[{_level_style(v)}]{v} {Level(v).category_cn}[/]" if v else "NA")
            elif c == "AQI":
                cells.append("NA" if v is None else str(v))
            elif c == "primary":
                cells.append(v or "—")
            elif c == "note":
                cells.append(f"[{footnotes[v]}]" if v is not None else "")
            else:
                cells.append("" if v is None else str(v))
        t.add_row(*cells)
    console.print(t)
    for text, i in footnotes.items():
        console.print(f"[{i}] {text}", highlight=False, markup=False)
    if result.height > shown.height:
        more = result.height - shown.height
        console.print(f"… 其余 {more:,} 行未显示 / {more:,} more rows not shown; use --output or --format csv", highlight=False)
    if result.height:
        eds, counts = np.unique(result["edition"].to_numpy().astype(str), return_counts=True)
        listing = ", ".join(f"{e} {n:,}" for e, n in zip(eds, counts, strict=True))
        console.print(f"标准版本 / editions: {listing}", highlight=False)
