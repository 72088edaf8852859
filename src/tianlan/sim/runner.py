"""Run many simulated devices against a platform at once, and measure what came back.

* :func:`run_simulation` — N devices, one TCP connection each, on one event loop; every device
  generates records (values from its profile) at ``rate_per_device`` records per second, for a
  duration or a number of records, with HJ 212 retransmission (see :mod:`tianlan.sim.client`).
* :func:`blast` — pump pre-built frames per device as fast as the server answers them, ``window``
  frames in flight per device (benchmarks of the gateway and of the client itself).

Both return :class:`SimStats`. A "frame" counted here is one upload frame (one record, or one
sub-packet of a record too long for one frame). Rates are frames per second of wall-clock time.
With uvloop installed, :func:`run` uses it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tianlan.sim.client import DeviceClient, DeviceStats
from tianlan.sim.device import SimDevice, Upload, cn_for_step

ProgressCallback = Callable[["SimStats"], None]

#: Records built at once per device (vectorised sampling) when frames are made on the fly.
CHUNK = 16
#: Below this many records in total, everything is built before the clock starts.
PREBUILD_LIMIT = 200_000


@dataclass
class SimStats:
    """Totals over all devices of a run. Times in seconds, latencies in milliseconds.

    ``sent`` distinct frames sent, ``acked`` answered by 9014, ``retransmitted`` = ``retransmissions``
    (resends after OverTime) + ``reuploads`` (resends after a reconnect, 补传); ``frames_per_s`` =
    acked / elapsed; ``connected`` devices connected at collection time; ``unacked`` frames still
    waiting for their answer; latencies from first transmission to the 9014 (p50, p99).
    ``sent_frames`` maps MN → bytes of every distinct frame sent (empty when not recorded).
    """

    devices: int = 0
    sent: int = 0
    acked: int = 0
    transmissions: int = 0
    retransmitted: int = 0
    retransmissions: int = 0
    reuploads: int = 0
    reconnects: int = 0
    links_down: int = 0
    connect_failures: int = 0
    duplicate_acks: int = 0
    unacked: int = 0
    connected: int = 0
    elapsed_s: float = 0.0
    frames_per_s: float = 0.0
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    per_device: dict[str, DeviceStats] = field(default_factory=dict, repr=False)
    sent_frames: dict[str, set[bytes]] = field(default_factory=dict, repr=False)

    @classmethod
    def collect(cls, clients: Sequence[DeviceClient], elapsed_s: float, *, latencies: bool = True) -> SimStats:
        """Sum the counters of ``clients``; percentiles only when ``latencies`` (costly for big runs)."""
        s = cls(devices=len(clients), elapsed_s=elapsed_s)
        for c in clients:
            d = c.stats
            s.sent += d.sent
            s.acked += d.acked
            s.transmissions += d.transmissions
            s.retransmissions += d.retransmissions
            s.reuploads += d.reuploads
            s.reconnects += d.reconnects
            s.links_down += d.links_down
            s.connect_failures += d.connect_failures
            s.duplicate_acks += d.duplicate_acks
            s.unacked += c.pending
            s.connected += c.connected
            s.per_device[c.mn] = d
            if c.record_frames:
                s.sent_frames[c.mn] = c.sent_frames
        s.retransmitted = s.retransmissions + s.reuploads
        s.frames_per_s = s.acked / elapsed_s if elapsed_s > 0 else 0.0
        if latencies:
            arrays = [np.frombuffer(c.stats.latencies, dtype=float) for c in clients if len(c.stats.latencies)]
            if arrays:
                lat = np.concatenate(arrays)
                p50, p99 = np.percentile(lat, [50.0, 99.0])
                s.latency_p50_ms, s.latency_p99_ms = float(p50) * 1e3, float(p99) * 1e3
        return s

    def summary(self) -> str:
        """One line for people, Chinese first then English."""
        lat = (f"{self.latency_p50_ms:.1f}/{self.latency_p99_ms:.1f} ms"
               if self.latency_p50_ms is not None and self.latency_p99_ms is not None else "-")
        return (f"设备 {self.devices} 台，已发 {self.sent} 帧，已确认 {self.acked}，重发 {self.retransmitted}，"
                f"重连 {self.reconnects}，未确认 {self.unacked}，{self.frames_per_s:.0f} 帧/秒，"
                f"时延 p50/p99 {lat} | devices {self.devices}, sent {self.sent}, acked {self.acked}, "
                f"retransmitted {self.retransmitted}, reconnects {self.reconnects}, unacked {self.unacked}, "
                f"{self.frames_per_s:.0f} frames/s over {self.elapsed_s:.1f} s, ack latency p50/p99 {lat}")


def run(coro_or_main: object) -> object:
    """Run a coroutine on uvloop when installed, else on the default asyncio loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(coro_or_main)  # type: ignore[arg-type]
    return uvloop.run(coro_or_main)  # type: ignore[arg-type]


