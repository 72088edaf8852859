"""``tianlan qc scan`` exactly as the issue gives it, on files (wide and long) and on the store;
``tianlan qc detectors``; errors exit 2 naming the field."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from tianlan.model.registry import Device, Registry, Site
from tianlan.qc.commands import ALARM_COLUMNS, register
from tianlan.store.qc_repo import QcRepo
from tianlan.store.registry_repo import RegistryRepo

STATIONS_CSV = """code,city,lon,lat,control_site
1001A,石家庄,114.50,38.05,N
1002A,石家庄,114.53,38.04,N
1003A,石家庄,114.47,38.07,N
1004A,石家庄,114.52,38.08,Y
"""
CONFIG = """version: 1
base: none
detectors:
  - id: ZQ-FLAT
    parameters: [PM2.5, SO2]
    params: {min_len: 5}
  - id: ZQ-HIGH
"""
HOURS = 72


@pytest.fixture
def app() -> typer.Typer:
    a = typer.Typer()
    register(a)
    return a


def _values(hours: int = HOURS, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = {}
    for st in ("1001A", "1002A", "1003A", "1004A"):
        out[st] = {p: np.round(rng.uniform(10, 90, hours), 1) for p in ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5")}
    out["1002A"]["PM2.5"][30:37] = 44.44  # 7 flat hours: 2019-03-02 06:00 … 13:00 (hour start, Beijing)
    out["1003A"]["PM2.5"][60] = 800.0  # one hour above the toy limit
    return out


def _time(h: int) -> str:
    d, hh = divmod(h, 24)
    return f"2019-03-{1 + d:02d}T{hh:02d}:00"


def _wide(path: Path, vals: dict, shift: int = 0) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["station", "time", "SO2", "NO2", "CO", "O3", "PM10", "PM2.5"])
        for st, per in vals.items():
            for h in range(HOURS):
                w.writerow([st, _time(h + shift), *(per[p][h] for p in ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5"))])
    return path


def _files(tmp_path: Path) -> tuple[Path, Path]:
    s = tmp_path / "S.csv"
    s.write_text(STATIONS_CSV, encoding="utf-8")
    c = tmp_path / "C.yaml"
    c.write_text(CONFIG, encoding="utf-8")
    return s, c


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        r = csv.DictReader(f)
        assert tuple(r.fieldnames or ()) == ALARM_COLUMNS
        return list(r)


def test_scan_wide_file_exactly(app, toys, tmp_path: Path) -> None:
    s, c = _files(tmp_path)
    f = _wide(tmp_path / "F.csv", _values())
    out = tmp_path / "A.csv"
    r = CliRunner().invoke(app, ["scan", "--input", str(f), "--stations", str(s), "--config", str(c), "--output", str(out)])
    assert r.exit_code == 0, r.output
    rows = _read(out)
    flat = [x for x in rows if x["detector"] == "ZQ-FLAT"]
    assert flat == [{"station": "1002A", "parameter": "PM2.5", "start": "2019-03-02T06:00:00+08:00",
                     "end": "2019-03-02T13:00:00+08:00", "detector": "ZQ-FLAT", "level": "1", "score": "7",
                     "reason": "flat"}]
    high = [x for x in rows if x["detector"] == "ZQ-HIGH"]
    assert [(x["station"], x["parameter"], x["start"], x["end"]) for x in high] == [
        ("1003A", "PM2.5", "2019-03-03T12:00:00+08:00", "2019-03-03T13:00:00+08:00")]
    assert "alarms" in r.output and "config" in r.output


def test_scan_hour_ending_labels(app, toys, tmp_path: Path) -> None:
    """CNEMC labels: 07:00 means 06:00–07:00, so every alarm moves one hour earlier."""
    s, c = _files(tmp_path)
    f = _wide(tmp_path / "F.csv", _values(), shift=1)
    out = tmp_path / "A.csv"
    r = CliRunner().invoke(app, ["scan", "--input", str(f), "--stations", str(s), "--config", str(c), "--output", str(out),
                                 "--hour-label", "end"])
    assert r.exit_code == 0, r.output
    (flat,) = [x for x in _read(out) if x["detector"] == "ZQ-FLAT"]
    assert (flat["start"], flat["end"]) == ("2019-03-02T06:00:00+08:00", "2019-03-02T13:00:00+08:00")


def test_scan_long_file_with_codes_flags_and_zoned_times(app, toys, tmp_path: Path) -> None:
    s, c = _files(tmp_path)
    vals = _values()
    f = tmp_path / "F_long.csv"
    with f.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["station", "time", "parameter", "value", "flag"])
        for st, per in vals.items():
            for h in range(HOURS):
                # UTC with a zone for one station: the same instants
                t = _time(h) if st != "1002A" else f"2019-03-{1 + (h - 8) // 24:02d}T{(h - 8) % 24:02d}:00:00Z"
                if h < 8 and st == "1002A":
                    t = f"2019-02-28T{h + 16:02d}:00:00Z"
                w.writerow([st, t, "a34004", per["PM2.5"][h], "N"])
                w.writerow([st, t, "SO2", per["SO2"][h], ""])
    out = tmp_path / "A.csv"
    r = CliRunner().invoke(app, ["scan", "--input", str(f), "--stations", str(s), "--config", str(c), "--output", str(out)])
    assert r.exit_code == 0, r.output
    (flat,) = [x for x in _read(out) if x["detector"] == "ZQ-FLAT"]
    assert flat["parameter"] == "a34004"  # as the file named it
    assert (flat["station"], flat["start"], flat["end"]) == ("1002A", "2019-03-02T06:00:00+08:00", "2019-03-02T13:00:00+08:00")


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda t: t.replace("1003A,2019-03-01T05:00,", "9999Z,2019-03-01T05:00,", 1), "station"),
    (lambda t: t.replace("1001A,2019-03-01T02:00,", "1001A,yesterday,", 1), "time"),
    (lambda t: t.replace("1001A,2019-03-01T03:00,", "1001A,2019-03-01T03:30,", 1), "time"),
    (lambda t: t.replace("station,time,SO2", "station,time,SOX", 1).replace(",NO2,CO,O3,PM10,PM2.5", ",A,B,C,D,E"),
     "parameter"),
])
def test_input_errors_exit_2_naming_the_field(app, toys, tmp_path: Path, mutate, field) -> None:
    s, c = _files(tmp_path)
    f = _wide(tmp_path / "F.csv", _values())
    f.write_text(mutate(f.read_text(encoding="utf-8")), encoding="utf-8")
    r = CliRunner().invoke(app, ["scan", "--input", str(f), "--stations", str(s), "--config", str(c), "--output",
                                 str(tmp_path / "A.csv")])
    assert r.exit_code == 2, r.output
    assert f"{field}:" in r.output and "error" in r.output


def test_bad_number_names_column_and_line(app, toys, tmp_path: Path) -> None:
    s, c = _files(tmp_path)
    f = _wide(tmp_path / "F.csv", _values())
    lines = f.read_text(encoding="utf-8").splitlines()
    parts = lines[3].split(",")
    parts[4] = "n/a"  # CO
    lines[3] = ",".join(parts)
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["scan", "--input", str(f), "--stations", str(s), "--config", str(c)])
    assert r.exit_code == 2 and "CO:" in r.output and "line 4" in r.output, r.output


def test_long_file_and_stations_file_errors(app, toys, tmp_path: Path) -> None:
    s, c = _files(tmp_path)
    f = tmp_path / "F.csv"
    f.write_text("station,time,parameter,value\n1001A,2019-03-01T00:00,PM2.5,3\n1001A,2019-03-01T00:00,PM7,3\n",
                 encoding="utf-8")
    run = CliRunner().invoke
    r = run(app, ["scan", "--input", str(f), "--stations", str(s), "--config", str(c)])
    assert r.exit_code == 2 and "parameter:" in r.output and "line 3" in r.output and "PM7" in r.output, r.output
    f.write_text("station,time,parameter,value\n1001A,2019-03-01T00:00,PM2.5,3\n1001A,2019-03-01T00:00,a34004,4\n",
                 encoding="utf-8")
    r = run(app, ["scan", "--input", str(f), "--stations", str(s), "--config", str(c)])
    assert r.exit_code == 2 and "time:" in r.output and "duplicate" in r.output, r.output
    f.write_text("station,time,parameter\n1001A,2019-03-01T00:00,PM2.5\n", encoding="utf-8")
    r = run(app, ["scan", "--input", str(f), "--stations", str(s), "--config", str(c)])
    assert r.exit_code == 2 and "value:" in r.output
    f.write_text("station,time,parameter,value\n1001A,2019-03-01T00:00,PM2.5,3\n", encoding="utf-8")
    for text, field in (("code,city,lon,lat\n1001A,石家庄,114.5,38.0\n1001A,石家庄,114.6,38.0\n", "code:"),
                        ("code,city,lon,lat,control_site\n1001A,石家庄,114.5,38.0,maybe\n", "control_site:"),
                        ("code,city,lon,lat\n1001A,石家庄,214.5,38.0\n", "lon:"),
                        ("code,city,lon\n1001A,石家庄,114.5\n", "lat:")):
        s.write_text(text, encoding="utf-8")
        r = run(app, ["scan", "--input", str(f), "--stations", str(s), "--config", str(c)])
        assert r.exit_code == 2 and field in r.output, (text, r.output)


def test_option_and_config_errors_exit_2(app, toys, tmp_path: Path) -> None:
    s, c = _files(tmp_path)
    f = _wide(tmp_path / "F.csv", _values())
    run = CliRunner().invoke
    r = run(app, ["scan", "--input", str(f)])
    assert r.exit_code == 2 and "--stations" in r.output
    r = run(app, ["scan", "--input", str(f), "--stations", str(s), "--hour-label", "middle"])
    assert r.exit_code == 2 and "--hour-label" in r.output
    r = run(app, ["scan", "--input", str(f), "--stations", str(tmp_path / "nope.csv")])
    assert r.exit_code == 2 and "--stations" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: none\ndetectors:\n  - id: ZQ-FLAT\n  - id: XX-42\n", encoding="utf-8")
    r = run(app, ["scan", "--input", str(f), "--stations", str(s), "--config", str(bad)])
    assert r.exit_code == 2 and "detectors[1].id" in r.output and "XX-42" in r.output
    bad.write_text("base: none\ndetectors:\n  - id: ZQ-FLAT\n    parameters: [PM2.5, PM7]\n", encoding="utf-8")
    r = run(app, ["scan", "--input", str(f), "--stations", str(s), "--config", str(bad)])
    assert r.exit_code == 2 and "detectors[0].parameters[1]" in r.output
    r = run(app, ["scan", "--input", str(f), "--stations", str(s), "--from", "2019-01-01"])
    assert r.exit_code == 2 and "--from" in r.output


def test_detectors_lists_the_registry(app, toys) -> None:
    r = CliRunner().invoke(app, ["detectors", "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = {x["id"]: x for x in json.loads(r.output)}
    assert rows["ZQ-FLAT"]["params"]["min_len"] == {"default": 4, "unit": "values", "doc": ""}
    assert rows["ZQ-HIGH"]["systems"] == ["air"] and rows["ZQ-HIGH"]["parameters"] == ["a34004"]
    assert rows["ZQ-BOOM"]["stream"] is False  # forensic family: batch only
    r = CliRunner().invoke(app, ["detectors", "--family", "tmp"])
    assert r.exit_code == 0 and "ZQ-FLAT" in r.output and "ZQ-HIGH" not in r.output
    assert CliRunner().invoke(app, ["detectors", "--format", "xml"]).exit_code == 2


def _store_network(engine, vals: dict, t0: int, put) -> None:
    sites = [Site(code, code, "air", "130100", lon, lat) for code, lon, lat in
             (("1001A", 114.50, 38.05), ("1002A", 114.53, 38.04), ("1003A", 114.47, 38.07))]
    devs = [Device(f"MN{code}", "pw123456", "air", site=code, parameters=["a34004", "a21026"]) for code in
            ("1001A", "1002A", "1003A")]
    RegistryRepo(engine).import_registry(Registry(sites=sites, devices=devs))
    ids = {r.site_code: r.id for r in RegistryRepo(engine).device_rows()}
    rows = []
    for st, per in vals.items():
        if st not in ids:
            continue
        for h in range(HOURS):
            for code, name in (("a34004", "PM2.5"), ("a21026", "SO2")):
                rows.append({"time_utc": t0 + 3600 * h, "device_id": ids[st], "parameter": code, "kind": "hour",
                             "value": float(per[name][h]), "flag": "N", "frame_id": 0})
    put(engine, rows)


def test_scan_over_the_store_writes_qc_results_and_alarms(app, toys, store, tmp_path: Path, put_observations) -> None:
    t0 = 1551369600  # 2019-03-01 00:00 Beijing
    _store_network(store, _values(), t0, put_observations)
    _, c = _files(tmp_path)
    url = store.url.render_as_string(hide_password=False)
    out = tmp_path / "A.csv"
    args = ["scan", "--database-url", url, "--from", "2019-03-01", "--to", "2019-03-04", "--config", str(c), "--output",
            str(out)]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    (flat,) = [x for x in _read(out) if x["detector"] == "ZQ-FLAT"]
    assert flat["parameter"] == "PM2.5" and flat["station"] == "1002A"
    assert (flat["start"], flat["end"]) == ("2019-03-02T06:00:00+08:00", "2019-03-02T13:00:00+08:00")
    repo = QcRepo(store)
    stored = repo.results(station="1002A", detector="ZQ-FLAT")
    assert [(x.start_utc, x.end_utc, x.parameter) for x in stored] == [(t0 + 30 * 3600, t0 + 37 * 3600, "a34004")]
    n = repo.count()
    assert n >= 2
    r = CliRunner().invoke(app, args)  # the same scan again replaces its own results
    assert r.exit_code == 0, r.output
    assert repo.count() == n
    r = CliRunner().invoke(app, ["scan", "--database-url", url, "--from", "2019-03-04", "--to", "2019-03-01"])
    assert r.exit_code == 2 and "--from" in r.output
