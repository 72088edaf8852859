"""``tianlan assess rank``: the monthly city ranking of a province from hourly station data in a file.

Mounted under ``tianlan assess`` through :func:`register`. Reading and writing files only; the
computation is :mod:`tianlan.assess.city` (city values, daily AQI, statistics) and
:mod:`tianlan.assess.composite` (composite index, rank).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from tianlan.assess.aggregate import POLLUTANTS, hourly_cube
from tianlan.assess.city import add_year_on_year, assess_province, month_table, network
from tianlan.errors import InputError

__all__ = ["HELP", "rank_file", "register"]

HELP = """城市月度排名（综合指数）/ monthly city ranking by composite index (HJ 663).

\b
输入 / input --input F.csv: UTF-8 CSV, one row per station-hour:
  station       站点编码 / station code (as in --stations)
  time          时间 / hour-ending label, Beijing time, ISO 8601 (2019-01-01T08:00 = 07:00–08:00),
                the same as `tianlan assess aqi --report hourly`
  SO2 NO2 CO O3 PM10 PM2.5   1 h means, µg/m3 (CO mg/m3); empty = missing
  O3_8h         optional, checked but not used: the daily maximum 8 h is computed from O3
  <P>_flag      optional HJ 212 flags per pollutant: only N counts as valid (F M S D C T B excluded)
--stations S.csv: code,city,control_site (Y = background/control site, excluded from city values).

\b
输出 / output (printed; also --output O.csv): one row per city:
  city, SO2 NO2 PM10 PM2.5 (monthly means), CO_p95 (95th percentile of daily means),
  O3_8h_p90 (90th percentile of daily maximum 8 h means), days_<stat> (valid days used),
  valid_days / good_days / good_ratio (daily AQI valid, ≤ 100, %), I_<stat> (single indices),
  composite_index, I_max, primary, rank (ascending; ties share), edition, standard,
  composite_limits; with data of the same month one year earlier in F.csv also
  <stat>_prev and year-on-year changes (<stat>_yoy_pct, good_ratio_yoy_pts).