def _split(total: int, n: int) -> list[int]:
    base, extra = divmod(total, n)
    return [base + (1 if k < extra else 0) for k in range(n)]


def _record_chunks(device: SimDevice, cn: str, start_utc: int, step_s: int, count: int | None,
                   first: int = CHUNK) -> Iterator[list[Upload]]:
    """Uploads of consecutive records, built CHUNK records at a time (the first chunk ``first``).

    Devices get different ``first`` sizes so that their later chunks are built at different moments
    instead of all at once (which would stall the event loop).
    """
    i = 0
    size = max(1, first)
    while count is None or i < count:
        n = size if count is None else min(size, count - i)
        yield device.series(cn, start_utc + i * step_s, step_s, n)
        i += n
        size = CHUNK


async def _produce(client: DeviceClient, chunks: Iterator[list[Upload]], *, rate: float | None,
                   phase: float, t0: float, deadline: float | None, stop: asyncio.Event,
                   max_pending: int) -> None:
    """Submit uploads at ``rate`` per second, or (None) a chunk whenever the backlog is short."""
    loop = asyncio.get_running_loop()
    i = 0
    for chunk in chunks:
        if stop.is_set() or (deadline is not None and loop.time() >= deadline):
            return
        if rate is None:
            if client.pending >= max_pending:
                await client.wait_below(max_pending)
            client.submit_many(chunk)
            continue
        for upload in chunk:
            delay = t0 + phase + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if stop.is_set() or (deadline is not None and loop.time() >= deadline):
                return
            client.submit(upload)
            i += 1
        # Behind schedule no sleep happens above: yield so that building the next chunk never keeps
        # the loop (and every device's answers) waiting.
        await asyncio.sleep(0)


