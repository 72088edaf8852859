"""``tianlan simulate``: run, replay and frames, against a trivial ack server in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tianlan.hj212 import RawFrame, decode, split_frames
from tianlan.sim.ackserver import AckServer
from tianlan.sim.cli import app
from tianlan.sim.registry import generated_devices, load_registry, registry_rows
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
    rows = registry_rows(generated_devices(2, "source"))
    rows[0]["parameters"] = ["a21026", {"code": "a19001"}]
    rows[1]["protocol"] = "2005"
    rows[1]["crc"] = "modbus-le"
    reg = tmp_path / "reg.yaml"
    reg.write_text(yaml.safe_dump({"devices": rows}), encoding="utf-8")
    fleet = load_registry(reg)
    assert fleet[0].codes == ("a21026", "a19001") and fleet[1].protocol == "2005"
    result = runner.invoke(app, ["run", "--port", str(ack_server.port), "--registry", str(reg), "--count", "6",
                                 "--rate", "50", "--step", "600", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "acked 6" in result.output


def test_bad_registry_is_refused(tmp_path: Path) -> None:
    reg = tmp_path / "bad.yaml"
    reg.write_text("devices:\n  - kind: air\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"devices\[0\]\.mn"):
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
