"""Replay of the real Hebei 2019 data: one 2061 frame per station-hour, values equal to the CSV."""

from __future__ import annotations

import csv
import gzip
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tianlan.errors import InputError
from tianlan.hj212 import decode
from tianlan.sim.registry import seeded_registry
from tianlan.sim.replay import (
    COLUMNS,
    data_dir,
    hebei_city_codes,
    read_stations,
    replay_frames,
    replay_registry,
    station_mn,
    station_password,
)

pytestmark = pytest.mark.skipif(not data_dir().exists(), reason="../shared/data absent")


def _csv_rows(month: str, station: str) -> list[dict[str, str]]:
    with gzip.open(data_dir() / f"{month}.csv.gz", "rt", encoding="utf-8", newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["station"] == station]


def test_replayed_values_equal_the_csv_and_datatime_is_the_hour_start() -> None:
    station = "1029A"
    rows = _csv_rows("2019-01", station)
    expected: dict[str, dict[str, str]] = {}
    for r in rows:
        values = {COLUMNS[c]: r[c] for c in COLUMNS if r[c].strip()}
        if not values:
            continue
        published = datetime.strptime(r["date"], "%Y%m%d") + timedelta(hours=int(r["hour"]))
        # The value published at hour h is the mean of the hour ending at h: DataTime = h − 1.
        expected[(published - timedelta(hours=1)).strftime("%Y%m%d%H%M%S")] = values
    frames = list(replay_frames(["2019-01"], [station]))
    assert len(frames) == len(expected) > 600
    got: dict[str, dict[str, str]] = {}
    qns = set()
    for mn, frame in frames:
        p = decode(frame)
        assert mn == p.mn == station_mn(station) and p.pw == station_password(station)
        assert (p.cn, p.st, p.flag, p.crc_ok) == ("2061", "22", 5, True)
        assert all(items["Flag"] == "N" for items in p.cp.factors.values())
        got[p.cp.data_time or ""] = {code: items["Avg"] for code, items in p.cp.factors.items()}
        qns.add(p.qn)
    assert got == expected
    assert len(qns) == len(frames)
    # Hour 0 of 1 January is the mean of 2018-12-31 23:00–24:00.
    assert "20181231230000" in got and got["20181231230000"]["a34004"] == rows[0]["PM2.5"]


def test_missing_values_omit_the_factor() -> None:
    station = "1050A"
    partial = [r for r in _csv_rows("2019-01", station)
               if 0 < sum(1 for c in COLUMNS if not r[c].strip()) < len(COLUMNS)]
    assert len(partial) > 50
    frames = {p.cp.data_time: p for p in (decode(f) for _, f in replay_frames(["2019-01"], [station]))}
    for r in partial:
        start = datetime.strptime(r["date"], "%Y%m%d") + timedelta(hours=int(r["hour"]) - 1)
        p = frames[start.strftime("%Y%m%d%H%M%S")]
        assert set(p.cp.factors) == {COLUMNS[c] for c in COLUMNS if r[c].strip()}


def test_frames_come_in_time_order_across_stations() -> None:
    times = [decode(f).cp.data_time for _, f in replay_frames(["2019-02"], ["1029A", "1030A", "1042A"])]
    assert times == sorted(times)


def test_the_replay_registry_describes_stations_and_devices() -> None:
    reg = replay_registry(["1029A", "1030A", "1035A", "3584A"])
    reg.validate(seeded_registry())
    assert [s.code for s in reg.sites] == ["1029A", "1030A", "1035A", "3584A"]
    s = reg.sites[0]
    assert (s.name, s.kind, s.region, s.control_level, s.background) == ("职工医院", "air", "130100", "national",
                                                                        False)
    assert (s.lon, s.lat) == (114.4422, 38.0444)
    assert reg.sites[2].background  # 封龙山(对照点): control_site Y
    assert reg.sites[3].region == "133100"  # 雄安新区
    d = reg.devices[0]
    assert d.mn == station_mn("1029A") and d.password == station_password("1029A") and d.site == "1029A"
    assert (d.kind, d.st, d.protocol, d.crc) == ("air", "22", "2017", "standard")
    assert d.parameters == list(COLUMNS.values())
    assert len(d.mn) == 24 and len(d.password) == 6
    with_data = {s.code for s in replay_registry(months=["2019-01"]).sites}
    assert "1029A" in with_data and "1028A" not in with_data  # 1028A closed in 2015


def test_every_station_city_is_a_hebei_city() -> None:
    reg = replay_registry()
    assert len(reg.sites) == len(read_stations()) == 85
    codes = hebei_city_codes()
    assert {s.region for s in reg.sites} == {codes[c] for c in read_stations()["city"].to_list()}
    assert len({s.region for s in reg.sites}) == 12


def test_an_unknown_city_is_refused(tmp_path: Path) -> None:
    (tmp_path / "stations.csv").write_text(
        "code,name,city,lon,lat,control_site,province,prefecture\n9999A,某站,北京,116.4,39.9,N,北京市,北京市\n",
        encoding="utf-8")
    with pytest.raises(InputError, match="city"):
        replay_registry(directory=tmp_path)
