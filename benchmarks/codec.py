"""HJ 212 codec benchmark: the gateway's per-frame work, compiled (mypyc) against pure Python.

Frames are the ones benchmarks/ingest.py sends (hour data, ~10 factors, ~750 bytes). Each stage
runs over all of them ``--repeat`` times; the best pass counts (the least disturbed by other work
on the machine). Stages:

* framing + decode — ``FrameReader.feed`` then ``decode`` (CRC check, header, CP data area);
* process_frame — decode + verdict (device lookup, PW, CRC variant) + observation rows + the 9014
  answer + the IngestItem (with its SHA-256): everything the gateway does per frame on its loop;
* and, to see where the time goes: feed, decode, packet_observations, replies_for (9014).

The compiled variant is this interpreter with the package as installed (compiled when setup.py
could build it). The pure-Python variant runs the same code in a subprocess with
``TIANLAN_PURE_PYTHON=1``, which makes tianlan import the ``.py`` sources instead of the compiled
modules (src/tianlan/hj212/_native.py). Prints a table.

    .venv/bin/python benchmarks/codec.py [--frames 2000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

STAGES = ("framing + decode", "process_frame", "feed", "decode", "packet_observations", "replies_for")
CODES = ["a34004", "a34002", "a21026", "a21004", "a21005", "a05024", "a01001", "a01002", "a01006", "a01007"]


def measure(n_frames: int, repeat: int) -> dict[str, object]:
    """Best µs per frame of each stage in this interpreter (imports tianlan here, after the env is set)."""
    from tianlan.hj212 import FrameReader, RawFrame, _native, decode, packet, replies_for
    from tianlan.ingest.observations import packet_observations
    from tianlan.ingest.processor import DeviceAuth, process_frame
    from tianlan.sim.device import SimDevice

    per_device = 10
    devices = [
        SimDevice(mn=f"BENCH{i:019d}", pw="123456", kind="air", seed=i, codes=CODES)
        for i in range(max(1, n_frames // per_device))
    ]
    frames = [u.frame for d in devices for u in d.series("2061", 1546272000, 3600, per_device)][:n_frames]
    auth = {d.mn: DeviceAuth(i, d.mn, d.pw, frozenset({"standard"})) for i, d in enumerate(devices)}
    lookup = auth.get
    raws: list[RawFrame] = []
    for f in frames:
        (raw,) = FrameReader().feed(f)
        assert isinstance(raw, RawFrame)
        raws.append(raw)
    packets = [decode(r) for r in raws]
    assert all(process_frame(r, lookup, received_utc=0.0, peer="p").status == "accepted" for r in raws)

    def feed_decode() -> None:
        reader = FrameReader()
        for f in frames:
            for item in reader.feed(f):
                decode(item)  # type: ignore[arg-type]

    def feed() -> None:
        reader = FrameReader()
        for f in frames:
            reader.feed(f)

    def verdicts() -> None:
        for r in raws:
            process_frame(r, lookup, received_utc=0.0, peer="127.0.0.1:1")

    def decodes() -> None:
        for r in raws:
            decode(r)

    def rows() -> None:
        for p in packets:
            packet_observations(p)

    def answers() -> None:
        for p in packets:
            replies_for(p)

    runs: dict[str, Callable[[], None]] = {
        "framing + decode": feed_decode,
        "process_frame": verdicts,
        "feed": feed,
        "decode": decodes,
        "packet_observations": rows,
        "replies_for": answers,
    }
    best = {name: float("inf") for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], (time.perf_counter() - started) / len(frames))
    return {
        "compiled": _native.compiled(packet),
        "why_pure": _native.pure_reason(),
        "frames": len(frames),
        "bytes": sum(map(len, frames)) / len(frames),
        "us": {name: seconds * 1e6 for name, seconds in best.items()},
    }


def pure_in_subprocess(n_frames: int, repeat: int) -> dict[str, object]:
    env = dict(os.environ, TIANLAN_PURE_PYTHON="1")
    out = subprocess.run(
        [sys.executable, __file__, "--worker", "--frames", str(n_frames), "--repeat", str(repeat)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # one measurement, as JSON
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(measure(args.frames, args.repeat)))
        return

    from rich.console import Console
    from rich.table import Table

    console = Console(width=140)
    with console.status("measuring the installed package…"):
        here = measure(args.frames, args.repeat)
    with console.status("measuring the pure-Python sources (TIANLAN_PURE_PYTHON=1)…"):
        pure = pure_in_subprocess(args.frames, args.repeat)
    compiled = bool(here["compiled"])
    t = Table(
        title=f"HJ 212 codec, {here['frames']} hour-data frames of ~{here['bytes']:.0f} bytes (10 factors), best of {args.repeat}"
    )
    t.add_column("stage")
    for col in ("pure Python µs/frame", "pure frames/s", "compiled µs/frame", "compiled frames/s", "speed-up"):
        t.add_column(col, justify="right")
    us_pure: dict[str, float] = pure["us"]  # type: ignore[assignment]
    us_here: dict[str, float] = here["us"]  # type: ignore[assignment]
    for name in STAGES:
        p = us_pure[name]
        if compiled:
            c = us_here[name]
            t.add_row(name, f"{p:.2f}", f"{1e6 / p:,.0f}", f"{c:.2f}", f"{1e6 / c:,.0f}", f"{p / c:.1f}×")
        else:
            t.add_row(name, f"{p:.2f}", f"{1e6 / p:,.0f}", "-", "-", "-")
    console.print(t)
    if not compiled:
        console.print(
            f"[yellow]not compiled here ({here['why_pure']}): build with scripts/bootstrap (pip install -e .) "
            "where a C compiler and Python headers are installed[/]"
        )


if __name__ == "__main__":
    main()
