"""``tianlan simulate``: run simulated HJ 212 devices against a platform (Typer sub-app ``app``).

Commands:

* ``run`` — N generated devices (or the devices of a registry file) upload generated data at a rate;
* ``replay`` — the real Hebei 2019 hourly data as CN 2061 uploads, one device per station
  (``--register`` first registers the stations and their devices in the store);
* ``frames`` — write generated frames to a file (raw bytes, one frame per line) for offline use;
* ``ackserver`` — a trivial 9014-only server (the simulator's own ceiling).

Registry files are the platform's format (``tianlan registry export`` / ``import``, docs/registry.md):
a ``.yaml``/``.yml`` file or a directory of CSV files. See docs/simulator.md.

Progress is shown live: frames/s, acknowledged, retransmissions, connected devices. Ctrl-C stops
producing; the run then waits (up to ``--drain``) for the answers still outstanding.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from tianlan.cli_common import DatabaseUrl, DataDir, open_engine, settings_for
from tianlan.errors import TianlanError
from tianlan.hj212 import CrcVariant
from tianlan.model.registry_io import read_registry
from tianlan.model.timeutil import parse_user_time
from tianlan.sim.device import SimDevice, cn_for_step
from tianlan.sim.registry import dump_registry, generated_devices, plan_devices, seeded_registry
from tianlan.sim.runner import SimStats, blast, run, run_simulation

app = typer.Typer(
    help="设备模拟器（HJ 212 现场机端）/ Device simulator: the HJ 212 device side.",
    no_args_is_help=True,
)
console = Console()

HostOpt = Annotated[str, typer.Option("--host", help="平台地址 / platform host")]
PortOpt = Annotated[int, typer.Option("--port", help="平台 HJ 212 端口 / platform HJ 212 TCP port")]


def _fail(message: object) -> NoReturn:
    console.print(f"[bold red]错误 / error:[/] {escape(str(message))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _read_fleet(path: Path, seed: int) -> list[SimDevice]:
    """SimDevices of a registry file in the platform format; notes on devices not simulated."""
    try:
        reg = read_registry(path, known=seeded_registry())
    except TianlanError as e:
        _fail(e)
    fleet, notes = plan_devices(reg, seed=seed)
    for note in notes:
        console.print(f"[yellow]注意 / note:[/] {escape(note)}", highlight=False, soft_wrap=True)
    if not fleet:
        _fail(f"{path}: 没有可模拟的设备 / no device to simulate")
    return fleet


def _write_registry(what: object, path: Path) -> None:
    try:
        files = dump_registry(what, path)  # type: ignore[arg-type]
    except TianlanError as e:
        _fail(e)
    console.print(f"已写入设备登记 / registry written: {', '.join(str(f) for f in files)}")


class _Progress:
    """Live table fed by SimStats snapshots; frames/s over the last interval."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.last_t = time.monotonic()
        self.last_acked = 0
        self.rate = 0.0

    def __call__(self, s: SimStats) -> None:
        now = time.monotonic()
        dt = now - self.last_t
        if dt > 0.05:
            self.rate = (s.acked - self.last_acked) / dt
            self.last_t, self.last_acked = now, s.acked
        self.live.update(_table(s, self.rate))


def _table(s: SimStats, rate: float) -> Table:
    t = Table(title="HJ 212 模拟 / simulation", show_header=True)
    for col in ("帧/秒 frames/s", "已发 sent", "已确认 acked", "重发 retx", "重连 reconn", "未确认 unacked",
                "在线 online"):
        t.add_column(col, justify="right")
    t.add_row(f"{rate:,.0f}", f"{s.sent:,}", f"{s.acked:,}", f"{s.retransmitted:,}", f"{s.reconnects:,}",
              f"{s.unacked:,}", f"{s.connected}/{s.devices}")
    return t


def _with_progress(main: Callable[[Callable[[SimStats], None], asyncio.Event], object],
                   quiet: bool) -> SimStats:
    async def wrapped() -> SimStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
        if quiet:
            return await main(lambda s: None, stop)  # type: ignore[misc,no-any-return]
        with Live(_table(SimStats(), 0.0), console=console, refresh_per_second=4) as live:
            stats = await main(_Progress(live), stop)  # type: ignore[misc]
            live.update(_table(stats, stats.frames_per_s))  # the final line shows the run's mean rate
            return stats  # type: ignore[no-any-return]

    stats = run(wrapped())
    assert isinstance(stats, SimStats)
    console.print("\n" + stats.summary())
    return stats


def _start_utc(start: str | None, step: int) -> int:
    """First DataTime, UTC s: ``--start`` (Beijing time unless a zone is given), else now rounded
    down to the step."""
    try:
        t = parse_user_time(start, field="--start") if start else int(time.time())
    except TianlanError as e:
        _fail(e)
    return t - t % step if not start else t


