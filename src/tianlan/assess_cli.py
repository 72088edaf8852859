"""``tianlan assess …``: official results on files (aqi, rank, water) and on the store (run, show)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from tianlan.assess import commands_aqi, commands_rank, commands_water
from tianlan.cli_common import DatabaseUrl, DataDir, console, open_engine, settings_for, user_errors
from tianlan.errors import InputError

app = typer.Typer(help="官方评价结果 / official results (AQI, city ranking, water class, emissions)",
                  no_args_is_help=True)
commands_aqi.register(app)
commands_rank.register(app)
commands_water.register(app)

KINDS = ("station_hour", "station_day", "city_hour", "city_day", "city_month", "outlet_hour", "outlet_month", "water_sample",
         "water_month")


def _month(text: str, option: str) -> tuple[int, int]:
    try:
        y, m = text.split("-")
        ym = int(y), int(m)
    except ValueError:
        raise InputError(option, f"expected YYYY-MM, got {text!r}") from None
    if not (1 <= ym[1] <= 12 and 1970 <= ym[0] <= 2200):
        raise InputError(option, f"not a month: {text!r}")
    return ym


def _months(start: tuple[int, int], end: tuple[int, int]) -> list[tuple[int, int]]:
    out = []
    y, m = start
    while (y, m) <= end:
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


@app.command("run")
@user_errors
def run(
    start: Annotated[str | None, typer.Option("--from", help="起始月 / first month YYYY-MM (Beijing time)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="截止月（含）/ last month YYYY-MM, inclusive")] = None,
    standard: Annotated[str, typer.Option("--standard", help="auto | HJ633-2012 | HJ633-2012-published | HJ633-2026")] = "auto",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """计算并保存评价结果 / compute and store results for stored observations.

    Without --from/--to: every month touched by data stored since the last run (late data included).
    """
    from tianlan.assess.editions import Edition
    from tianlan.assess_job import run_assessment

    if standard != "auto" and standard not in {e.value for e in Edition}:
        raise InputError("--standard", f"unknown edition {standard!r}")
    months = None
    if start or end:
        a = _month(start or end or "", "--from")
        b = _month(end or start or "", "--to")
        if b < a:
            raise InputError("--to", "must not be before --from")
        months = _months(a, b)
    engine = open_engine(settings_for(data_dir, database_url))
    with Progress(console=console, transient=True) as prog:
        task = prog.add_task("评价 / assessing", total=len(months) if months else None)

        def step(ym: tuple[int, int], n: int) -> None:
            prog.update(task, advance=1, description=f"{ym[0]:04d}-{ym[1]:02d}: {n} results")

        res = run_assessment(engine, months=months, choice=standard, progress=step)
    console.print(f"已评价 / assessed {len(res['months'])} 月 months ({', '.join(res['months']) or '-'}): "
                  f"{res['results']:,} 条结果 results")


@app.command("show")
@user_errors
def show(
    kind: Annotated[str, typer.Option(help="station_hour | station_day | city_day | city_month")] = "city_month",
    month: Annotated[str | None, typer.Option(help="月份 / month YYYY-MM (Beijing time)")] = None,
    subject: Annotated[str | None, typer.Option(help="站点或区域编码 / site or region code")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """查看评价结果 / show stored results (with the standard edition each used)."""
    from tianlan.model.timeutil import utc_to_beijing_iso
    from tianlan.store.assess_repo import AssessRepo, beijing_month_bounds

    if kind not in KINDS:
        raise InputError("--kind", f"one of {', '.join(KINDS)}, got {kind!r}")
    if fmt not in ("table", "json"):
        raise InputError("--format", f"table or json, got {fmt!r}")
    bounds = beijing_month_bounds(*_month(month, "--month")) if month else (None, None)
    rows = AssessRepo(open_engine(settings_for(data_dir, database_url))).results(
        kind, start_utc=bounds[0], end_utc=bounds[1], subject=subject)
    for r in rows:
        r["period"] = utc_to_beijing_iso(r["period_utc"])
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
        return
    if kind == "city_month":
        t = Table("排名 rank", "城市 city", "综合指数 composite", "PM2.5", "PM10", "O3_8h_90", "CO_95", "优良 good %",
                  "标准 edition", title=f"城市月度排名 / city ranking {month or ''}")
        for r in sorted(rows, key=lambda r: (r["result"].get("rank") or 10**9, r["subject"])):
            x = r["result"]
            t.add_row(str(x.get("rank") or "-"), r["subject"], str(x.get("composite_index")), str(x.get("PM2.5")),
                      str(x.get("PM10")), str(x.get("O3_8h_p90")), str(x.get("CO_p95")), str(x.get("good_ratio")),
                      r["edition"])
    else:
        t = Table("时间 period", "对象 subject", "AQI", "级别 level", "首要污染物 primary", "标准 edition",
                  title=f"{kind} {month or ''}")
        for r in rows[:2000]:
            t.add_row(r["period"], r["subject"], str(r["aqi"] if r["aqi"] is not None else "-"), r["level"] or "-",
                      r["primary_pollutants"] or "-", r["edition"])
    console.print(t)
