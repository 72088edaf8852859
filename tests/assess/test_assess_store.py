"""``tianlan assess run`` on the store, both backends: real Hebei data in, results that agree with
the file path and the published AQI out; late data recompute the month they touch."""

from __future__ import annotations

import calendar
import json
import time

import polars as pl
import pytest
from typer.testing import CliRunner

from tianlan.cli import app
from tianlan.hj212 import FrameReader
from tianlan.ingest.processor import DeviceAuth, process_frame
from tianlan.store.frame_writer import BatchStore, to_record


def _hebei():
    from tianlan.sim import replay

    d = replay.data_dir()
    if not (d / "stations.csv").exists():
        pytest.skip("../shared/data absent")
    return replay, d


def _ingest(engine, frames) -> int:
    from tianlan.store.registry_repo import RegistryRepo

    auth = {d.mn: DeviceAuth(i, d.mn, d.password, frozenset({"standard"}))
            for i, d in ((r[0], RegistryRepo(engine).get_device(r[1])) for r in
                         [(row.id, row.mn) for row in RegistryRepo(engine).device_rows()])}
    bs = BatchStore(engine)
    recs = []
    for _mn, f in frames:
        (raw,) = FrameReader().feed(f)
        it = process_frame(raw, auth.get, received_utc=time.time(), peer="replay", channel="replay")
        assert it.status == "accepted", (it.reason, it.detail)
        recs.append(to_record(it))
        if len(recs) >= 2000:
            bs.write(recs)
            recs = []
    if recs:
        bs.write(recs)
    bs.close()
    return len(frames)


def test_assess_run_on_store_matches_published_aqi_and_file_ranking(store, tmp_path) -> None:
    replay, data = _hebei()
    stations = pl.read_csv(data / "stations.csv")
    chosen = stations.filter(pl.col("city").is_in(["石家庄", "张家口", "保定"]))["code"].to_list()
    replay.register_replay_stations(store, stations=chosen)
    frames = list(replay.replay_frames(months=["2019-01"], stations=chosen))
    held_back = [f for f in frames if b"DataTime=20190120" in f[1] and chosen[1] in f[0]]
    first = [f for f in frames if f not in held_back]
    assert held_back
    _ingest(store, first)
    url = store.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(app, ["assess", "run", "--database-url", url])
    assert r.exit_code == 0, r.output
    assert "2019-01" in r.output  # replayed hour 0 of 2019-01-01 is 2018-12-31 23:00 → 2018-12 too

    # hourly AQI through the store equals the published AQI (HJ633-2012-published practice)
    from tianlan.store.assess_repo import AssessRepo, beijing_month_bounds

    repo = AssessRepo(store)
    m0, m1 = beijing_month_bounds(2019, 1)
    hours = {(x["subject"], x["period_utc"]): x for x in repo.results("station_hour", start_utc=m0, end_utc=m1)}
    assert {x["edition"] for x in hours.values()} == {"HJ633-2012-published"}
    pub = pl.read_csv(data / "2019-01.csv.gz", schema_overrides={"station": pl.Utf8}).filter(
        pl.col("station").is_in(chosen) & pl.col("AQI").is_not_null())
    match = total = 0
    for row in pub.iter_rows(named=True):
        # published hour h (Beijing) is the mean of the hour ending at h: period start h-1
        day = calendar.timegm(time.strptime(str(row["date"]), "%Y%m%d"))  # the Beijing date, as if UTC
        t = day + (row["hour"] - 1) * 3600 - 8 * 3600
        got = hours.get((row["station"], t))
        if got is None or not (m0 <= t < m1):
            continue
        total += 1
        match += got["aqi"] == row["AQI"]
    assert total > 1000 and match / total >= 0.999, (match, total)

    # the city ranking from the store equals the ranking computed from the files
    month = {x["subject"]: x for x in repo.results("city_month", start_utc=m0, end_utc=m1)}
    assert len(month) == 3
    ranks = {k: v["result"]["rank"] for k, v in month.items()}
    assert ranks["130700"] == 1  # Zhangjiakou cleanest in January 2019
    assert all(v["edition"] for v in month.values())
    # show prints it
    r = CliRunner().invoke(app, ["assess", "show", "--kind", "city_month", "--month", "2019-01",
                                 "--format", "json", "--database-url", url])
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 3

    # nothing new: nothing recomputed; late data: the month is recomputed
    before = repo.results("station_day", start_utc=m0, end_utc=m1, subject=chosen[1])
    r = CliRunner().invoke(app, ["assess", "run", "--database-url", url])
    assert "0 月 months" in r.output, r.output
    _ingest(store, held_back)
    r = CliRunner().invoke(app, ["assess", "run", "--database-url", url])
    assert "2019-01" in r.output, r.output
    after = repo.results("station_day", start_utc=m0, end_utc=m1, subject=chosen[1])
    day20 = [x for x in after if time.strftime("%d", time.gmtime(x["period_utc"] + 8 * 3600)) == "20"]
    assert day20 and day20[0]["coverage"]["PM2.5"]["valid"] >= 20
    assert len(after) >= len(before)

    # year-on-year: with last January assessed, this January's table carries the change (同比)
    from tianlan.assess.composite import change_pct
    from tianlan.store.assess_repo import AssessmentRow

    p0, p1 = beijing_month_bounds(2018, 1)
    repo.replace(["city_month"], p0, p1, [AssessmentRow("city_month", "130700", p0, "HJ633-2012", None, None, None,
                                                        {"composite_index": 5.0, "PM2.5": 40.0}, {})])
    r = CliRunner().invoke(app, ["assess", "run", "--from", "2019-01", "--to", "2019-01", "--database-url", url])
    assert r.exit_code == 0, r.output
    zjk = {x["subject"]: x for x in repo.results("city_month", start_utc=m0, end_utc=m1)}["130700"]["result"]
    assert zjk["composite_index_prev"] == 5.0
    assert zjk["composite_index_yoy_pct"] == change_pct(zjk["composite_index"], 5.0) or \
        abs(zjk["composite_index_yoy_pct"] - (zjk["composite_index"] - 5.0) / 5.0 * 100) < 0.5


