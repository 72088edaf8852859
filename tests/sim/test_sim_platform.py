"""The simulator against the real platform (in-process): every frame accepted exactly once.

The store is the shared ``store`` fixture (SQLite, and PostgreSQL when ``TIANLAN_TEST_PG_URL`` is set);
the platform runs in a background thread on free ports (``tests/platform_helpers.py``).
"""

from __future__ import annotations

import asyncio
import csv
import gzip
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from platform_helpers import Platform, start_platform
from sqlalchemy import Engine
from typer.testing import CliRunner

from tianlan.model.demo_network import demo_network
from tianlan.model.parameters import SOURCE_GAS, SOURCE_WATER, expected_parameters
from tianlan.model.registry import Device, Registry, Site
from tianlan.registry_cli import app as registry_app
from tianlan.sim.cli import app as sim_app
from tianlan.sim.device import Upload
from tianlan.sim.registry import sim_devices_for
from tianlan.sim.replay import COLUMNS, data_dir, register_replay_stations, replay_frames, station_mn
from tianlan.sim.runner import SimStats, blast, run_simulation
from tianlan.store.frames_repo import FramesRepo
from tianlan.store.registry_repo import RegistryRepo

runner = CliRunner()
T0 = 1_556_640_000  # 2019-04-30 16:00 UTC = 2019-05-01 00:00 Beijing
HEBEI = pytest.mark.skipif(not data_dir().exists(), reason="../shared/data absent")

# Devices the demo network lacks: a 2005 flue-gas outlet, a Modbus CRC sent high byte first, a 2005
# wastewater outlet computing a Modbus CRC low byte first.
EXTRA = Registry(
    sites=[Site(code="X-GAS", name="测试废气排放口", kind="source", region="130100", outlet_type="gas"),
           Site(code="X-WW", name="测试废水排放口", kind="source", region="130100", outlet_type="water"),
           Site(code="X-AIR", name="测试空气站", kind="air", region="130100")],
    devices=[Device(mn="88888880000031", password="ab12cd", kind="source", st="31", protocol="2005",
                    site="X-GAS", parameters=list(SOURCE_GAS)),
             Device(mn="88888880000032", password="ab12ce", kind="source", st="32", protocol="2005",
                    crc="modbus-le", site="X-WW", parameters=list(SOURCE_WATER)),
             Device(mn="5849414F4E475445535431", password="xy9876", kind="air", crc="modbus-be", site="X-AIR",
                    parameters=expected_parameters("air"))],
)


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def running(store: Engine, tmp_path: Path) -> Iterator[Platform]:
    p, th = start_platform(store, tmp_path, idle_timeout_s=30.0, frame_timeout_s=5.0)
    yield p
    p.stop()
    th.join(30)


def _accepted_exactly_once(engine: Engine, stats: SimStats) -> None:
    """Nothing quarantined or duplicated; the accepted frames are the frames sent, each once."""
    assert stats.unacked == 0 and stats.sent == stats.acked > 0
    st = FramesRepo(engine).stats()
    assert st["quarantined"] == 0, st["by_reason"]
    assert st["duplicate"] == 0
    sent = Counter(f for frames in stats.sent_frames.values() for f in frames)
    assert sum(sent.values()) == stats.sent
    assert Counter(FramesRepo(engine).all_frame_bytes("accepted")) == sent


def test_every_demo_device_is_accepted_by_the_platform(store: Engine, running: Platform) -> None:
    repo = RegistryRepo(store)
    reg = demo_network()
    repo.import_registry(reg)
    repo.import_registry(EXTRA)
    registered = repo.load()
    devices = sim_devices_for(registered, strict=True)
    assert len(devices) == len(reg.devices) + len(EXTRA.devices)
    assert {(d.protocol, d.crc.value) for d in devices} >= {("2005", "standard"), ("2005", "modbus-le"),
                                                           ("2017", "modbus-le"), ("2017", "modbus-be")}
    stats = asyncio.run(run_simulation("127.0.0.1", running.hj212_port, devices, rate_per_device=None,
                                       total_frames=3 * len(devices), start_utc=T0, step_s=3600,
                                       ack_timeout_s=10.0, drain_timeout_s=60.0))
    _accepted_exactly_once(store, stats)
    by_device = FramesRepo(store).stats()["by_device"]
    for d in registered.devices:
        counts = by_device[d.mn]
        assert (counts["accepted"], counts.get("duplicate", 0), counts.get("quarantined", 0)) == (
            stats.per_device[d.mn].sent, 0, 0)
        assert stats.per_device[d.mn].sent >= 3
        rows = list(FramesRepo(store).export(d.mn))
        # 2005 codes (B01, 011, 02, S01…) come back as the registered 2017 codes.
        assert {r.parameter for r in rows} == set(d.parameters), d.mn
        assert {r.time_utc for r in rows} == {T0, T0 + 3600, T0 + 7200}
        assert {r.kind for r in rows} == {"hour"}


