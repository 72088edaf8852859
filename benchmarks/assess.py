"""Assessment benchmark: a province-year of hourly station data → every hourly and daily AQI, daily
city values and twelve monthly city rankings (issue 3, Performance: under 5 s for 60 stations).

Steps timed (pure NumPy/Polars, no database; DESIGN "SQL selects, NumPy/Polars compute"):

1. grid      — station-hours onto the dense (station, day, hour) grid (:func:`hourly_cube`)
2. hourly    — hourly AQI of every station-hour (real-time report, edition by hour)
3. daily     — station daily values (means, O3 max 1 h, MDA8) under the validity rules
4. daily AQI — daily AQI of every station-day
5. city      — daily city values (evaluation stations only) and the daily city AQI
6. rankings  — twelve monthly city tables: statistics, composite index, rank

    .venv/bin/python benchmarks/assess.py [--stations 60 1600] [--year 2019] [--repeat 3] [--no-real]

Synthetic data: ~10 % missing hours, 1 % of PM2.5 hours flagged M (maintenance), cities of 5
stations of which 1 is a control site (about Hebei's density). Real data (when
``../shared/data/cnemc-hebei-2019`` exists): January–June 2019 of the Hebei national stations, as
published (hour-ending labels).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

from tianlan.assess.aggregate import daily_values, hourly_cube
from tianlan.assess.city import Network, ProvinceAssessment, city_daily, daily_aqi, hourly_aqi, month_table, network

console = Console(width=160)
SHARED = Path(os.environ.get("TIANLAN_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
HEBEI = SHARED / "data" / "cnemc-hebei-2019"
POLLUTANTS = ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5")


def synthetic(n_stations: int, year: int, seed: int = 1) -> tuple[pl.DataFrame, Network]:
    """A year of hourly data for `n_stations` (time = hour-ending label, Beijing), and its network."""
    rng = np.random.default_rng(seed)
    n_hours = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days * 24
    t0 = np.datetime64(f"{year}-01-01T01:00", "us")
    times = t0 + np.arange(n_hours).astype("timedelta64[h]")
    hod = (np.arange(n_hours) % 24)
    doy = np.arange(n_hours) / 24.0
    winter = 1.0 + 0.8 * np.cos(2 * np.pi * doy / 365.0)
    summer = 1.0 - 0.6 * np.cos(2 * np.pi * doy / 365.0)
    diurnal = np.clip(np.sin((hod - 8) / 24 * 2 * np.pi), 0, None)
    cols: dict[str, Any] = {
        "station": np.repeat(np.array([f"{1000 + i}A" for i in range(n_stations)]), n_hours),
        "time": np.tile(times, n_stations),
    }
    n = n_stations * n_hours
    station_scale = np.repeat(rng.uniform(0.6, 1.5, n_stations), n_hours)
    base = {"SO2": 15.0, "NO2": 35.0, "CO": 0.9, "O3": 60.0, "PM10": 80.0, "PM2.5": 45.0}
    for p in POLLUTANTS:
        season = np.tile(summer * (1 + 1.5 * diurnal) if p == "O3" else winter, n_stations)
        v = base[p] * season * station_scale * rng.lognormal(0.0, 0.35, n)
        v = np.round(v, 1 if p == "CO" else 0)
        v[rng.random(n) < 0.10] = np.nan  # missing hours
        cols[p] = v
    frame = pl.DataFrame(cols).with_columns(pl.col(p).fill_nan(None) for p in POLLUTANTS)
    flags = np.where(rng.random(n) < 0.01, "M", "N")
    frame = frame.with_columns(pl.Series("PM2.5_flag", flags))
    per_city = 5
    stations = {f"{1000 + i}A": (f"City{i // per_city:03d}", i % per_city == per_city - 1) for i in range(n_stations)}
    if n_stations < per_city:
        stations = {k: (c, False) for k, (c, _) in stations.items()}
    return frame, network(stations)


def real_hebei() -> tuple[pl.DataFrame, Network] | None:
    files = sorted(HEBEI.glob("2019-*.csv.gz"))
    if not files:
        return None
    raw = pl.concat([pl.read_csv(f, schema_overrides={"station": pl.Utf8, "date": pl.Utf8}) for f in files],
                    how="diagonal")
    frame = raw.select(
        "station",
        (pl.col("date").str.strptime(pl.Datetime("us"), "%Y%m%d") + pl.duration(hours=pl.col("hour"))).alias("time"),
        *[pl.col(p).cast(pl.Float64) for p in POLLUTANTS],
    )
    st = pl.read_csv(HEBEI / "stations.csv", schema_overrides={"code": pl.Utf8})
    return frame, network(st)


def run(frame: pl.DataFrame, net: Network, months: list[tuple[int, int]]) -> dict[str, float]:
    """Time each step once; returns seconds per step and the total."""
    t: dict[str, float] = {}

    def step(name: str, fn: Callable[[], Any]) -> Any:
        s = time.perf_counter()
        out = fn()
        t[name] = time.perf_counter() - s
        return out

    cube = step("grid", lambda: hourly_cube(frame, hour_label="end"))
    ha = step("hourly AQI", lambda: hourly_aqi(cube))
    sd = step("station daily", lambda: daily_values(cube))
    sa = step("station daily AQI", lambda: daily_aqi(sd))
    cd = step("city daily + AQI", lambda: (lambda c: (c, daily_aqi(c)))(city_daily(sd, net)))
    pa = ProvinceAssessment(sd, cd[0], cd[1], net)
    tables = step("monthly rankings", lambda: [month_table(pa, y, m) for y, m in months])
    t["total"] = sum(t.values())
    t["_hours"] = float((ha.aqi >= 0).sum())
    t["_days"] = float(np.isfinite(sa.aqi).sum())
    t["_ranked"] = float(sum(tb["rank"].is_not_null().sum() for tb in tables))
    return t


def best_of(repeat: int, *args: Any) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        gc.collect()
        runs.append(run(*args))
    return min(runs, key=lambda r: r["total"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stations", type=int, nargs="+", default=[60, 1600])
    ap.add_argument("--year", type=int, default=2019)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-real", action="store_true")
    a = ap.parse_args()
    cases: list[tuple[str, pl.DataFrame, Network, list[tuple[int, int]]]] = []
    for n in a.stations:
        frame, net = synthetic(n, a.year)
        cases.append((f"synthetic {n} stations × {frame.height // n} h", frame, net,
                      [(a.year, m) for m in range(1, 13)]))
    if not a.no_real:
        real = real_hebei()
        if real is not None:
            cases.append((f"Hebei 2019-01…06, {real[0]['station'].n_unique()} stations, {real[0].height} rows",
                          real[0], real[1], [(2019, m) for m in range(1, 7)]))
    steps = ["grid", "hourly AQI", "station daily", "station daily AQI", "city daily + AQI", "monthly rankings", "total"]
    table = Table(title=f"评估基准 / assessment benchmark (best of {a.repeat}, seconds, {os.cpu_count()} CPUs)")
    table.add_column("数据 / data")
    for s in steps:
        table.add_column(s, justify="right")
    table.add_column("hourly AQI / daily AQI / ranked", justify="right")
    for name, frame, net, months in cases:
        r = best_of(a.repeat, frame, net, months)
        table.add_row(name, *[f"{r[s]:.3f}" for s in steps],
                      f"{int(r['_hours']):,} / {int(r['_days']):,} / {int(r['_ranked'])}")
        console.print(f"done: {name}: {r['total']:.2f} s")
        del frame
    console.print(table)


if __name__ == "__main__":
    main()