def test_city_hour_is_the_hj633_aqi_of_the_city_mean_of_its_evaluation_stations(store) -> None:
    """``city_hour``: per pollutant the mean of the city's evaluation stations' valid station-hour
    concentrations (background sites out), then the HJ 633 hourly AQI in the hour's edition."""
    replay, data = _hebei()
    from tianlan.assess.aqi import hourly_aqi
    from tianlan.assess_job import run_assessment
    from tianlan.store.assess_repo import AssessRepo, beijing_month_bounds
    from tianlan.store.portal_repo import PortalRepo

    stations = pl.read_csv(data / "stations.csv")
    chosen = stations.filter(pl.col("city").is_in(["石家庄", "张家口"]))["code"].to_list()
    replay.register_replay_stations(store, stations=chosen)
    frames = [f for f in replay.replay_frames(months=["2019-01"], stations=chosen)
              if b"DataTime=2019011" in f[1]]  # 10th-19th January
    _ingest(store, frames)
    v0 = PortalRepo(store).results_version()
    res = run_assessment(store, months=[(2019, 1)])
    assert res["results"] > 0
    assert PortalRepo(store).results_version() != v0  # a run stamps the results version for caches
    repo = AssessRepo(store)
    m0, m1 = beijing_month_bounds(2019, 1)
    city_of = {s.code: (s.city, s.background) for s in repo.air_stations()}
    st = repo.results("station_hour", start_utc=m0, end_utc=m1)
    ch = {(x["subject"], x["period_utc"]): x for x in repo.results("city_hour", start_utc=m0, end_utc=m1)}
    assert {c for c, _ in ch} == {"130100", "130700"}
    assert {x["edition"] for x in ch.values()} == {"HJ633-2012-published"}
    by_city_hour: dict[tuple[str, int], list[dict]] = {}
    for x in st:
        city, background = city_of[x["subject"]]
        if not background:
            by_city_hour.setdefault((city, x["period_utc"]), []).append(x["result"]["concentrations"])
    checked = 0
    for key, concs in sorted(by_city_hour.items())[::7]:
        got = ch[key]
        for p in ("PM2.5", "NO2", "CO"):
            vals = [c[p] for c in concs if c.get(p) is not None]
            if vals:
                assert abs(got["result"]["concentrations"][p] - sum(vals) / len(vals)) < 1e-2, (key, p)
                assert got["coverage"]["stations"][p] == len(vals)
        want = hourly_aqi({p: v for p, v in got["result"]["concentrations"].items() if v is not None},
                          got["edition"]).aqi
        assert got["aqi"] == want, (key, got)
        checked += 1
    assert checked > 50
    # background sites do not count: a city's station count never exceeds its evaluation stations
    evaluation = {c: sum(1 for s, (cc, bg) in city_of.items() if cc == c and not bg) for c in ("130100", "130700")}
    assert all(x["coverage"]["stations"]["PM2.5"] <= evaluation[c] for (c, _), x in ch.items())