@app.command("run")
def run_cmd(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 9212,
    devices: Annotated[int, typer.Option(help="设备数 / number of generated devices")] = 10,
    kind: Annotated[str, typer.Option(help="air | water | wastewater | source | mixed")] = "air",
    rate: Annotated[float, typer.Option(help="每台设备每秒帧数，0 = 不限 / frames/s per device, 0 = unthrottled")] = 1.0,
    duration: Annotated[float | None, typer.Option(help="运行秒数 / seconds to produce (default: until Ctrl-C)")] = None,
    count: Annotated[int | None, typer.Option(help="总帧数 / total records to send")] = None,
    registry: Annotated[Path | None, typer.Option(
        help="登记文件（YAML 或 CSV 目录，tianlan registry export 的格式）/ registry file (.yaml or CSV "
             "directory, as tianlan registry export writes)")] = None,
    write_registry: Annotated[Path | None, typer.Option(
        help="把生成的设备写成登记文件（.yaml 或 CSV 目录）/ write the generated devices (not with --registry) "
             "as a registry (.yaml file or CSV directory) for tianlan registry import")] = None,
    step: Annotated[int, typer.Option(help="数据时间步长（秒）/ DataTime step per record, s (60 → CN 2051)")] = 60,
    start: Annotated[str | None, typer.Option(help="首条数据时间（北京时间）/ first DataTime, ISO, Beijing")] = None,
    protocol: Annotated[str, typer.Option(help="2017 | 2005")] = "2017",
    crc: Annotated[str, typer.Option(help="standard | modbus-le | modbus-be")] = "standard",
    ack_timeout: Annotated[float, typer.Option(help="应答超时 OverTime, s")] = 10.0,
    retries: Annotated[int, typer.Option(help="重发次数 ReCount")] = 3,
    window: Annotated[int, typer.Option(help="每台设备在途帧数 / frames in flight per device")] = 1,
    drain: Annotated[float, typer.Option(help="结束后等待应答的秒数 / seconds to wait for answers at the end")] = 30.0,
    seed: Annotated[int, typer.Option(help="随机种子 / random seed")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", help="不显示进度 / no live progress")] = False,
) -> None:
    """模拟设备上传数据 / Simulated devices upload generated data."""
    if registry is not None:
        fleet = _read_fleet(registry, seed)
    else:
        try:
            fleet = generated_devices(devices, kind, seed=seed, protocol=protocol, crc=CrcVariant(crc))
        except ValueError as e:
            _fail(e)
    _print_fleet(fleet)
    if write_registry is not None and registry is None:
        _write_registry(fleet, write_registry)
    t0 = _start_utc(start, step)
    console.print(f"CN {cn_for_step(step)}，{len(fleet)} 台设备 → {host}:{port} / devices → {host}:{port}")

    async def main(progress: Callable[[SimStats], None], stop: asyncio.Event) -> SimStats:
        return await run_simulation(
            host, port, fleet, rate_per_device=rate if rate > 0 else None, duration_s=duration,
            total_frames=count, start_utc=t0, step_s=step, ack_timeout_s=ack_timeout,
            retries=retries, window=window, on_progress=progress, stop_event=stop, drain_timeout_s=drain,
            record_frames=False, ramp_up_s=min(2.0, len(fleet) / 1000))

    stats = _with_progress(main, quiet)
    raise typer.Exit(0 if stats.unacked == 0 else 1)


def _print_fleet(fleet: list[SimDevice]) -> None:
    t = Table(title="模拟设备 / simulated devices")
    for col in ("MN", "PW", "kind", "ST", "protocol", "CRC"):
        t.add_column(col)
    for d in fleet[:20]:
        t.add_row(d.mn, d.pw, d.profile.kind, str(d.st), d.protocol, d.crc.value)
    console.print(t)
    if len(fleet) > 20:
        console.print(f"… 共 {len(fleet)} 台（用 --write-registry 导出全部）/ {len(fleet)} in all "
                      "(--write-registry writes them all)")


def _split_list(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [p.strip() for p in text.split(",") if p.strip()]


@app.command("replay")
def replay_cmd(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 9212,
    months: Annotated[str, typer.Option(help="月份，逗号分隔 / months, e.g. 2019-01,2019-02")] = "2019-01",
    stations: Annotated[str | None, typer.Option(help="站点代码 / station codes, e.g. 1029A,1030A")] = None,
    rate: Annotated[float, typer.Option(help="每台设备每秒帧数，0 = 随应答 / frames/s per device, 0 = as acked")] = 0.0,
    window: Annotated[int, typer.Option(help="每台设备在途帧数 / frames in flight per device")] = 1,
    ack_timeout: Annotated[float, typer.Option(help="应答超时 OverTime, s")] = 10.0,
    retries: Annotated[int, typer.Option(help="重发次数 ReCount")] = 3,
    write_registry: Annotated[Path | None, typer.Option(
        help="写出这些站点的登记文件（.yaml 或 CSV 目录）/ write these stations' registry (.yaml or CSV "
             "directory)")] = None,
    register: Annotated[bool, typer.Option(
        "--register", help="先把站点和设备登记到库中 / first register the stations (air sites) and their "
                           "devices in the store of --data-dir/--database-url")] = False,
    data_dir_opt: DataDir = None,
    database_url: DatabaseUrl = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="不显示进度 / no live progress")] = False,
) -> None:
    """回放河北 2019 年真实小时数据 / Replay the real Hebei 2019 hourly data as CN 2061 uploads."""
    from tianlan.sim.replay import data_dir, register_replay_stations, replay_frames, replay_registry

    if not data_dir().exists():
        _fail(f"找不到数据 / data not found: {data_dir()}")
    month_list = _split_list(months) or ["2019-01"]
    station_list = _split_list(stations)
    try:
        if write_registry is not None:
            _write_registry(replay_registry(station_list, month_list), write_registry)
        if register:
            engine = open_engine(settings_for(data_dir_opt, database_url))
            try:
                n = register_replay_stations(engine, station_list)
            finally:
                engine.dispose()
            console.print(f"已登记 {n} 个站点及设备 / registered {n} stations and their devices")
        by_device: dict[str, list[bytes]] = {}
        for mn, frame in replay_frames(month_list, station_list):
            by_device.setdefault(mn, []).append(frame)
    except (TianlanError, FileNotFoundError) as e:
        _fail(e)
    total = sum(len(v) for v in by_device.values())
    console.print(f"{len(by_device)} 个站点，{total} 帧 → {host}:{port} / stations, frames")
    if not by_device:
        raise typer.Exit(1)

    async def main(progress: Callable[[SimStats], None], stop: asyncio.Event) -> SimStats:
        return await blast(host, port, by_device, window, rate_per_device=rate if rate > 0 else None,
                           ack_timeout_s=ack_timeout, retries=retries, on_progress=progress, stop_event=stop)

    stats = _with_progress(main, quiet)
    raise typer.Exit(0 if stats.unacked == 0 else 1)