def test_a_registry_exported_by_the_platform_drives_the_simulator(store: Engine, running: Platform,
                                                                  tmp_path: Path) -> None:
    RegistryRepo(store).import_registry(demo_network(n_air=3, n_water=2, n_source=4, seed=5))
    url = ["--database-url", _url(store)]
    total = 0
    for i, target in enumerate((tmp_path / "network.yaml", tmp_path / "network-csv")):
        result = runner.invoke(registry_app, ["export", str(target), *url])
        assert result.exit_code == 0, result.output
        result = runner.invoke(sim_app, ["run", "--port", str(running.hj212_port), "--registry", str(target),
                                         "--count", "18", "--rate", "0", "--step", "600", "--quiet",
                                         "--start", f"2019-05-0{i + 1}T00:00:00"])
        assert result.exit_code == 0, result.output
        assert "acked 18" in result.output and "unacked 0" in result.output
        total += 18
    st = FramesRepo(store).stats()
    assert (st["accepted"], st["quarantined"], st["duplicate"]) == (total, 0, 0)


def test_what_simulate_writes_is_imported_and_then_accepted(store: Engine, running: Platform,
                                                            tmp_path: Path) -> None:
    reg = tmp_path / "sim.yaml"
    result = runner.invoke(sim_app, ["frames", "--out", str(tmp_path / "f.hj212"), "--devices", "4", "--count", "1",
                                     "--kind", "mixed", "--write-registry", str(reg)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(registry_app, ["import", str(reg), "--database-url", _url(store)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(sim_app, ["run", "--port", str(running.hj212_port), "--registry", str(reg),
                                     "--count", "8", "--rate", "0", "--step", "3600", "--quiet"])
    assert result.exit_code == 0, result.output
    st = FramesRepo(store).stats()
    assert (st["accepted"], st["quarantined"]) == (8, 0)


# --- the real Hebei 2019 data ---------------------------------------------------------------------

def _csv_day(station: str, date: str) -> list[dict[str, str]]:
    with gzip.open(data_dir() / f"{date[:4]}-{date[4:6]}.csv.gz", "rt", encoding="utf-8", newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["station"] == station and r["date"] == date]


@HEBEI
def test_a_replayed_station_day_is_stored_at_the_right_utc_times(store: Engine, running: Platform) -> None:
    station, date = "1029A", "20190115"
    assert register_replay_stations(store, [station]) == 1
    site = RegistryRepo(store).get_site(station)
    assert site is not None and (site.region, site.control_level) == ("130100", "national")
    expected: dict[tuple[int, str], float] = {}
    for r in _csv_day(station, date):
        published = datetime.strptime(r["date"], "%Y%m%d").replace(tzinfo=UTC) + timedelta(hours=int(r["hour"]))
        # Published at hour h (Beijing) = mean of the hour ending at h; stored at its start, in UTC.
        t = int((published - timedelta(hours=1) - timedelta(hours=8)).timestamp())
        for col, code in COLUMNS.items():
            if r[col].strip():
                expected[(t, code)] = float(r[col])
    assert len(expected) > 100
    wanted = {t for t, _ in expected}
    mn = station_mn(station)
    frames = [f for m, f in replay_frames(["2019-01"], [station])
              if int(datetime.strptime(Upload.from_frame(f).data_time, "%Y%m%d%H%M%S")
                     .replace(tzinfo=UTC).timestamp()) - 8 * 3600 in wanted]
    assert len(frames) == len(wanted)
    stats = asyncio.run(blast("127.0.0.1", running.hj212_port, {mn: frames}, window=4, record_frames=True))
    _accepted_exactly_once(store, stats)
    got = {(r.time_utc, r.parameter): r.value for r in FramesRepo(store).export(mn) if r.kind == "hour"}
    assert got == expected
    # The first value of the day (published 00 h on the 15th) is the hour 23:00–24:00 Beijing of the
    # 14th, i.e. 15:00 UTC on the 14th.
    assert min(t for t, _ in got) == int(datetime(2019, 1, 14, 15, tzinfo=UTC).timestamp())


@HEBEI
def test_simulate_replay_register_registers_and_streams(store: Engine, running: Platform) -> None:
    result = runner.invoke(sim_app, ["replay", "--port", str(running.hj212_port), "--months", "2019-02",
                                     "--stations", "1029A,3584A", "--register", "--database-url", _url(store),
                                     "--window", "8", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "registered 2" in result.output
    repo = RegistryRepo(store)
    assert {d.mn for d in repo.list_devices()} == {station_mn("1029A"), station_mn("3584A")}
    site = repo.get_site("3584A")
    assert site is not None and site.region == "133100" and site.name == "容城县环境保护局"
    sent = Counter(mn for mn, _ in replay_frames(["2019-02"], ["1029A", "3584A"]))
    assert sent[station_mn("1029A")] > 600
    st = FramesRepo(store).stats()
    assert st["quarantined"] == 0 and st["duplicate"] == 0 and st["accepted"] == sum(sent.values())
    assert {mn: c["accepted"] for mn, c in st["by_device"].items() if c["accepted"]} == dict(sent)
