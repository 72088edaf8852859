"""run_simulation and blast against a real local TCP platform stub."""

from __future__ import annotations

import asyncio
import random

import pytest
from sim_helpers import FakePlatform

from tianlan.hj212 import CrcVariant, decode
from tianlan.model.timeutil import parse_user_time
from tianlan.sim.device import SimDevice
from tianlan.sim.registry import generated_devices
from tianlan.sim.runner import SimStats, blast, run_simulation

T = parse_user_time("2019-03-01")


def test_run_simulation_sends_every_record_once_and_gets_every_answer() -> None:
    devices = generated_devices(12, "mixed", seed=1)
    devices[0].crc = CrcVariant.MODBUS_LE
    snapshots: list[SimStats] = []
    lossy = random.Random(5)

    async def main() -> tuple[FakePlatform, SimStats]:
        # About 10 % of first transmissions lose their answer.
        plat = await FakePlatform(policy=lambda p, seen: "drop" if seen == 1 and lossy.random() < 0.1
                                  else "ack").start()
        stats = await run_simulation("127.0.0.1", plat.port, devices, rate_per_device=100.0, total_frames=60,
                                     start_utc=T, step_s=3600, ack_timeout_s=0.2, retries=3,
                                     on_progress=snapshots.append, progress_interval_s=0.05)
        await plat.kill()
        return plat, stats

    plat, stats = asyncio.run(main())
    assert stats.devices == 12 and stats.sent == stats.acked == 60 and stats.unacked == 0
    assert stats.transmissions == 60 + stats.retransmitted
    sent = set().union(*stats.sent_frames.values())
    assert len(sent) == 60 and sent == plat.stored
    assert all(decode(f).cn == "2061" for f in sent)
    assert stats.latency_p50_ms is not None and stats.latency_p99_ms is not None
    assert stats.latency_p50_ms <= stats.latency_p99_ms
    assert snapshots and snapshots[-1].acked == 60
    per_device = {mn: len(frames) for mn, frames in stats.sent_frames.items()}
    assert set(per_device.values()) == {5}


def test_rate_limits_the_upload_pace() -> None:
    devices = generated_devices(3, "air", seed=2)

    async def main() -> SimStats:
        plat = await FakePlatform().start()
        stats = await run_simulation("127.0.0.1", plat.port, devices, rate_per_device=20.0, duration_s=0.5,
                                     start_utc=T, step_s=60)
        await plat.kill()
        return stats

    stats = asyncio.run(main())
    # 3 devices × 20/s × 0.5 s = 30 records (+ the first tick of each device; fewer on a busy machine).
    assert 10 <= stats.acked <= 33 and stats.unacked == 0


def test_platform_restart_mid_run_loses_nothing() -> None:
    devices = generated_devices(8, "air", seed=3)

    async def main() -> tuple[FakePlatform, FakePlatform, SimStats]:
        first = await FakePlatform().start()
        second = FakePlatform(port=first.port)

        async def crash_and_restart() -> None:
            await asyncio.sleep(0.3)
            await first.kill()
            await asyncio.sleep(0.3)
            await second.start()

        task = asyncio.create_task(crash_and_restart())
        stats = await run_simulation("127.0.0.1", first.port, devices, rate_per_device=40.0, duration_s=1.0,
                                     start_utc=T, step_s=60, ack_timeout_s=0.3, retries=2)
        await task
        await second.kill()
        return first, second, stats

    first, second, stats = asyncio.run(main())
    sent = set().union(*stats.sent_frames.values())
    assert stats.unacked == 0 and stats.acked == stats.sent == len(sent) > 0
    assert sent == first.stored | second.stored
    assert stats.reconnects >= 1 and stats.reuploads + stats.sent == stats.transmissions - stats.retransmissions


def test_blast_pumps_prebuilt_frames_with_a_window() -> None:
    frames = {d.mn: [u.frame for u in d.series("2011", T, 30, 40)] for d in generated_devices(10, "source")}

    async def main() -> tuple[FakePlatform, SimStats]:
        plat = await FakePlatform().start()
        stats = await blast("127.0.0.1", plat.port, frames, window=4, record_frames=True)
        await plat.kill()
        return plat, stats

    plat, stats = asyncio.run(main())
    assert stats.sent == stats.acked == 400 and stats.retransmitted == 0
    assert plat.stored == {f for fs in frames.values() for f in fs}
    # Per device, frames arrive in the order given.
    for mn, fs in frames.items():
        got = [f for f in plat.received if decode(f).mn == mn]
        assert got == fs


def test_arguments_are_checked() -> None:
    d = [SimDevice("M", "123456")]
    with pytest.raises(ValueError, match="duration_s"):
        asyncio.run(run_simulation("127.0.0.1", 1, d))
    with pytest.raises(ValueError, match="devices"):
        asyncio.run(run_simulation("127.0.0.1", 1, [], total_frames=1))
