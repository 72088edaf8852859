"""Raw frames and their observations enter the ledger by Merkle seals (issue 5 §1).

Frames: every committed writer batch gets one ledger entry, ``frames.seal``, whose payload holds
the RFC 6962 Merkle root over the frames' SHA-256 (the leaf data) in raw_frames id order, and the
id range. The leaves themselves are kept next to it (``ledger_seals.leaves``, 32 bytes a frame) so
that verification names the exact frame whose bytes changed and ``tianlan ledger prove`` answers
without reading the other frames. :func:`seal_batch` runs inside the writer's transaction, right
after raw_frames are inserted, on its DBAPI cursor (sqlite3 or psycopg) or a SQLAlchemy connection:
the seal commits with the frames or not at all.

Observations: the hot path does not read them back (observations have no frame_id index, and
one would halve the writer's insert rate). They are sealed by hour of data time instead, off the
hot path (:func:`seal_observations`, from :func:`seal_pending`: start-up, ``tianlan ledger seal``,
the periodic checkpoint): once an hour window has ended (+ :data:`OBS_GRACE_S`), an
``observations.seal`` entry records the Merkle root over one leaf per device — the device, its
number of rows and the SHA-256 of their canonical JSON — read as a range of the time-leading
primary key. Late data reseal the window; verification compares each window with its newest
seal and names the device and hour that changed.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from sqlalchemy import Engine

from tianlan.errors import InputError
from tianlan.ledger import merkle
from tianlan.ledger.chain import SYSTEM, Entry, append_raw
from tianlan.store import ledger_repo as repo
from tianlan.store.engine import read_snapshot

FRAMES = "frames"
OBSERVATIONS = "observations"
SEAL_MAX = 5_000  # most leaves in one seal written by seal_pending (bounds one verification read)
OBS_WINDOW_S = 3600  # observations are sealed by hour of data time (UTC)
OBS_GRACE_S = 7200  # a window is sealed once it ended this long ago (late data reseal it)
FRAMES_PER_RUN = 50_000  # frames whose windows are sealed in one transaction
NO_WINDOW = -1  # first_id of an observations seal that covers frames without observations
_LEAF = struct.Struct(">qI")


def _runs(frames: Sequence[tuple[int, bytes]]) -> list[Sequence[tuple[int, bytes]]]:
    """Split (id, sha256) pairs sorted by id into runs of consecutive ids."""
    out = []
    start = 0
    for i in range(1, len(frames)):
        if frames[i][0] != frames[i - 1][0] + 1:
            out.append(frames[start:i])
            start = i
    out.append(frames[start:])
    return out


def _seal(target: Any, kind: str, first: int, last: int, leaves: list[bytes]) -> Entry:
    root = merkle.root(leaves)
    entry = append_raw(target, kind=f"{kind}.seal", actor=SYSTEM, subject_table="raw_frames",
                       subject_key=f"{first}-{last}",
                       payload={"first_id": first, "last_id": last, "n": len(leaves), "root": root.hex()})
    repo.insert_seal(repo.Exec(target), entry.seq, kind, first, last, len(leaves), root, b"".join(leaves))
    return entry


def seal_batch(cursor_or_conn: Any, frames: list[tuple[int, bytes]]) -> list[Entry]:
    """Seal a committed-together batch of frames: one ``frames.seal`` entry per run of consecutive ids.

    ``frames`` are (raw_frames.id, SHA-256 of the frame's bytes), as the writer has them; call in
    the writer's transaction after inserting the frames. A batch from the writer is one run, so
    one entry. Cost: ~2 SHA-256 of ≤65 bytes per frame plus three statements per batch.
    """
    if not frames:
        return []
    ids = [f[0] for f in frames]
    shas = [f[1] for f in frames]
    if set(map(len, shas)) != {32}:
        bad = next(f for f in frames if len(f[1]) != 32)
        raise InputError("frames", f"frame {bad[0]}: sha256 must be 32 bytes, got {len(bad[1])}")
    first = ids[0]
    if ids == list(range(first, first + len(ids))):  # the writer's case: one run of consecutive ids
        return [_seal(cursor_or_conn, FRAMES, first, ids[-1], shas)]
    frames = sorted(frames)
    if len({f[0] for f in frames}) != len(frames):
        raise InputError("frames", "duplicate frame id in one batch")
    return [_seal(cursor_or_conn, FRAMES, run[0][0], run[-1][0], [bytes(s) for _, s in run]) for run in _runs(frames)]


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False).encode


def obs_digest(rows: Sequence[Sequence[Any]]) -> bytes:
    """SHA-256 of canonical JSON of observation rows: an array of ``[time_utc, device_id, parameter,
    kind, value, flag, vmin, vmax, cou, zs, extra, frame_id]`` arrays in primary-key order (JSON as in
    :mod:`tianlan.ledger.canonical`: no spaces, UTF-8, shortest round-trip floats)."""
    return sha256(_ENCODE(rows).encode("utf-8")).digest()


def window_leaves(rows: Sequence[Sequence[Any]]) -> list[bytes]:
    """One 44-byte leaf per device of a window's rows (``ledger_repo.observations_in_window``):
    device_id (8 bytes, big-endian), number of rows (4 bytes), :func:`obs_digest` of the device's
    rows (32 bytes); leaves by device."""
    by_dev, _ = _by_device(rows)
    return [_LEAF.pack(d, len(rs)) + sha256(_ENCODE(rs).encode("utf-8")).digest() for d, rs in sorted(by_dev.items())]


def _by_device(rows: Sequence[Sequence[Any]]) -> tuple[dict[int, list[Sequence[Any]]], bool]:
    """Rows grouped by device id (column 1), and whether the ids never decrease along ``rows``."""
    by_dev: dict[int, list[Sequence[Any]]] = {}
    grouped = True
    last = None
    for r in rows:
        d = r[1]
        lst = by_dev.get(d)
        if lst is None:
            by_dev[d] = [r]
        else:
            lst.append(r)
        if last is not None and d < last:
            grouped = False
        last = d
    return by_dev, grouped


def window_digests(rows: Sequence[Sequence[Any]]) -> tuple[list[bytes], bytes]:
    """``(window_leaves(rows), obs_digest(rows))``, encoding each row once when it can.

    When the device ids never decrease along ``rows`` (a window of hour or day data: one period
    start, so primary-key order is device order), the JSON of the whole array is the devices'
    arrays joined — ``[`` + their contents joined by ``,`` + ``]`` — byte for byte what
    :func:`obs_digest` encodes; otherwise (minute or real-time data) the rows are encoded again.
    """
    by_dev, grouped = _by_device(rows)
    leaves = []
    parts = []
    for d, rs in sorted(by_dev.items()):
        text = _ENCODE(rs)
        leaves.append(_LEAF.pack(d, len(rs)) + sha256(text.encode("utf-8")).digest())
        parts.append(text[1:-1])
    whole = "[" + ",".join(parts) + "]" if grouped else _ENCODE(rows)
    return leaves, sha256(whole.encode("utf-8")).digest()


def parse_window_leaf(leaf: bytes) -> tuple[int, int, bytes]:
    """(device_id, rows, digest) of a 44-byte observation leaf."""
    d, n = _LEAF.unpack(leaf[:12])
    return d, n, leaf[12:]


def seal_pending(engine: Engine, *, observations: bool = True, until: float | None = None) -> dict[str, int]:
    """Seal every stored frame that has no seal yet, then the observations of sealed frames.

    For stores written before the ledger, or by a writer without the seal call. Each seal is its
    own transaction, begun by locking the ledger head, so it cannot race the writer. Returns
    ``{"frames": n frames sealed, "observation_windows": n hour windows of observations sealed}``.
    ``until`` (``time.monotonic()`` value): start no new run of observation windows after it; the
    rest waits for the next call.
    """
    n_frames = 0
    while True:
        with engine.begin() as conn:
            repo.lock_for_checkpoint(conn)  # take the head lock first: a consistent view of frames and seals
            run: Sequence[tuple[int, bytes]] = ()
            for a, b in repo.seal_gaps(conn, FRAMES):
                got = repo.frame_ids_between(conn, a, min(b, a + SEAL_MAX - 1))
                if got:
                    run = _runs(got)[0]
                    break
            if not run:
                break
            _seal(conn, FRAMES, run[0][0], run[-1][0], [s for _, s in run])
            n_frames += len(run)
    n_obs = seal_observations(engine, until=until) if observations else 0
    return {"frames": n_frames, "observation_windows": n_obs}


@dataclass(frozen=True)
class _WindowSeal:
    """An observations seal computed from a snapshot, not yet appended."""

    window: int
    rows: int
    leaves: list[bytes]
    digest: bytes


def seal_observations(engine: Engine, *, now: float | None = None, until: float | None = None) -> int:
    """Seal the hour windows of observations that new frames wrote into; returns windows sealed.

    Frames are taken in id order up to the first one whose window is still filling (ending less
    than :data:`OBS_GRACE_S` ago); its window and those after wait for a later run. A window that
    late data reach again is sealed again; verification compares each window with its newest seal.

    Each run reads and digests its windows in a read snapshot, holding no lock — the writer goes on
    committing (reading ~50,000 frames' rows takes seconds; under the ledger's head lock it stalled
    every acknowledgement that long) — then appends the seals under the head lock, briefly. Frames
    and their observations commit together, so a snapshot holding frames up to ``through`` holds
    all their rows; rows of later frames reseal their windows in a later run. If another sealer
    moved the sealed mark meanwhile, the run is computed again. ``until`` (``time.monotonic()``):
    no run starts after it (a run seals up to :data:`FRAMES_PER_RUN` frames).
    """
    now = time.time() if now is None else now
    done = 0
    while True:
        if until is not None and time.monotonic() >= until:
            return done
        with read_snapshot(engine) as conn:
            through_prev = repo.max_sealed(conn, OBSERVATIONS)
            top = repo.max_frame_id(conn)
            if top <= through_prev:
                return done
            through = _sealable_through(conn, through_prev, top, now)
            if through <= through_prev:
                return done
            windows = repo.windows_touched(conn, through_prev, through, OBS_WINDOW_S)
            computed = [_window_seal(conn, w) for w in windows] or [_window_seal(conn, NO_WINDOW)]
        with engine.begin() as conn:
            repo.lock_for_checkpoint(conn)
            if repo.max_sealed(conn, OBSERVATIONS) != through_prev:
                continue  # another sealer got there first: recompute from its mark
            for ws in computed:
                _append_window_seal(conn, ws, through)
        done += len(windows)
        if through == top:
            return done


def _sealable_through(conn: Any, through_prev: int, top: int, now: float) -> int:
    """The highest frame id of this run: at most :data:`FRAMES_PER_RUN` frames after ``through_prev``,
    stopping before the first frame whose window is still filling."""
    upto = min(top, through_prev + FRAMES_PER_RUN)
    waiting = [w for w in repo.windows_touched(conn, through_prev, upto, OBS_WINDOW_S)
               if now < w + OBS_WINDOW_S + OBS_GRACE_S and w <= now + 86400]
    if not waiting:
        return upto
    first = repo.first_frame_since(conn, through_prev, upto, min(waiting))
    return upto if first is None else first - 1


def _window_seal(conn: Any, window: int) -> _WindowSeal:
    rows = repo.observations_in_window(conn, window, window + OBS_WINDOW_S) if window != NO_WINDOW else []
    leaves, digest = window_digests(rows)
    return _WindowSeal(window, len(rows), leaves, digest)


def _append_window_seal(conn: Any, ws: _WindowSeal, through: int) -> Entry:
    """Append one ``observations.seal`` entry (frames without observations: ``window`` NO_WINDOW)."""
    root = merkle.root(ws.leaves)
    window = None if ws.window == NO_WINDOW else ws.window
    entry = append_raw(conn, kind="observations.seal", actor=SYSTEM, subject_table="observations",
                       subject_key="" if window is None else str(window),
                       payload={"window_utc": window, "window_s": OBS_WINDOW_S,
                                "devices": len(ws.leaves), "rows": ws.rows, "root": root.hex(),
                                "digest": ws.digest.hex(), "through_id": through})
    repo.insert_seal(repo.Exec(conn), entry.seq, OBSERVATIONS, ws.window, through, len(ws.leaves), root,
                     b"".join(ws.leaves))
    return entry
