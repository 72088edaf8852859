"""What crosses from the gateway to the store writer, and the rows the writer inserts (pure).

The gateway hands each batch of :class:`IngestItem` to the writer process as marshalled *records*
(:func:`batch_payload`), and copies the writer's verdicts back onto the items
(:func:`apply_results`). In the writer, :func:`batch_rows` turns the records into the values of
its bulk statements: the frame ids, the final status of each frame (a byte-identical re-send of an
accepted frame becomes ``duplicate`` of it) and the observation rows of the accepted frames.

These loops run once per frame and once per observation row, tens of thousands of times a second;
they are compiled with mypyc with the codec (``tianlan.hj212._native``), which makes them several
times faster than the same code interpreted. Nothing here does I/O.
"""

from __future__ import annotations

import marshal
from typing import Any

from tianlan.ingest.item import ACCEPTED, DUPLICATE, IngestItem

# A frame as it crosses to the store: (received_utc, peer, channel, data, sha256, mn, device_id, qn,
# cn, status, reason, detail, crc_variant, relaxations, obs_rows)
Record = tuple[Any, ...]
# What comes back per frame: (frame_id, status, reason, duplicate_of)
Result = tuple[int, str, "str | None", "int | None"]

RETRANSMISSION = "retransmission"  # raw_frames.reason of a duplicate


def to_record(it: IngestItem) -> Record:
    """The record of one item (see `Record`)."""
    return (it.received_utc, it.peer, it.channel, it.data, it.sha256, it.mn, it.device_id, it.qn, it.cn,
            it.status, it.reason, it.detail, it.crc_variant, it.relaxations, it.obs)


def batch_payload(batch: list[IngestItem]) -> bytes:
    """The records of `batch`, marshalled (records hold only str/bytes/int/float/None/tuples/lists:
    marshal is about twice as fast as pickle for them)."""
    return marshal.dumps([to_record(it) for it in batch])


def apply_results(batch: list[IngestItem], results: list[Result]) -> None:
    """Copy the writer's verdict on each frame onto its item (same order)."""
    if len(batch) != len(results):
        raise ValueError(f"writer: {len(results)} results for a batch of {len(batch)} frames")
    for i in range(len(batch)):
        it = batch[i]
        fid, status, reason, dup = results[i]
        it.frame_id = fid
        it.status = status
        it.reason = reason
        it.duplicate_of = dup


def dedup_keys(records: list[Record]) -> list[tuple[int | None, bytes]]:
    """(data_utc, sha256) of the frames that may be re-sends of stored ones (accepted or duplicate);
    data_utc is the time of the frame's first observation row (None without rows), as stored."""
    keys: list[tuple[int | None, bytes]] = []
    for rec in records:
        status = rec[9]
        if status == ACCEPTED or status == DUPLICATE:
            obs = rec[14]
            keys.append((obs[0][0] if obs else None, rec[4]))
    return keys


class BatchRows:
    """The values of one batch's statements (see :func:`batch_rows`)."""

    def __init__(self) -> None:
        self.results: list[Result] = []
        # raw_frames: SQLite, the non-NULL values of the usual accepted frames (reason, detail,
        # relaxations, duplicate_of NULL), one flat list; every other frame as a whole row
        # (PostgreSQL: all of them)
        self.frames_usual: list[Any] = []
        self.frame_rows: list[tuple[Any, ...]] = []
        # observations: SQLite, the two usual shapes as flat lists of their non-NULL values
        # (period: vmin and vmax present; short: both absent), the other rows whole; PostgreSQL,
        # every row whole (COPY takes NULLs at no extra cost)
        self.period: list[Any] = []
        self.short: list[Any] = []
        self.other: list[tuple[Any, ...]] = []
        self.n_rows = 0
        self.times: set[int] = set()  # PostgreSQL: the observation times (for the partitions)
        # A device with two frames in one batch could send one key twice: then observations must go
        # in strictly in order of arrival (the first value received wins), not grouped by shape.
        self.repeat = False
        self.next_id = 0  # the id after the batch's last frame


def batch_rows(records: list[Record], known: dict[bytes, int], first_id: int, sqlite: bool) -> BatchRows:
    """Number the frames from `first_id` and decide their final status; gather their rows.

    `known` maps the SHA-256 of accepted frames already stored to their ids; it is extended with the
    accepted frames of this batch, so a frame sent twice in one batch is stored once as well.
    """
    out = BatchRows()
    results = out.results
    frames_usual = out.frames_usual
    frame_rows = out.frame_rows
    period = out.period
    short = out.short
    other = out.other
    times = out.times
    devs: set[Any] = set()
    repeat = False
    n_rows = 0
    fid = first_id
    for rec in records:
        (received, peer, channel, data, sha, mn, dev, qn, cn, status, reason, detail, crc, relax, obs) = rec
        dup = None
        n_obs = 0
        data_utc = obs[0][0] if obs else None
        if status == ACCEPTED or status == DUPLICATE:
            first = known.get(sha)
            if first is not None:
                status, reason, dup = DUPLICATE, RETRANSMISSION, first
            else:
                status = ACCEPTED
                known[sha] = fid
                if dev in devs:
                    repeat = True
                else:
                    devs.add(dev)
                n_obs = len(obs)
                n_rows += n_obs
                if not sqlite:
                    for t, p, k, v, f, lo, hi, cou, zs, x in obs:
                        other.append((t, dev, p, k, v, f, lo, hi, cou, zs, x, fid))
                        times.add(t)
                else:
                    for t, p, k, v, f, lo, hi, cou, zs, x in obs:
                        if cou is None and zs is None and x is None and v is not None and f is not None:
                            if lo is not None and hi is not None:
                                period.extend((t, dev, p, k, v, f, lo, hi, fid))
                                continue
                            if lo is None and hi is None:
                                short.extend((t, dev, p, k, v, f, fid))
                                continue
                        other.append((t, dev, p, k, v, f, lo, hi, cou, zs, x, fid))
        if (sqlite and status == ACCEPTED and relax is None and detail is None and qn is not None
                and crc is not None and data_utc is not None and mn is not None and cn is not None):
            # bytearray: sqlite3 binds it directly, bytes through its adapter lookup (~4x slower)
            frames_usual.extend((fid, received, peer, channel, bytearray(data), bytearray(sha), mn, dev, qn, cn,
                                 status, crc, n_obs, data_utc))
        else:
            frame_rows.append((fid, received, peer, channel, data, sha, mn, dev, qn, cn, status, reason, detail,
                               crc, relax, dup, n_obs, data_utc))
        results.append((fid, status, reason, dup))
        fid += 1
    out.n_rows = n_rows
    out.repeat = repeat
    out.next_id = fid
    return out


def accepted_rows(records: list[Record], results: list[Result]) -> list[tuple[Any, ...]]:
    """Observation rows (all columns) of the frames accepted in this batch, in order of arrival."""
    out: list[tuple[Any, ...]] = []
    for i in range(len(records)):
        rec = records[i]
        fid, status, _, _ = results[i]
        if status == ACCEPTED:
            dev = rec[6]
            for t, p, k, v, f, lo, hi, cou, zs, x in rec[14]:
                out.append((t, dev, p, k, v, f, lo, hi, cou, zs, x, fid))
    return out
