"""``tianlan demo``: the platform and a simulated province in one process, with a live view.

Wiring only: the sample network comes from ``tianlan.model.demo_network``, the devices from
``tianlan.sim`` (the device side, used here and nowhere else in production code), the platform
from ``tianlan.runtime``. A small "intruder" sends a few frames the platform must refuse (unknown
MN, wrong password, bad CRC, garbage) so that quarantine is visible too.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from sqlalchemy import Engine

from tianlan import runtime
from tianlan.hj212 import build_frame
from tianlan.settings import Settings
from tianlan.store.registry_repo import RegistryRepo


@dataclass
class DemoOptions:
    rate_per_device: float = 0.5  # frames per second per device
    step_s: int = 60  # data time between two records of a device (s): minute data by default
    duration_s: float | None = None  # stop by itself after this long (None: until Ctrl-C)
    intruder_every_s: float = 5.0


def prepare_network(engine: Engine, data_dir: Path) -> tuple[int, bool]:
    """Import the sample network unless the store already has devices; returns (devices, created)."""
    from tianlan.model.demo_network import demo_network
    from tianlan.model.registry_io import write_registry

    repo = RegistryRepo(engine)
    if repo.list_devices():
        return len(repo.list_devices()), False
    reg = demo_network()
    repo.import_registry(reg)
    write_registry(reg, data_dir / "demo-network.yaml")
    return len(reg.devices), True


#: sample accounts of the demo: (username, role, scope, display name) — one per kind of user
DEMO_ACCOUNTS = (
    ("admin", "admin", "130000", "平台管理员 / Administrator"),
    ("province", "province", "130000", "省监测中心 / Provincial centre"),
    ("sjz", "city", "130100", "石家庄市监测站 / Shijiazhuang centre"),
    ("signer", "signatory", "130100", "授权签字人 / Signatory"),
    ("inspector", "enforcement", "130100", "执法人员 / Inspector"),
    ("steel", "enterprise", "E130209001", "曹妃甸示例钢铁 / Caofeidian steel"),
    ("jijian", "discipline", "130000", "纪检监察 / Discipline inspection"),
)


def prepare_accounts(engine: Engine, data_dir: Path) -> Path | None:
    """Create the demo's sample users (random passwords) unless the store has users.

    The passwords are written once to ``<data-dir>/demo-accounts.txt`` (mode 600) and never stored
    in clear anywhere else; returns that file's path, or None when users already existed.
    """
    import secrets

    from tianlan.auth.users import UsersRepo

    users = UsersRepo(engine)
    if users.count():
        return None
    lines = ["# 天蓝演示账号 / Tianlan demo accounts (username  role  scope  password)"]
    for username, role, scope, name in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(9)
        users.add(username, password, role, scope, display_name=name, actor="demo")
        lines.append(f"{username}\t{role}\t{scope}\t{password}")
    path = data_dir / "demo-accounts.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _corrupt_crc(frame: bytes) -> bytes:
    return frame[:-6] + (b"0000" if frame[-6:-2] != b"0000" else b"1111") + b"\r\n"


async def _intruder(port: int, every_s: float, stop: asyncio.Event, victim: tuple[str, str] | None) -> None:
    """Frames that must be quarantined: unknown MN, wrong password, bad CRC, garbage.

    ``victim`` is a registered (MN, password): the intruder uses its MN with a wrong password,
    and its real password on a frame whose CRC does not match (as a tampered frame would).
    """
    n = 0
    while not stop.is_set():
        n += 1
        qn = time.strftime("%Y%m%d%H%M%S") + f"{n % 1000:03d}"
        dt = time.strftime("%Y%m%d%H%M00")
        body = f"CP=&&DataTime={dt};a34004-Rtd=35,a34004-Flag=N&&"
        frames = build_frame(f"QN={qn};ST=22;CN=2011;PW=123456;MN=UNREGISTERED0000000000001;Flag=5;{body}")
        if victim is not None:
            mn, pw = victim
            frames += build_frame(f"QN={qn};ST=22;CN=2011;PW=WRONG{pw[:1]};MN={mn};Flag=5;{body}")
            frames += _corrupt_crc(build_frame(f"QN={qn};ST=22;CN=2011;PW={pw};MN={mn};Flag=5;{body}"))
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(frames + b"\x00\x01not a frame\r\n")
            await w.drain()
            w.close()
        except OSError:
            pass
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except TimeoutError:
            pass


def _view(r: runtime.Running, http_host: str, started: float, rates: list[float], sim_stats: dict) -> Group:
    gw = r.gateway
    st = gw.stats
    t = Table(title="天蓝 Tianlan — 实时接收 / live ingest", expand=False)
    for col in ("运行 uptime", "连接 connections", "接收 received", "入库 accepted", "重复 duplicate",
                "隔离 quarantined", "帧/秒 frames/s", "观测值 observations", "待写 pending"):
        t.add_column(col, justify="right")
    t.add_row(f"{time.time() - started:.0f} s", str(st.connections), f"{st.received:,}",
              f"{st.status.get('accepted', 0):,}", f"{st.status.get('duplicate', 0):,}",
              f"{st.status.get('quarantined', 0):,}", f"{rates[-1]:,.0f}" if rates else "-",
              f"{gw.writer.committed_obs:,}", str(gw.writer.pending))
    reasons = Table(title="隔离原因 / quarantine reasons")
    reasons.add_column("reason")
    reasons.add_column("frames", justify="right")
    for k, v in st.reasons.most_common(8):
        reasons.add_row(k, str(v))
    sim = sim_stats.get("s")
    sim_line = (f"模拟设备 simulated devices: {sim.devices} · 已发 sent {sim.sent:,} · 已确认 acked {sim.acked:,} · "
                f"重发 retransmitted {sim.retransmitted}" if sim else "模拟器启动中 / simulator starting…")
    lq = r.live_qc.as_dict() if r.live_qc is not None else None
    qc_line = "" if lq is None else (
        f"\n质控 live QC: 已查 checked {lq['processed'] + lq['caught_up']:,} · 待查 queued {lq['queue_frames']:,} · "
        f"补查 backlog {lq['backlog_frames']:,} · 滞后 lag {lq['lag_s']:.0f} s · {lq['ms_per_frame']:.2f} ms/帧 frame · "
        f"告警 alarms {lq['alarms_raised']:,} · 通知 notified {lq['notified']:,}")
    base = f"http://{http_host}:{r.http_port}"
    info = (f"HJ 212 端口 port {r.hj212_port} · 门户 portal {base}/ · 控制台 console {base}/console · "
            f"接口 API {base}/api/docs · Ctrl-C 停止 / stop\n{sim_line}{qc_line}")
    return Group(Panel(info), t, reasons)


def run_demo(engine: Engine, settings: Settings, opts: DemoOptions, *, live: bool = True) -> dict:
    """Start platform + simulator; show progress until Ctrl-C or ``duration_s``; return final counts."""
    from tianlan.sim.registry import sim_devices_for
    from tianlan.sim.runner import run_simulation

    reg = RegistryRepo(engine).load()
    devices = sim_devices_for(reg)
    victim = next(((d.mn, d.password) for d in reg.devices if d.active and d.crc == "standard"), None)
    result: dict = {}

    async def on_ready(r: runtime.Running) -> None:
        started = time.time()
        sim_stats: dict = {}

        def progress(s) -> None:  # type: ignore[no-untyped-def]
            sim_stats["s"] = s

        async def simulate() -> None:
            start_utc = (int(time.time()) // 86400 - 2) * 86400  # two days ago, midnight UTC
            s = await run_simulation(
                "127.0.0.1", r.hj212_port, devices, rate_per_device=opts.rate_per_device, start_utc=start_utc,
                step_s=opts.step_s, stop_event=r.stop, record_frames=False, drain_timeout_s=5.0,
                on_progress=progress, ramp_up_s=min(2.0, 1.0 / max(opts.rate_per_device, 0.01)),
            )
            sim_stats["s"] = s

        async def show() -> None:
            rates: list[float] = []
            last = (time.monotonic(), 0)
            with Live(_view(r, settings.http_host, started, rates, sim_stats), refresh_per_second=2,
                      transient=False) as lv:
                while not r.stop.is_set():
                    await asyncio.sleep(0.5)
                    now, done = time.monotonic(), r.gateway.stats.committed
                    rates.append((done - last[1]) / max(now - last[0], 1e-6))
                    last = (now, done)
                    lv.update(_view(r, settings.http_host, started, rates, sim_stats))

        async def stopper() -> None:
            if opts.duration_s is not None:
                try:
                    await asyncio.wait_for(r.stop.wait(), opts.duration_s)
                except TimeoutError:
                    r.stop.set()

        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(simulate()), loop.create_task(_intruder(r.hj212_port, opts.intruder_every_s, r.stop, victim)),
                 loop.create_task(stopper())]
        if live:
            tasks.append(loop.create_task(show()))
        result["tasks"] = tasks
        result["gateway"] = r.gateway

    runtime.run(lambda: runtime.serve(engine, settings, on_ready=on_ready))
    gw = result.get("gateway")
    return gw.stats.as_dict() if gw else {}
