"""window_digests (what the observation seals use) equals window_leaves + obs_digest byte for byte,
for windows whose rows come device by device (hour/day data) and for interleaved ones (minutes)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tianlan.ledger.frames import obs_digest, window_digests, window_leaves

T0 = 1546272000
VALUES = st.none() | st.sampled_from([0.0, -0.0, 1e-05, 1e16, 123.456, -7.5, 1e300]) | st.floats(allow_nan=False,
                                                                                                allow_infinity=False)
TEXTS = st.none() | st.sampled_from(["N", "D", '{"text":"无效 / invalid"}', '{"SampleTime":"20190101080000"}', "\u2028\x1f"])


def _row(t: int, dev: int, param: str, value: float | None, flag: str | None, extra: str | None, fid: int) -> tuple:  # type: ignore[type-arg]
    return (t, dev, param, "hour", value, flag, value, value, None, None, extra, fid)


@given(
    devices=st.lists(st.integers(1, 10_000), min_size=0, max_size=12, unique=True),
    params=st.lists(st.sampled_from(["a34004", "a34002", "a21026", "w01018"]), min_size=1, max_size=4, unique=True),
    times=st.integers(1, 3),
    values=st.lists(VALUES, min_size=1, max_size=8),
    texts=st.lists(TEXTS, min_size=1, max_size=5),
    shuffle=st.booleans(),
    data=st.data(),
)
def test_window_digests_equal_the_two_encodings(devices, params, times, values, texts, shuffle, data) -> None:  # type: ignore[no-untyped-def]
    rows = []
    k = 0
    # primary-key order: time, device, parameter (one time: device by device; several: interleaved)
    for t in range(T0, T0 + 60 * times, 60):
        for dev in sorted(devices):
            for p in sorted(params):
                rows.append(_row(t, dev, p, values[k % len(values)], texts[k % len(texts)], texts[(k + 1) % len(texts)], k))
                k += 1
    if shuffle:
        rows = data.draw(st.permutations(rows))
    leaves, digest = window_digests(rows)
    assert leaves == window_leaves(rows)
    assert digest == obs_digest(rows)


def test_one_period_windows_take_the_shortcut_and_still_match() -> None:
    rows = [_row(T0, dev, p, dev / 7, "N", None, dev) for dev in (3, 5, 11) for p in ("a34002", "a34004")]
    leaves, digest = window_digests(rows)
    assert (leaves, digest) == (window_leaves(rows), obs_digest(rows))
    assert window_digests([]) == ([], obs_digest([]))
