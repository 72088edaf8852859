"""QcLiveRepo: live QC's pending backlog in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tianlan.errors import InputError
from tianlan.store.qc_live_repo import BacklogSpan, QcLiveRepo

H = 3600
T0 = 1_551_369_600  # 2019-02-28 16:00 UTC


def test_save_replaces_a_generation_and_pending_lists_oldest_first(store) -> None:
    repo = QcLiveRepo(store)
    assert repo.pending() == []
    assert repo.save("g-new", {(3, "hour"): (T0, T0 + 5 * H, 6)}, recorded_utc=2000.0) == 1
    assert repo.save("g-old", {(1, "hour"): (T0, T0 + 2 * H, 3), (2, "min"): (T0, T0 + 600, 11)}, recorded_utc=1000.0) == 2
    assert [(s.generation, s.device_id, s.kind) for s in repo.pending()] == [
        ("g-old", 1, "hour"), ("g-old", 2, "min"), ("g-new", 3, "hour")]
    # saving a generation again replaces its spans (the backlog grew)
    repo.save("g-old", {(1, "hour"): (T0 - H, T0 + 9 * H, 12)}, recorded_utc=1000.0)
    assert [s for s in repo.pending() if s.generation == "g-old"] == [
        BacklogSpan("g-old", 1, "hour", T0 - H, T0 + 9 * H, 12, 1000.0)]


def test_advance_moves_spans_forward_and_drops_the_done_ones(store) -> None:
    repo = QcLiveRepo(store)
    repo.save("g", {(1, "hour"): (T0, T0 + 2 * H, 3), (2, "hour"): (T0, T0 + 30 * H, 31),
                    (2, "min"): (T0, T0 + 600, 11)}, recorded_utc=1.0)
    repo.save("other", {(1, "hour"): (T0, T0 + 2 * H, 3)}, recorded_utc=2.0)
    assert repo.advance("g", "hour", T0 + 10 * H) == 1  # device 1's span is done, device 2's starts later
    spans = {(s.generation, s.device_id, s.kind): (s.first_utc, s.last_utc) for s in repo.pending()}
    assert spans == {("g", 2, "hour"): (T0 + 10 * H, T0 + 30 * H), ("g", 2, "min"): (T0, T0 + 600),
                     ("other", 1, "hour"): (T0, T0 + 2 * H)}
    assert repo.advance("g", "hour", T0 + 30 * H + 1) == 0
    assert repo.delete("g") == 1
    assert [s.generation for s in repo.pending()] == ["other"]


@pytest.mark.parametrize(("generation", "spans", "field"), [
    ("", {(1, "hour"): (T0, T0, 1)}, "generation"),
    ("x" * 33, {(1, "hour"): (T0, T0, 1)}, "generation"),
    ("g", {(1, "rtd"): (T0, T0, 1)}, "kind"),
    ("g", {(1, "hour"): (T0, T0 - H, 1)}, "last_utc"),
])
def test_bad_records_are_rejected_naming_the_field(store, generation, spans, field) -> None:
    with pytest.raises(InputError) as e:
        QcLiveRepo(store).save(generation, spans, recorded_utc=1.0)
    assert e.value.field == field
    assert QcLiveRepo(store).pending() == []
