"""The writer's bulk inserts (BatchStore) on both stores: every row shape stored exactly, in order of
arrival for the same key, duplicates archived once, batches larger than one statement."""

from __future__ import annotations

import hashlib
import time

import pytest
from sqlalchemy import insert, select

from tianlan.ingest.item import ACCEPTED, QUARANTINED, IngestItem
from tianlan.store.frame_writer import ROWS_PER_STATEMENT, BatchStore, to_record
from tianlan.store.schema import devices, observations, raw_frames

T0 = 1546272000  # 2019-01-01 00:00 UTC


def _device(store) -> int:  # type: ignore[no-untyped-def]
    with store.begin() as c:
        return c.execute(insert(devices).values(mn="BS-1", password="123456", kind="air", st="22",
                                                created_utc=time.time()).returning(devices.c.id)).scalar_one()


def _item(dev: int, n: int, obs: list, *, status: str = ACCEPTED, reason: str | None = None) -> IngestItem:  # type: ignore[type-arg]
    it = IngestItem(data=f"##frame {n}".encode(), received_utc=1.5e9 + n, peer="127.0.0.1:1", mn="BS-1",
                    device_id=dev, qn=f"{n:017d}", cn="2061", crc_variant="standard", status=status,
                    reason=reason, detail="why" if reason else None)
    it.obs = obs
    return it


def test_every_row_shape_is_stored_exactly(store):
    dev = _device(store)
    shapes = [
        (T0, "a34004", "hour", 35.0, "N", 20.5, 50.25, None, None, None),  # period data
        (T0, "a34002", "rtd", 60.0, "N", None, None, None, None, None),  # real-time / Avg only
        (T0, "a21026", "hour", None, None, None, None, None, None, '{"text":"--"}'),  # text value
        (T0, "a21002", "hour", 8.0, "N", 7.0, 9.0, 1234.5, 10.25, None),  # flue gas: Cou and Zs
        (T0, "a01011", "hour", 0.0, None, -1.0, 1e300, None, -0.5, '{"SampleTime":"20190101080000"}'),
        (T0, "w01018", "day", -5.8, "D", None, 3.0, None, None, None),
    ]
    bs = BatchStore(store)
    res = bs.write([to_record(_item(dev, 1, shapes))])
    bs.close()
    assert [r[1] for r in res] == [ACCEPTED]
    with store.connect() as c:
        rows = c.execute(select(observations.c.time_utc, observations.c.parameter, observations.c.kind,
                                observations.c.value, observations.c.flag, observations.c.vmin, observations.c.vmax,
                                observations.c.cou, observations.c.zs, observations.c.extra, observations.c.frame_id,
                                observations.c.device_id)).all()
        fid = c.execute(select(raw_frames.c.id)).scalar_one()
    got = {r[1]: tuple(r[:10]) for r in rows}
    assert got == {s[1]: s for s in shapes}
    assert {(r[10], r[11]) for r in rows} == {(fid, dev)}