Validity: daily values ≥ 20 valid hours, MDA8 ≥ 14 of 17 windows, month ≥ 27 days (Feb 25).
"""

LABELS: dict[str, str] = {
    "rank": "排名 / rank", "city": "城市 / city", "composite_index": "综合指数 / index", "primary": "首要 / primary",
    "PM2.5": "PM2.5", "PM10": "PM10", "SO2": "SO2", "NO2": "NO2", "CO_p95": "CO-95%", "O3_8h_p90": "O3-8h-90%",
    "valid_days": "有效天 / days", "good_ratio": "优良% / good %", "composite_index_yoy_pct": "同比% / YoY %",
    "edition": "标准 / edition",
}


def _read_csv(path: Path, what: str) -> pl.DataFrame:
    try:
        return pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except FileNotFoundError:
        raise InputError(what, f"文件不存在 / file not found: {path}") from None
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as e:
        raise InputError(what, f"无法读取 CSV / cannot read CSV: {e}", where=str(path)) from None


def _line(name: str, i: int) -> str:
    """Where data row `i` (0-based) is: its line in the file, the header being line 1."""
    return f"{name} 第 {i + 2} 行 / line {i + 2}"


def _month(text: str) -> tuple[int, int]:
    try:
        d = dt.datetime.strptime(text.strip(), "%Y-%m")
    except ValueError:
        raise InputError("--month", f"应为 YYYY-MM / expected YYYY-MM, got {text!r}") from None
    return d.year, d.month


def _numbers(df: pl.DataFrame, columns: list[str], where: str) -> pl.DataFrame:
    """Text columns → Float64; InputError naming the column and row for a non-number or a negative."""
    out = []
    for c in columns:
        text = df[c].str.strip_chars()
        num = text.cast(pl.Float64, strict=False)
        bad = (text.is_not_null() & (text != "") & (num.is_null() | num.is_nan() | num.is_infinite())) | (num < 0)
        if bad.any():
            i = int(bad.arg_true()[0])
            raise InputError(c, f"应为非负数 / expected a number ≥ 0, got {df[c][i]!r}", where=_line(where, i))
        out.append(num.alias(c))
    return df.with_columns(out)


def load_hourly(path: Path) -> pl.DataFrame:
    """The hourly station file as a typed frame: ``station``, ``time`` (naive Beijing, hour-ending),
    the pollutant columns (Float64) and any ``<P>_flag`` columns (text)."""
    from tianlan.assess.aqi_frame import parse_times

    raw = _read_csv(path, "--input")
    raw = raw.rename({c: c.strip() for c in raw.columns})
    for c in ("station", "time", *POLLUTANTS):
        if c not in raw.columns:
            raise InputError(c, f"缺少列 / missing column (have {', '.join(raw.columns)})", where=str(path))
    if raw.height == 0:
        raise InputError("--input", "没有数据行 / no data rows", where=str(path))
    empty = raw["station"].str.strip_chars().fill_null("") == ""
    if empty.any():
        raise InputError("station", "站点为空 / empty station", where=_line(path.name, int(empty.arg_true()[0])))
    nums = [*POLLUTANTS, *(["O3_8h"] if "O3_8h" in raw.columns else [])]
    df = _numbers(raw, nums, path.name)
    times = parse_times(raw["time"], "hourly", where=path.name, first_line=2)
    repeated = ~df.select(pl.struct(pl.col("station").str.strip_chars(), times).is_first_distinct()).to_series()
    if repeated.any():
        i = int(repeated.arg_true()[0])
        raise InputError("time", f"重复的站点小时 / duplicate station-hour {df['station'][i]} {df['time'][i]}",
                         where=_line(path.name, i))
    flags = [f"{p}_flag" for p in POLLUTANTS if f"{p}_flag" in raw.columns]
    return df.select(pl.col("station").str.strip_chars(), times.alias("time"), *POLLUTANTS,
                     *[pl.col(f).str.strip_chars() for f in flags])


def rank_file(input: Path, stations: Path, month: str, *, standard: str = "auto") -> tuple[pl.DataFrame, list[str]]:
    """The city table of `month` for the files; plus notes for the user (Chinese, then English)."""
    year, mon = _month(month)
    from tianlan.assess.editions import parse_standard

    parse_standard(standard)  # InputError("--standard") for an unknown name
    st = _read_csv(stations, "--stations")
    st = st.rename({c: c.strip() for c in st.columns})
    net = network(st, where=stations.name)
    df = load_hourly(input)
    unknown = ~df["station"].is_in(list(net.city_of))
    if unknown.any():
        i = int(unknown.arg_true()[0])
        raise InputError("station", f"不在站点表中 / not in {stations.name}: {df['station'][i]!r}",
                         where=_line(input.name, i))
    notes: list[str] = []
    # Hour-ending labels: the month's hours run from day 1 01:00 to the next month's day 1 00:00.
    shifted = df.with_columns((pl.col("time") - pl.duration(hours=1)).dt.date().alias("_day"))
    tables = {}
    for y in (year, year - 1):
        first = dt.date(y, mon, 1)
        last = (dt.date(y + (mon == 12), mon % 12 + 1, 1) - dt.timedelta(days=1))
        part = shifted.filter(pl.col("_day").is_between(first, last)).drop("_day")
        if part.height == 0:
            if y == year:
                raise InputError("time", f"{month} 无数据 / no data for {month} (hour-ending labels)", where=input.name)
            continue
        cube = hourly_cube(part, hour_label="end", start=first, end=last, keys=sorted(set(part["station"].to_list())))
        pa = assess_province(cube, net, choice=standard)
        tables[y] = (month_table(pa, y, mon), month_table(pa, y, mon, raw=True))
    table = tables[year][0]
    if year - 1 in tables:
        table = add_year_on_year(table, tables[year - 1][0], current_raw=tables[year][1],
                                 previous_raw=tables[year - 1][1])
        notes.append(f"同比 / year-on-year: {year - 1}-{mon:02d}")
    missing = [c for c in net.cities if c not in set(table.filter(pl.col("rank").is_not_null())["city"].to_list())]
    if missing:
        notes.append(f"未排名（数据不足）/ not ranked (insufficient valid data): {', '.join(missing)}")
    return table, notes


def _fmt(v: object, col: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        if col in ("composite_index",):
            return f"{v:.2f}"
        if col in ("CO_p95", "good_ratio", "composite_index_yoy_pct"):
            return f"{v:.1f}"
        return f"{v:.0f}"
    return str(v)


def print_table(table: pl.DataFrame, title: str, console: Console | None = None) -> None:
    """The city table as a Rich table (Chinese first, then English)."""
    console = console or Console()
    cols = [c for c in LABELS if c in table.columns]
    t = Table(title=title)
    for c in cols:
        t.add_column(LABELS[c], justify="left" if c in ("city", "primary", "edition") else "right")
    for row in table.iter_rows(named=True):
        t.add_row(*[_fmt(row[c], c) for c in cols])
    console.print(t)


def rank(
    input: Annotated[Path, typer.Option("--input", "-i", help="小时数据 CSV / hourly station data CSV (format above)")],
    stations: Annotated[Path, typer.Option("--stations", "-s", help="站点表 / stations CSV: code,city,control_site")],
    month: Annotated[str, typer.Option("--month", "-m", help="月份 / month, YYYY-MM")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出 CSV / write the city table here")] = None,
    standard: Annotated[str, typer.Option("--standard", help="标准 / auto | HJ633-2012 | HJ633-2012-published | HJ633-2026")
                        ] = "auto",
) -> None:
    try:
        table, notes = rank_file(input, stations, month, standard=standard)
        if output is not None:
            try:
                table.write_csv(output)
            except OSError as e:
                raise InputError("--output", f"无法写入 / cannot write {output}: {e.strerror}") from None
    except InputError as e:
        typer.echo(f"错误 / error: {e}", err=True)
        raise typer.Exit(2) from None
    limits = table["composite_limits"][0] if table.height else ""
    print_table(table, f"{month} 城市环境空气质量排名 / city ranking (综合指数 / composite index, S_i: {limits})")
    for n in notes:
        typer.echo(n)
    if output is not None:
        typer.echo(f"{table.height} 个城市 / cities → {output}")


rank.__doc__ = HELP


def register(app: typer.Typer) -> None:
    """Add ``rank`` (``tianlan assess rank --input F.csv --stations S.csv --month YYYY-MM [--output O.csv]
    [--standard auto|…]``) to ``app``."""
    app.command("rank", help=HELP, no_args_is_help=True)(rank)