@app.command("frames")
def frames_cmd(
    out: Annotated[Path, typer.Option(help="输出文件 / output file (raw frames, one per line)")],
    devices: Annotated[int, typer.Option(help="设备数 / number of devices")] = 10,
    count: Annotated[int, typer.Option(help="每台设备帧数 / records per device")] = 100,
    kind: Annotated[str, typer.Option(help="air | water | wastewater | source | mixed")] = "air",
    step: Annotated[int, typer.Option(help="数据时间步长（秒）/ DataTime step, s")] = 60,
    start: Annotated[str | None, typer.Option(help="首条数据时间（北京时间）/ first DataTime, ISO, Beijing")] = None,
    protocol: Annotated[str, typer.Option(help="2017 | 2005")] = "2017",
    crc: Annotated[str, typer.Option(help="standard | modbus-le | modbus-be")] = "standard",
    seed: Annotated[int, typer.Option(help="随机种子 / random seed")] = 0,
    write_registry: Annotated[Path | None, typer.Option(
        help="同时写出设备登记（.yaml 或 CSV 目录）/ also write the devices' registry (.yaml or CSV directory)")]
    = None,
) -> None:
    """把生成的帧写入文件 / Write generated frames to a file, interleaved in time order."""
    try:
        fleet = generated_devices(devices, kind, seed=seed, protocol=protocol, crc=CrcVariant(crc))
    except ValueError as e:
        _fail(e)
    t0 = _start_utc(start, step)
    cn = cn_for_step(step)
    series = [d.series(cn, t0, step, count) for d in fleet]
    n = 0
    with out.open("wb") as fh:
        for i in range(max((len(s) for s in series), default=0)):
            for s in series:
                if i < len(s):
                    fh.write(s[i].frame)
                    n += 1
    if write_registry is not None:
        _write_registry(fleet, write_registry)
    console.print(f"已写入 {n} 帧（CN {cn}）/ wrote {n} frames to {out}")


@app.command("ackserver")
def ackserver_cmd(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 9212,
) -> None:
    """只回 9014 的测试服务端（测量模拟器自身上限）/ Trivial 9014-only server (the simulator's ceiling)."""
    from tianlan.sim.ackserver import AckServer

    async def main() -> None:
        server = await AckServer(host, port).start()
        console.print(f"应答服务已启动 / ack server listening on {host}:{server.port}")
        await server.serve_forever()

    try:
        run(main())
    except KeyboardInterrupt:
        pass