def test_large_mixed_batches_keep_the_first_value_of_a_key_and_archive_duplicates(store):
    dev = _device(store)
    n = 3 * ROWS_PER_STATEMENT + 7  # several full statements and every power-of-two remainder
    items = []
    for i in range(n):
        t = T0 + 3600 * i
        obs = [(t, "a34004", "hour", float(i), "N", 1.0, 2.0, None, None, None),
               (t, "a34002", "rtd", float(i), "N", None, None, None, None, None)]
        if i % 3 == 0:
            obs.append((t, "a21002", "hour", 1.0, "N", None, None, float(i), None, None))
        items.append(_item(dev, i, obs))
    # the same keys again in later frames (different bytes, other shape): the first stored stays
    items.append(_item(dev, n, [(T0, "a34004", "hour", -1.0, None, None, None, 5.0, None, None)]))
    items.append(_item(dev, n + 1, [(T0, "a34002", "rtd", -1.0, "N", 0.0, 0.0, None, None, None)]))
    items.append(_item(dev, n + 2, [], status=QUARANTINED, reason="bad-crc"))
    bs = BatchStore(store)
    first = bs.write([to_record(it) for it in items[: n // 2]])
    second = bs.write([to_record(it) for it in items[n // 2 :]])
    again = bs.write([to_record(items[5])])  # a retransmission, byte for byte
    bs.close()
    results = first + second
    assert [r[0] for r in results] == list(range(results[0][0], results[0][0] + n + 3))
    assert [r[1] for r in results[-3:]] == [ACCEPTED, ACCEPTED, QUARANTINED]
    assert again[0][1:] == ("duplicate", "retransmission", results[5][0])
    with store.connect() as c:
        vals = dict(c.execute(select(observations.c.parameter, observations.c.value)
                              .where(observations.c.time_utc == T0)).all())
        count = len(c.execute(select(observations.c.parameter)).all())
        frames = c.execute(select(raw_frames.c.status, raw_frames.c.sha256, raw_frames.c.n_obs,
                                  raw_frames.c.reason, raw_frames.c.detail).order_by(raw_frames.c.id)).all()
    assert vals == {"a34004": 0.0, "a34002": 0.0, "a21002": 1.0}
    assert count == 2 * n + (n + 2) // 3
    assert len(frames) == n + 4 and frames[-1][0] == "duplicate"
    assert bytes(frames[7][1]) == hashlib.sha256(b"##frame 7").digest()
    assert frames[n + 2][2:] == (0, "bad-crc", "why") and frames[3][2] == 3


def test_same_key_twice_in_one_batch_keeps_the_first_received(store):
    dev = _device(store)
    with_cou = (T0, "a34004", "hour", 1.0, "N", None, None, 9.0, None, None)  # a rarer shape first
    plain = (T0, "a34004", "hour", 2.0, "N", 1.0, 3.0, None, None, None)  # then the usual one
    later = (T0 + 3600, "a34004", "hour", 4.0, "N", 1.0, 5.0, None, None, None)
    bs = BatchStore(store)
    bs.write([to_record(_item(dev, 1, [with_cou])), to_record(_item(dev, 2, [plain, later]))])
    bs.close()
    with store.connect() as c:
        got = c.execute(select(observations.c.time_utc, observations.c.value, observations.c.cou)
                        .order_by(observations.c.time_utc)).all()
    assert [tuple(r) for r in got] == [(T0, 1.0, 9.0), (T0 + 3600, 4.0, None)]


def test_retransmissions_found_by_data_time_and_sha_across_batches(store):
    """Re-sends are looked up through (data_utc, sha256): data frames by their DataTime, frames
    without observations (data_utc NULL) among those; a frame whose bytes differ is new."""
    dev = _device(store)
    hour = [(T0 + 3600 * k, "a34004", "hour", float(k), "N", 1.0, 2.0, None, None, None) for k in range(3)]
    items = [_item(dev, k, [hour[k]]) for k in range(3)]
    notice = _item(dev, 10, [])  # e.g. a time-calibration request: accepted, no observations
    bs = BatchStore(store)
    first = bs.write([to_record(it) for it in [*items, notice]])
    # next batch: every one again byte for byte, one frame with other bytes but the same DataTime,
    # and a frame without rows whose bytes equal none stored
    other = _item(dev, 20, [hour[1]])
    new_notice = _item(dev, 11, [])
    again = bs.write([to_record(it) for it in [items[2], notice, other, items[0], new_notice, items[1]]])
    bs.close()
    ids = {it.data: r[0] for it, r in zip([*items, notice], first, strict=True)}
    assert [r[1:] for r in again] == [
        ("duplicate", "retransmission", ids[items[2].data]),
        ("duplicate", "retransmission", ids[notice.data]),
        (ACCEPTED, None, None),
        ("duplicate", "retransmission", ids[items[0].data]),
        (ACCEPTED, None, None),
        ("duplicate", "retransmission", ids[items[1].data]),
    ]
    with store.connect() as c:
        stored = c.execute(select(raw_frames.c.id, raw_frames.c.status, raw_frames.c.data_utc, raw_frames.c.duplicate_of)
                           .order_by(raw_frames.c.id)).all()
        n_obs = len(c.execute(select(observations.c.time_utc)).all())
    assert [s[2] for s in stored[:4]] == [T0, T0 + 3600, T0 + 7200, None]  # data_utc as the index has it
    assert [s[1] for s in stored].count(ACCEPTED) == 6 and n_obs == 3  # `other` repeats a stored key
    assert stored[5][3] == ids[notice.data]


def test_results_must_match_the_batch():
    from tianlan.ingest.rows import apply_results

    items = [_item(1, k, []) for k in range(2)]
    apply_results(items, [(7, ACCEPTED, None, None), (8, "duplicate", "retransmission", 7)])
    assert [(it.frame_id, it.status, it.reason, it.duplicate_of) for it in items] == [
        (7, ACCEPTED, None, None), (8, "duplicate", "retransmission", 7)]
    with pytest.raises(ValueError, match="1 results for a batch of 2"):
        apply_results(items, [(9, ACCEPTED, None, None)])
