"""``tianlan simulate``: run, replay and frames, against a trivial ack server in a thread."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tianlan.errors import InputError
from tianlan.hj212 import RawFrame, decode, split_frames
from tianlan.model.demo_network import demo_network
from tianlan.model.registry_io import read_registry, write_registry
from tianlan.sim.ackserver import AckServer
from tianlan.sim.cli import app
from tianlan.sim.registry import load_registry, seeded_registry
from tianlan.sim.replay import data_dir

runner = CliRunner()


@pytest.fixture
def ack_server() -> Iterator[AckServer]:
    box: dict[str, object] = {}
    ready = threading.Event()

    def target() -> None:
        async def main() -> None:
            server = await AckServer().start()
            box["server"], box["loop"], box["stop"] = server, asyncio.get_running_loop(), asyncio.Event()
            ready.set()
            await box["stop"].wait()  # type: ignore[union-attr]
            await server.close()

        asyncio.run(main())

    th = threading.Thread(target=target, daemon=True)
    th.start()
    assert ready.wait(10)
    yield box["server"]  # type: ignore[misc]
    box["loop"].call_soon_threadsafe(box["stop"].set)  # type: ignore[union-attr]
    th.join(10)


def test_frames_writes_decodable_frames_one_per_line(tmp_path: Path) -> None:
    out = tmp_path / "frames.hj212"
    reg = tmp_path / "devices.yaml"
    result = runner.invoke(app, ["frames", "--out", str(out), "--devices", "3", "--count", "4", "--kind", "mixed",
                                 "--step", "3600", "--start", "2019-05-01", "--write-registry", str(reg)])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    items = split_frames(data)
    assert len(items) == 12 and all(isinstance(i, RawFrame) for i in items)
    assert data.count(b"\r\n") == 12
    packets = [decode(i) for i in items]  # type: ignore[arg-type]
    assert {p.cn for p in packets} == {"2061"} and all(p.crc_ok for p in packets)
    assert [p.st for p in packets[:3]] == ["22", "21", "32"]
    assert packets[0].cp.data_time == "20190501000000" and packets[3].cp.data_time == "20190501010000"
    assert [d.mn for d in load_registry(reg)] == [p.mn for p in packets[:3]]
    written = read_registry(reg)  # the platform's format: kind source + outlet_type water, ST 32
    assert [(d.kind, d.st) for d in written.devices] == [("air", "22"), ("water", "21"), ("source", "32")]
    assert [s.outlet_type for s in written.sites] == [None, None, "water"]


def test_run_with_generated_devices(ack_server: AckServer) -> None:
    result = runner.invoke(app, ["run", "--port", str(ack_server.port), "--devices", "5", "--count", "50",
                                 "--rate", "0", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "SIMAIR" in result.output and "acked 50" in result.output
    assert ack_server.frames == 50


def test_run_shows_live_progress(ack_server: AckServer) -> None:
    result = runner.invoke(app, ["run", "--port", str(ack_server.port), "--devices", "4", "--duration", "0.6",
                                 "--rate", "10", "--kind", "water", "--step", "30"])
    assert result.exit_code == 0, result.output
    assert "frames/s" in result.output and "CN 2011" in result.output
    assert ack_server.frames > 10


def test_run_with_a_registry(ack_server: AckServer, tmp_path: Path) -> None:
    reg = demo_network(n_air=2, n_water=1, n_source=2)
    d0 = reg.devices[0]
    devices = [replace(d0, parameters=["a34004", "a21026"]), replace(reg.devices[1], protocol="2005"),
               *reg.devices[2:]]
    path = tmp_path / "reg.yaml"
    write_registry(replace(reg, devices=devices), path)
    fleet = load_registry(path)
    assert [d.mn for d in fleet] == [d.mn for d in devices]
    assert fleet[0].codes == ("a34004", "a21026") and fleet[1].protocol == "2005"
    assert [d.profile.kind for d in fleet] == ["air", "air", "water", "source", "wastewater"]
    result = runner.invoke(app, ["run", "--port", str(ack_server.port), "--registry", str(path), "--count", "10",
                                 "--rate", "50", "--step", "600", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "acked 10" in result.output


def test_run_with_a_csv_registry_directory(ack_server: AckServer, tmp_path: Path) -> None:
    write_registry(demo_network(n_air=1, n_water=1, n_source=2), tmp_path / "csv", "csv")
    result = runner.invoke(app, ["run", "--port", str(ack_server.port), "--registry", str(tmp_path / "csv"),
                                 "--count", "8", "--rate", "0", "--step", "3600", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "acked 8" in result.output and "devices 4" in result.output


def test_bad_registry_is_refused(tmp_path: Path) -> None:
    reg = tmp_path / "bad.yaml"
    reg.write_text("devices:\n  - kind: air\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"devices\[0\]: mn"):
        load_registry(reg)
    result = runner.invoke(app, ["run", "--registry", str(reg), "--count", "1"])
    assert result.exit_code == 2 and "mn" in result.output and "Traceback" not in result.output


def test_the_old_simulator_format_is_refused_with_the_field_named(tmp_path: Path) -> None:
    reg = tmp_path / "old.yaml"
    reg.write_text("devices:\n  - {mn: M1, password: '123456', kind: wastewater}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"kind.*wastewater"):
        load_registry(reg)
    reg.write_text("devices:\n  - {mn: M1, password: '123456', parameters: [{code: a34004, unit: x}]}\n",
                   encoding="utf-8")
    with pytest.raises(InputError, match=r"parameters"):
        load_registry(reg)


@pytest.mark.skipif(not data_dir().exists(), reason="../shared/data absent")
def test_replay_streams_the_hebei_frames(ack_server: AckServer, tmp_path: Path) -> None:
    reg = tmp_path / "hebei.yaml"
    result = runner.invoke(app, ["replay", "--port", str(ack_server.port), "--months", "2019-01",
                                 "--stations", "1029A,1030A", "--window", "4", "--write-registry", str(reg),
                                 "--quiet"])
    assert result.exit_code == 0, result.output
    assert ack_server.frames > 1200
    assert [r["site"] for r in yaml.safe_load(reg.read_text(encoding="utf-8"))["devices"]] == ["1029A", "1030A"]
    assert [d.site for d in read_registry(reg, known=seeded_registry()).devices] == ["1029A", "1030A"]


def test_every_option_in_the_simulator_doc_exists() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"
    if not doc.exists():
        pytest.skip("docs/simulator.md absent")
    helps = " ".join(runner.invoke(app, [c, "--help"], env={"COLUMNS": "200"}).output
                     for c in ("run", "replay", "frames", "ackserver"))
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", doc.read_text(encoding="utf-8")))
    assert options and not {o for o in options if o not in helps}
