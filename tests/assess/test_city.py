"""City values, daily city AQI, composite index, ranking, year-on-year, real Hebei ranking, rank CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from tianlan.assess.aggregate import daily_values, hourly_cube, month_statistics
from tianlan.assess.aqi import daily_aqi as scalar_daily_aqi
from tianlan.assess.city import (
    add_year_on_year,
    assess_province,
    city_daily,
    city_hourly,
    daily_aqi,
    hourly_aqi,
    month_table,
    network,
)
from tianlan.assess.commands_rank import register
from tianlan.assess.composite import (
    WEIGHTED_2026_UNCONFIRMED,
    CompositeConfig,
    change_pct,
    composite_index,
    exceeds,
    gb3095_limit,
    good_day_ratio,
    rank,
)
from tianlan.errors import InputError

SHARED = Path(os.environ.get("TIANLAN_SHARED_DIR", Path(__file__).resolve().parents[2].parent / "shared"))
VECTORS = SHARED / "reference" / "standards" / "test_vectors.json"
HEBEI = SHARED / "data" / "cnemc-hebei-2019"
POLS = ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5")


def vector(vid: str) -> dict:
    if not VECTORS.exists():
        pytest.skip(f"test vectors not found at {VECTORS} (set TIANLAN_SHARED_DIR to the shared folder)")
    return next(v for v in json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"] if v["id"] == vid)


# -- vectors -------------------------------------------------------------------------------------------


def test_assess_003_composite_index() -> None:
    v = vector("ASSESS-003")
    cfg = CompositeConfig()
    assert cfg.limits == {k: float(x) for k, x in v["inputs"]["limits"].items()}
    r = composite_index(v["inputs"]["statistics"], cfg)
    for k, want in v["expected"]["single_indices"].items():
        assert r.single[k] == pytest.approx(want, abs=5e-5)
    assert r.rounded(2) == v["expected"]["composite_index"]
    assert round(r.max_index, 3) == v["expected"]["max_index"]
    assert list(r.max_pollutants) == v["expected"]["max_index_pollutants"]


def test_assess_004_good_day_ratio() -> None:
    v = vector("ASSESS-004")
    i = v["inputs"]
    good = i["excellent_days"] + i["good_days"]
    assert good_day_ratio(good, i["valid_days"]) == v["expected"]["ratio_pct"]
    assert good_day_ratio(87, 91) == 95.6 and good_day_ratio(0, 0) is None


def test_assess_008_exceedance_by_edition() -> None:
    v = vector("ASSESS-008")
    c = v["inputs"]["pm25_daily"]
    verdict = {True: "exceeds", False: "compliant"}
    e = v["expected"]
    assert verdict[exceeds(c, "PM2.5", "24h", on=dt.date(2019, 6, 1))] == e["gb3095_2012_grade2"]
    assert verdict[exceeds(c, "PM2.5", "24h", on=dt.date(2026, 3, 1))] == e["gb3095_2026_transitional_grade2"]
    assert verdict[exceeds(c, "PM2.5", "24h", on=dt.date(2031, 1, 1))] == e["gb3095_2026_final_grade2"]
    assert gb3095_limit("PM2.5", "24h", on=dt.date(2026, 2, 28)) == 75


def test_composite_needs_all_six_and_weights_are_opt_in() -> None:
    stats = {"SO2": 12, "NO2": 31, "PM10": 74, "PM2.5": 37, "CO_p95": 1.4, "O3_8h_p90": None}
    r = composite_index(stats)
    assert r.total is None and r.single["O3_8h_p90"] is None
    full = stats | {"O3_8h_p90": 168}
    w = composite_index(full, CompositeConfig(weights=WEIGHTED_2026_UNCONFIRMED))
    assert w.total == pytest.approx(0.2 + 2 * 0.775 + 74 / 70 + 3 * 37 / 35 + 0.35 + 2 * 1.05)
    transitional = CompositeConfig(standard="GB 3095-2026", phase="transitional")
    assert transitional.limits["PM2.5"] == 30 and transitional.limits["PM10"] == 60


def test_rank_ascending_with_ties_and_gaps() -> None:
    assert rank([4.49, None, 3.10, 4.491, 5.0, float("nan")]) == [2, None, 1, 2, 4, None]
    assert rank([4.49, 4.491], decimals=None) == [1, 2]


def test_change_pct() -> None:
    assert change_pct(45.0, 50.0) == -10.0 and change_pct(1.0, None) is None and change_pct(1.0, 0.0) is None


# -- city values --------------------------------------------------------------------------------------


def _frame(rows: dict[str, dict[str, float | None]], days: list[dt.date], *, jitter: bool = False) -> pl.DataFrame:
    """Every station gets the same value every hour of `days` (hour-start times)."""
    parts = []
    rng = np.random.default_rng(3)
    for code, vals in rows.items():
        n = 24 * len(days)
        t = [dt.datetime.combine(d, dt.time()) + dt.timedelta(hours=h) for d in days for h in range(24)]
        cols: dict[str, object] = {"station": [code] * n, "time": t}
        for p in POLS:
            v = vals.get(p)
            cols[p] = [None if v is None else (v * (1 + 0.2 * rng.random()) if jitter else v) for _ in range(n)]
        parts.append(pl.DataFrame(cols, schema_overrides={p: pl.Float64 for p in POLS}))
    return pl.concat(parts)


NET = {"A1": ("甲市", False), "A2": ("甲市", False), "A9": ("甲市", True), "B1": ("乙市", False)}
CLEAN = {"SO2": 10.0, "NO2": 20.0, "CO": 0.5, "O3": 60.0, "PM10": 40.0, "PM2.5": 20.0}


def test_background_sites_are_excluded_from_city_values() -> None:
    days = [dt.date(2019, 5, 1), dt.date(2019, 5, 2)]
    rows = {"A1": CLEAN, "A2": {p: 3 * v for p, v in CLEAN.items()}, "A9": {p: 100 * v for p, v in CLEAN.items()},
            "B1": CLEAN}
    net = network(NET)
    assert net.evaluation_stations("甲市") == ["A1", "A2"]
    cube = hourly_cube(_frame(rows, days))
    cd = city_daily(daily_values(cube), net)
    i = cd.keys.index("甲市")
    assert cd.values["PM2.5"][i, 0] == pytest.approx(40.0)  # (20 + 60) / 2, the control site's 2000 ignored
    assert cd.values["O3_8h"][i, 1] == pytest.approx(120.0)
    assert cd.valid["PM2.5"][i, 0] == 2 and cd.expected["PM2.5"][i] == 2
    ch = city_hourly(cube, net)
    assert ch.values["NO2"][i, 0, 5] == pytest.approx(40.0)


def test_city_value_from_the_stations_that_are_valid_and_min_stations() -> None:
    days = [dt.date(2019, 5, 1)]
    a2 = dict(CLEAN)
    a2["PM2.5"] = None
    rows = {"A1": CLEAN, "A2": a2, "A9": CLEAN, "B1": CLEAN}
    net = network(NET)
    sd = daily_values(hourly_cube(_frame(rows, days)))
    cd = city_daily(sd, net)
    i = cd.keys.index("甲市")
    assert cd.values["PM2.5"][i, 0] == 20.0 and cd.valid["PM2.5"][i, 0] == 1
    assert np.isnan(city_daily(sd, net, min_stations=2).values["PM2.5"][i, 0])


def test_network_from_a_table_names_column_and_row() -> None:
    ok = pl.DataFrame({"code": ["1", "2"], "city": ["石家庄", "石家庄"], "control_site": ["Y", ""]})
    net = network(ok)
    assert net.control == frozenset({"1"}) and net.cities == ("石家庄",)
    with pytest.raises(InputError) as e:
        network(ok.drop("control_site"))
    assert e.value.field == "control_site"
    with pytest.raises(InputError) as e:
        network(ok.with_columns(pl.Series("control_site", ["Y", "maybe"])))
    assert e.value.field == "control_site" and e.value.where == "stations 第 3 行 / line 3"
    with pytest.raises(InputError) as e:
        network(ok.with_columns(pl.Series("code", ["1", "1"])))
    assert e.value.field == "code" and "line 3" in str(e.value)


# -- city AQI and month tables ---------------------------------------------------------------------------


def test_daily_city_aqi_equals_the_scalar_engine_and_switches_edition() -> None:
    days = [dt.date(2026, 2, 28), dt.date(2026, 3, 1)]
    rows = {"A1": CLEAN | {"PM2.5": 62.0}, "A2": CLEAN | {"PM2.5": 62.0}, "B1": CLEAN}
    net = network(NET)
    cd = city_daily(daily_values(hourly_cube(_frame(rows, days, jitter=True))), net)
    aqi = daily_aqi(cd)
    assert aqi.edition == ["HJ633-2012", "HJ633-2026"]
    for i in range(len(cd.keys)):
        for j, ed in enumerate(aqi.edition):
            vals = {s: (None if np.isnan(cd.values[s][i, j]) else float(cd.values[s][i, j])) for s in cd.values}
            want = scalar_daily_aqi(vals, ed).aqi
            assert (want is None and np.isnan(aqi.aqi[i, j])) or aqi.aqi[i, j] == want
    i = cd.keys.index("甲市")
    assert aqi.aqi[i, 0] <= 100 < aqi.aqi[i, 1]  # PM2.5 62…74: good under 2012 (75), polluted under 2026 (60)


def test_hourly_aqi_literal_2012_matches_the_file_engine() -> None:
    """Grid sliding means (24 h PM ≥ 20 h, O3 8 h ≥ 6 h) equal the aqi_frame file path."""
    from tianlan.assess.aqi_frame import add_aqi

    days = [dt.date(2019, 7, 1) + dt.timedelta(days=i) for i in range(3)]
    df = _frame({"A1": CLEAN | {"O3": 150.0, "PM2.5": 90.0}, "B1": CLEAN}, days, jitter=True)
    df = df.filter(~((pl.col("station") == "A1") & (pl.col("time").dt.hour().is_in([3, 4, 5]))))
    cube = hourly_cube(df)
    mine = hourly_aqi(cube, choice="HJ633-2012")
    ref = add_aqi(df.with_columns(pl.col("time") + pl.duration(hours=1)), "hourly", "HJ633-2012", time_marks="end")
    for row in ref.select("station", "time", "AQI").iter_rows():
        k = cube.keys.index(row[0])
        t = row[1] - dt.timedelta(hours=1)
        d = (t.date() - cube.start).days
        got = int(mine.aqi[k, d, t.hour])
        assert (row[2] is None and got == -1) or got == row[2]


def test_month_table_ranks_and_year_on_year() -> None:
    feb = [dt.date(2019, 2, 1) + dt.timedelta(days=i) for i in range(28)]
    rows = {"A1": CLEAN, "A2": CLEAN, "A9": CLEAN, "B1": {p: 2 * v for p, v in CLEAN.items()}}
    net = network(NET)
    pa = assess_province(_frame(rows, feb[:25]), net, start=feb[0], end=feb[-1])
    t = month_table(pa, 2019, 2)
    assert t["city"].to_list() == ["甲市", "乙市"] and t["rank"].to_list() == [1, 2]
    assert t["days_PM2.5"].to_list() == [25, 25] and t["valid_days"].to_list() == [25, 25]
    assert t["good_ratio"].to_list() == [100.0, 100.0]
    assert t["edition"][0] == "HJ633-2012" and t["standard"][0] == "GB 3095-2012"
    raw = month_table(pa, 2019, 2, raw=True)
    want = 10 / 60 + 20 / 40 + 40 / 70 + 20 / 35 + 0.5 / 4 + 60 / 160
    assert raw.filter(pl.col("city") == "甲市")["composite_index"][0] == pytest.approx(want)
    # 24 days in February: no statistic, no index, no rank
    pa24 = assess_province(_frame(rows, feb[:24]), net, start=feb[0], end=feb[-1])
    t24 = month_table(pa24, 2019, 2)
    assert t24["rank"].null_count() == 2 and t24["composite_index"].null_count() == 2
    yoy = add_year_on_year(t, t.with_columns(pl.col("composite_index") * 2))
    assert yoy["composite_index_yoy_pct"].to_list() == [-50.0, -50.0]


# -- real data -------------------------------------------------------------------------------------------


def _hebei(months: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    files = [HEBEI / f"2019-{m}.csv.gz" for m in months]
    if not all(f.exists() for f in files):
        pytest.skip(f"real Hebei data not found in {HEBEI} (set TIANLAN_SHARED_DIR)")
    raw = pl.concat([pl.read_csv(f, schema_overrides={"station": pl.Utf8, "date": pl.Utf8}) for f in files],
                    how="diagonal")
    df = raw.with_columns((pl.col("date").str.strptime(pl.Datetime, "%Y%m%d") + pl.duration(hours=pl.col("hour")))
                          .alias("time"))
    return df, pl.read_csv(HEBEI / "stations.csv", schema_overrides={"code": pl.Utf8})


def test_hebei_january_2019_ranking_is_plausible() -> None:
    df, st = _hebei(["01", "02"])
    pa = assess_province(df, network(st), hour_label="end")
    t = month_table(pa, 2019, 1)
    ranked = t.filter(pl.col("rank").is_not_null())
    assert ranked.height >= 11
    by_rank = dict(zip(ranked["city"].to_list(), ranked["rank"].to_list(), strict=True))
    n = ranked.height
    # January 2019: the southern plain cities worst, the northern mountain cities best.
    assert {by_rank["张家口"], by_rank["承德"]} == {1, 2}
    assert by_rank["石家庄"] >= n - 2
    for city in ("石家庄", "邢台", "邯郸", "保定"):
        assert by_rank[city] > n - 4, city
    assert (ranked["primary"].filter(ranked["rank"] > 2) == "PM2.5").all()
    assert ranked.filter(pl.col("city") == "石家庄")["PM2.5"][0] > 100
    assert (ranked["valid_days"] >= 27).all()


def test_hebei_hourly_aqi_from_the_grid_equals_the_published_aqi() -> None:
    df, _ = _hebei(["01"])
    cube = hourly_cube(df, hour_label="end")
    ha = hourly_aqi(cube)
    k = np.array([cube.keys.index(s) for s in df["station"].to_list()])
    t = df["time"].to_numpy().astype("datetime64[h]") - np.timedelta64(1, "h")
    d = (t.astype("datetime64[D]") - np.datetime64(cube.start, "D")).astype(int)
    h = (t - t.astype("datetime64[D]")).astype(int)
    got = ha.aqi[k, d, h]
    pub = df["AQI"].to_numpy()
    # Hours with all six pollutants published: the published-practice edition must agree.
    complete = df.select(pl.all_horizontal([pl.col(p).is_not_null() for p in POLS])).to_series().to_numpy()
    m = complete & np.isfinite(pub.astype(float))
    assert m.sum() > 30000
    assert (got[m] == pub[m]).mean() >= 0.999


# -- the rank command --------------------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:  # a group, so that `rank` is a sub-command as under `tianlan assess`
        pass

    return app


def _write_files(tmp: Path, *, with_prev: bool = True) -> tuple[Path, Path]:
    stations = tmp / "stations.csv"
    stations.write_text("code,city,control_site,name\nA1,甲市,N,一\nA2,甲市,N,二\nA9,甲市,Y,对照\nB1,乙市,N,三\n",
                        encoding="utf-8")
    months = [dt.date(2019, 3, 1)] + ([dt.date(2018, 3, 1)] if with_prev else [])
    lines = ["station,time,SO2,NO2,CO,O3,PM10,PM2.5,PM2.5_flag"]
    for m0 in months:
        for day in range(31):
            for h in range(1, 25):
                t = dt.datetime.combine(m0, dt.time()) + dt.timedelta(days=day, hours=h)  # hour-ending labels
                for code, f in (("A1", 1.0), ("A2", 1.0), ("A9", 50.0), ("B1", 2.0 if m0.year == 2019 else 1.5)):
                    flag = "M" if (code == "A1" and day == 0 and h <= 6) else "N"
                    lines.append(f"{code},{t:%Y-%m-%dT%H:%M},{10 * f},{20 * f},{0.5 * f},{60 * f},{40 * f},"
                                 f"{20 * f},{flag}")
    inp = tmp / "hourly.csv"
    inp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return inp, stations


def test_rank_cli_end_to_end(tmp_path: Path) -> None:
    inp, stations = _write_files(tmp_path)
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(_app(), ["rank", "--input", str(inp), "--stations", str(stations), "--month", "2019-03",
                                      "--output", str(out)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "排名 / rank" in res.output and "甲市" in res.output and "同比" in res.output
    t = pl.read_csv(out)
    assert t["city"].to_list() == ["甲市", "乙市"] and t["rank"].to_list() == [1, 2]
    a = t.filter(pl.col("city") == "甲市").row(0, named=True)
    assert a["PM2.5"] == 20 and a["days_PM2.5"] == 31 and a["valid_days"] == 31 and a["edition"] == "HJ633-2012"
    b = t.filter(pl.col("city") == "乙市").row(0, named=True)
    assert b["PM2.5_prev"] == 30 and b["PM2.5_yoy_pct"] == pytest.approx(33.3)
    assert b["composite_index_yoy_pct"] == pytest.approx(33.3)


@pytest.mark.parametrize(("edit", "field"), [
    (lambda s: s.replace("station,time,SO2,", "station,time,SULFUR,"), "SO2"),
    (lambda s: s.replace("A2,2019-03-01T05:00,10.0,", "A2,2019-03-01T05:00,abc,"), "SO2"),
    (lambda s: s.replace("A2,2019-03-01T05:00,", "A2,2019-03-01T05:30,"), "time"),
    (lambda s: s.replace("B1,2019-03-02T05:00,", "Z9,2019-03-02T05:00,"), "station"),
    (lambda s: s.replace("B1,2019-03-02T05:00,", "B1,2019-03-02T04:00,"), "duplicate"),
    (lambda s: s.replace("A1,2019-03-03T05:00,10.0,", "A1,2019-03-03T05:00,-1,"), "SO2"),
])
def test_rank_cli_errors_name_the_column_and_row(tmp_path: Path, edit, field: str) -> None:
    inp, stations = _write_files(tmp_path, with_prev=False)
    before = inp.read_text(encoding="utf-8").splitlines()
    after = edit("\n".join(before) + "\n").splitlines()
    inp.write_text("\n".join(after) + "\n", encoding="utf-8")
    res = CliRunner().invoke(_app(), ["rank", "-i", str(inp), "-s", str(stations), "-m", "2019-03"])
    assert res.exit_code == 2
    assert field in res.output
    changed = next(i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b) + 1
    assert (f"line {changed}" in res.output) if changed > 1 else ("missing" in res.output)


def test_rank_cli_bad_month_and_standard(tmp_path: Path) -> None:
    inp, stations = _write_files(tmp_path, with_prev=False)
    res = CliRunner().invoke(_app(), ["rank", "-i", str(inp), "-s", str(stations), "-m", "2019/03"])
    assert res.exit_code == 2 and "--month" in res.output
    res = CliRunner().invoke(_app(), ["rank", "-i", str(inp), "-s", str(stations), "-m", "2019-03", "--standard", "X"])
    assert res.exit_code == 2 and "--standard" in res.output
    res = CliRunner().invoke(_app(), ["rank", "-i", str(inp), "-s", str(stations), "-m", "2019-04"])
    assert res.exit_code == 2 and "2019-04" in res.output
    ok = CliRunner().invoke(_app(), ["rank", "-i", str(inp), "-s", str(stations), "-m", "2019-03",
                                     "--standard", "HJ633-2026"], env={"COLUMNS": "200"})
    assert ok.exit_code == 0 and "HJ633-2026" in ok.output


def test_month_statistics_for_cities_match_hand_computation() -> None:
    days = [dt.date(2019, 4, 1) + dt.timedelta(days=i) for i in range(30)]
    rows = {"A1": CLEAN, "A2": CLEAN, "B1": CLEAN}
    cd = city_daily(daily_values(hourly_cube(_frame(rows, days, jitter=True))), network(NET))
    st = month_statistics(cd, 2019, 4)
    i = cd.keys.index("乙市")
    x = cd.values["CO"][i]
    assert st.values["CO_p95"][i] == pytest.approx(np.percentile(x, 95, method="linear"))
    assert st.values["PM2.5"][i] == pytest.approx(x.mean() * 0 + cd.values["PM2.5"][i].mean())


def test_year_table_needs_324_days_and_every_month() -> None:
    from tianlan.assess.city import year_table

    year = [dt.date(2019, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    a = _frame({"A1": CLEAN}, year)
    july_gap = [d for d in year if not (d.month == 7 and d.day <= 5)]  # 360 days, but July only 26
    b = _frame({"B1": {p: 2 * v for p, v in CLEAN.items()}}, july_gap)
    pa = assess_province(pl.concat([a, b]), network(NET), start=year[0], end=year[-1])
    t = year_table(pa, 2019)
    rows = {r["city"]: r for r in t.iter_rows(named=True)}
    assert rows["甲市"]["rank"] == 1 and rows["甲市"]["PM2.5_p95"] == 20 and rows["甲市"]["days_PM2.5"] == 365
    assert rows["甲市"]["valid_days"] == 365 and rows["甲市"]["good_ratio"] == 100.0
    assert rows["乙市"]["days_PM2.5"] == 360 and rows["乙市"]["PM2.5"] is None and rows["乙市"]["rank"] is None