async def _progress(clients: Sequence[DeviceClient], t_start: float, on_progress: ProgressCallback,
                    interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        on_progress(SimStats.collect(clients, time.monotonic() - t_start, latencies=False))


async def _drive(host: str, port: int, mns: Sequence[str], sources: Sequence[Iterator[list[Upload]]], *,
                 rate: float | None, duration_s: float | None, window: int, ack_timeout_s: float,
                 retries: int, on_progress: ProgressCallback | None, stop_event: asyncio.Event | None,
                 drain_timeout_s: float | None, record_frames: bool, ramp_up_s: float,
                 progress_interval_s: float, crcs: Sequence[object] | None = None) -> SimStats:
    loop = asyncio.get_running_loop()
    stop = stop_event or asyncio.Event()
    clients = [DeviceClient(host, port, mn, ack_timeout_s=ack_timeout_s, retries=retries, window=window,
                            record_frames=record_frames,
                            **({"crc": crcs[k]} if crcs is not None else {}))  # type: ignore[arg-type]
               for k, mn in enumerate(mns)]
    n = len(clients)
    # Build every device's first chunk before the clock starts: generating them all at the first tick
    # would stall the event loop (and every answer) for seconds with a thousand devices.
    sources = [itertools.chain([next(src, [])], src) for src in sources]
    t_start = time.monotonic()
    for k, c in enumerate(clients):
        c.start()
        if ramp_up_s > 0 and k % 50 == 49:
            await asyncio.sleep(ramp_up_s * 50 / n)
    progress = (loop.create_task(_progress(clients, t_start, on_progress, progress_interval_s))
                if on_progress is not None else None)
    t0 = loop.time()
    deadline = t0 + duration_s if duration_s is not None else None
    producers = [
        loop.create_task(_produce(c, src, rate=rate, phase=(k / n) / rate if rate else 0.0, t0=t0,
                                  deadline=deadline, stop=stop, max_pending=max(2 * window, 8)))
        for k, (c, src) in enumerate(zip(clients, sources, strict=True))
    ]
    try:
        await asyncio.gather(*producers)
        drained = asyncio.gather(*(c.wait_idle() for c in clients))
        try:
            await asyncio.wait_for(drained, drain_timeout_s)
        except TimeoutError:
            pass
    finally:
        for p in producers:
            p.cancel()
        elapsed = time.monotonic() - t_start
        if progress is not None:
            progress.cancel()
        stats = SimStats.collect(clients, elapsed)
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    if on_progress is not None:
        on_progress(stats)
    return stats


async def run_simulation(
    host: str,
    port: int,
    devices: list[SimDevice],
    *,
    rate_per_device: float | None = 1.0,
    duration_s: float | None = None,
    total_frames: int | None = None,
    start_utc: int | None = None,
    step_s: int = 60,
    cn: str | None = None,
    ack_timeout_s: float = 10.0,
    retries: int = 3,
    window: int = 1,
    on_progress: ProgressCallback | None = None,
    stop_event: asyncio.Event | None = None,
    drain_timeout_s: float | None = 30.0,
    record_frames: bool = True,
    ramp_up_s: float = 0.0,
    progress_interval_s: float = 0.5,
) -> SimStats:
    """Connect every device and upload generated records until a limit is reached; return totals.

    Record ``i`` of a device carries DataTime ``start_utc + i·step_s`` (UTC s; default: now rounded
    down to ``step_s``); ``cn`` defaults to :func:`~tianlan.sim.device.cn_for_step` (2011 real-time,
    2051 minute, 2061 hour, 2031 day). Each device sends ``rate_per_device`` records per second (None:
    as fast as its answers come back), devices phase-shifted so the load is even. Production stops at
    ``duration_s`` seconds, at ``total_frames`` records in all (split evenly), or when ``stop_event``
    is set — at least one of them is required. Then the run waits up to ``drain_timeout_s`` (None:
    forever) for outstanding answers; a frame is resent until answered while the run lasts.
    ``ack_timeout_s``/``retries`` are OverTime/ReCount (HJ 212-2017 §6.2); ``window`` frames may be in
    flight per device. ``ramp_up_s`` spreads the initial connections; ``on_progress`` receives a
    :class:`SimStats` snapshot every ``progress_interval_s`` and the final totals.
    """
    if duration_s is None and total_frames is None and stop_event is None:
        raise ValueError("需要 duration_s、total_frames 或 stop_event 之一 / one of duration_s, total_frames "
                         "or stop_event is required")
    if not devices:
        raise ValueError("devices: 至少一台设备 / at least one device")
    if rate_per_device is not None and rate_per_device <= 0:
        rate_per_device = None
    cn = cn or cn_for_step(step_s)
    if start_utc is None:
        now = int(time.time())
        start_utc = now - now % step_s
    counts: list[int | None] = (list(_split(total_frames, len(devices))) if total_frames is not None
                                else [None] * len(devices))
    sources: list[Iterator[list[Upload]]] = []
    prebuild = total_frames is not None and total_frames <= PREBUILD_LIMIT
    n = len(devices)
    for k, (d, count) in enumerate(zip(devices, counts, strict=True)):
        if prebuild and count is not None:
            sources.append(iter([d.series(cn, start_utc, step_s, count)]))
        else:
            sources.append(_record_chunks(d, cn, start_utc, step_s, count, first=CHUNK - k * CHUNK // n))
    return await _drive(host, port, [d.mn for d in devices], sources, rate=rate_per_device,
                        duration_s=duration_s, window=window, ack_timeout_s=ack_timeout_s, retries=retries,
                        on_progress=on_progress, stop_event=stop_event, drain_timeout_s=drain_timeout_s,
                        record_frames=record_frames, ramp_up_s=ramp_up_s,
                        progress_interval_s=progress_interval_s, crcs=[d.crc for d in devices])


async def blast(
    host: str,
    port: int,
    frames_by_device: Mapping[str, Sequence[bytes]],
    window: int = 1,
    *,
    rate_per_device: float | None = None,
    ack_timeout_s: float = 10.0,
    retries: int = 3,
    on_progress: ProgressCallback | None = None,
    stop_event: asyncio.Event | None = None,
    drain_timeout_s: float | None = 60.0,
    record_frames: bool = False,
    ramp_up_s: float = 0.0,
    progress_interval_s: float = 0.5,
) -> SimStats:
    """Send pre-built frames, one connection per MN, ``window`` in flight each; return totals.

    Frames must carry a QN (the answer is matched by it) and normally Flag bit A; a frame without
    Flag or with A = 0 is sent once and not waited for. ``rate_per_device`` (frames/s) throttles;
    None sends each frame as soon as the window has room. Retransmission as in
    :func:`run_simulation`. ``record_frames`` keeps the sent bytes in ``SimStats.sent_frames``.
    """
    mns = list(frames_by_device)
    if not mns:
        raise ValueError("frames_by_device: 至少一台设备 / at least one device")
    sources = [iter([[Upload.from_frame(f, mn) for f in frames_by_device[mn]]]) for mn in mns]
    return await _drive(host, port, mns, sources, rate=rate_per_device, duration_s=None, window=window,
                        ack_timeout_s=ack_timeout_s, retries=retries, on_progress=on_progress,
                        stop_event=stop_event, drain_timeout_s=drain_timeout_s, record_frames=record_frames,
                        ramp_up_s=ramp_up_s, progress_interval_s=progress_interval_s)
