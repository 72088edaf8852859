"""The streaming-QC speed-ups change no finding.

The helpers made faster for streaming QC (``median_finite`` in the robust scales, flags decoded by
``_distinct``, ``runs``, ``nanmedian_rows``, ``daily_shifts`` on the days with enough data only,
XV-04's ``_quantum``) are compared with the implementations they replaced, kept here as the
reference: first one by one on random input, then as a whole — every detector of the batch runner
on a fixed slice of the real Hebei 2019 data (with instrument flags added at some stations) must
give the same results, evidence included, with the reference implementations patched in. The
stream's own short cuts are checked on the same real data: the skip of codes with no detector due
(``StreamingQc._due``) against the detector-by-detector loop it short-cuts, the flags its buffers
code as they arrive against a fresh decode, and neighbour residuals cut from a longer window of the
same check (the contexts of one check share ``Context.cache``) against a fresh computation.
"""

from __future__ import annotations

import calendar
import json
from typing import Any

import numpy as np
import pytest

from tianlan.ingest.item import ACCEPTED, IngestItem
from tianlan.qc.checks import _common
from tianlan.qc.core import Series, load_all
from tianlan.qc.fraud import cross, spatial

HOUR = 3600


# --- the implementations before the speed-ups (the reference) --------------------------------------


def ref_robust_sigma(d: np.ndarray, min_count: int = 10) -> float:
    d = d[np.isfinite(d)]
    if d.size < min_count:
        return float("nan")
    return float(1.4826 * np.median(np.abs(d - np.median(d))))


def ref_runs(mask: np.ndarray, min_len: int = 1, max_gap: int = 0, gap_ok: np.ndarray | None = None) -> list[tuple[int, int]]:
    m = np.asarray(mask, dtype=bool)
    if m.size == 0 or not m.any():
        return []
    if gap_ok is None or max_gap <= 0:
        d = np.diff(np.concatenate(([0], m.view(np.int8), [0])))
        starts = np.flatnonzero(d == 1)
        ends = np.flatnonzero(d == -1)
        keep = (ends - starts) >= min_len
        return list(zip(starts[keep].tolist(), ends[keep].tolist(), strict=True))
    return _ORIG_RUNS(mask, min_len, max_gap, gap_ok)  # the gap path is unchanged


def ref_nanmedian_rows(m: np.ndarray) -> np.ndarray:
    if m.ndim != 2 or m.shape[1] == 0:
        return np.full(m.shape[0] if m.ndim else 0, np.nan)
    srt = np.sort(m, axis=1)
    k = np.isfinite(m).sum(axis=1)
    rows = np.arange(m.shape[0])
    lo = np.clip((k - 1) // 2, 0, m.shape[1] - 1)
    hi = np.clip(k // 2, 0, m.shape[1] - 1)
    out = 0.5 * (srt[rows, lo] + srt[rows, hi])
    out[k == 0] = np.nan
    return out


def ref_quantum(v: np.ndarray) -> float:
    u = np.unique(v[np.isfinite(v)])
    if u.size < 2:
        return 0.0
    dif = np.diff(u)
    dif = dif[dif > 1e-9]
    return float(max(dif.min(), 1e-6)) if dif.size else 0.0


def ref_daily_shifts(dm: np.ndarray, *, recent_days: int, ref_days: int, min_ref_days: int, min_shift: float,
                     z_threshold: float, min_scale: float) -> list[dict[str, Any]]:
    nd = dm.size
    if nd == 0:
        return []
    span = recent_days + ref_days
    rows = _common.windows(dm, np.arange(nd) + 1 - span, span)
    ref, cur = rows[:, :ref_days], rows[:, ref_days:]
    m_ref = ref_nanmedian_rows(ref)
    m_cur = ref_nanmedian_rows(cur)
    dref = np.diff(ref, axis=1)
    sd = np.maximum(1.4826 * ref_nanmedian_rows(np.abs(dref - ref_nanmedian_rows(dref)[:, None])) / np.sqrt(2.0), min_scale)
    shift = m_cur - m_ref
    enough = (np.isfinite(cur).sum(axis=1) >= max(2, int(np.ceil(0.7 * recent_days)))) & \
             (np.isfinite(ref).sum(axis=1) >= min_ref_days)
    with np.errstate(invalid="ignore"):
        hit = enough & (np.abs(shift) >= min_shift) & (np.abs(shift) >= z_threshold * sd)
    flags = np.where(hit, np.sign(shift), 0).astype(np.int8)
    out: list[dict[str, Any]] = []
    j = 0
    while j < nd:
        if flags[j] == 0:
            j += 1
            continue
        sign = flags[j]
        k = j
        while k + 1 < nd and flags[k + 1] == sign:
            k += 1
        best = j + int(np.argmax(np.abs(shift[j:k + 1])))
        out.append({"first_day": max(0, j - recent_days + 1), "last_day": k, "shift": float(shift[best]),
                    "scale": float(sd[best]), "reference_median": float(m_ref[best]),
                    "recent_median": float(m_cur[best]), "sign": int(sign)})
        j = k + 1
    return out


def ref_median_finite(v: np.ndarray) -> Any:
    return np.median(v)


_ORIG_RUNS = _common.runs
#: module attribute → reference; patched into every detector module that imported the name
REFERENCE = {"robust_sigma": (_common.robust_sigma, ref_robust_sigma), "runs": (_common.runs, ref_runs),
             "nanmedian_rows": (_common.nanmedian_rows, ref_nanmedian_rows),
             "median_finite": (_common.median_finite, ref_median_finite),
             "_quantum": (cross._quantum, ref_quantum), "daily_shifts": (spatial.daily_shifts, ref_daily_shifts),
             "_distinct": (_common._distinct, lambda flags, max_distinct=8: None)}


def patch_references(mp: pytest.MonkeyPatch) -> int:
    """Patch the reference implementations in wherever a detector module holds an optimised one
    (under any name: temporal.py binds ``robust_sigma`` as ``_robust_sigma``); how many were patched."""
    import sys

    load_all()
    by_id = {id(new): ref for new, ref in REFERENCE.values()}
    n = 0
    for name, mod in list(sys.modules.items()):
        if mod is None or not name.startswith("tianlan.qc"):
            continue
        for attr, value in list(vars(mod).items()):
            ref = by_id.get(id(value))
            if ref is not None and callable(value):
                mp.setattr(mod, attr, ref)
                n += 1
    return n


# --- one by one --------------------------------------------------------------------------------------


def test_helpers_equal_their_references_on_random_input() -> None:
    rng = np.random.default_rng(11)
    for _ in range(3000):
        n = int(rng.integers(0, 80))
        x = rng.normal(size=n) * 10.0 ** int(rng.integers(-3, 4))
        if rng.random() < 0.4:
            x = np.round(x, int(rng.integers(0, 2)))  # ties and coarse steps
        x[rng.random(n) < 0.2] = np.nan
        for mc in (1, 3, 10):
            a, b = ref_robust_sigma(x, mc), _common.robust_sigma(x, mc)
            assert (np.isnan(a) and np.isnan(b)) or a == b
        fin = x[np.isfinite(x)]
        if fin.size:
            assert _common.median_finite(fin) == np.median(fin)
        assert cross._quantum(x) == ref_quantum(x)
        m = rng.random(n) < rng.random()
        gap = rng.random(n) < 0.3
        for ml in (0, 1, 3):
            assert _common.runs(m, ml) == ref_runs(m, ml)
            assert _common.runs(m, ml, 2, gap) == ref_runs(m, ml, 2, gap)
        mat = rng.normal(size=(int(rng.integers(0, 7)), int(rng.integers(1, 12))))
        mat[rng.random(mat.shape) < 0.4] = np.nan
        assert np.array_equal(_common.nanmedian_rows(mat), ref_nanmedian_rows(mat), equal_nan=True)
        dm = rng.normal(size=int(rng.integers(0, 60))) * 0.3
        dm[rng.random(dm.size) < 0.3] = np.nan
        kw = {"recent_days": 7, "ref_days": int(rng.integers(5, 31)), "min_ref_days": 4, "min_shift": 0.2,
              "z_threshold": 2.0, "min_scale": 0.03}
        assert spatial.daily_shifts(dm, **kw) == ref_daily_shifts(dm, **kw)
    assert _common.median_finite(np.array([])) != _common.median_finite(np.array([]))  # NaN, as np.median


def test_flags_decoded_without_a_loop_match_the_loop() -> None:
    rng = np.random.default_rng(5)
    pool = ["N", "D", None, " M ", "T", "N ", "P", "0", "2", "F", "S", "x"]
    for _ in range(2000):
        n = int(rng.integers(0, 70))
        fl = np.empty(n, dtype=object)
        fl[:] = [pool[i] for i in rng.integers(0, int(rng.integers(1, len(pool) + 1)), n)]
        got = _common._distinct(fl)
        codes: dict[Any, int] = {}
        raw = np.fromiter((codes.setdefault(f, len(codes)) for f in fl), dtype=np.int64, count=n)
        if got is not None:  # None: more distinct flags than the fast path takes (the loop runs)
            assert list(got[0].items()) == list(codes.items()) and np.array_equal(got[1], raw)
        st = _common.FlagState(fl)
        assert st.as_list() == ["" if f is None else str(f).strip() for f in fl]
        assert np.array_equal(st.isin(_common.INVALID_FLAGS),
                              np.array([("" if f is None else str(f).strip()) in _common.INVALID_FLAGS for f in fl],
                                       dtype=bool))
    # a flag not equal to itself (a float NaN) falls back to the loop
    assert _common._distinct(np.array([float("nan"), "N"], dtype=object)) is None
    assert _common.FlagState(np.array([float("nan"), "N", "N"], dtype=object)).as_list() == ["nan", "N", "N"]


# --- on real data ------------------------------------------------------------------------------------


def _hebei(days: int, n_stations: int) -> tuple[dict, dict, np.ndarray]:
    from tianlan.sim.replay import data_dir

    if not (data_dir() / "stations.csv").is_file() or not list(data_dir().glob("2019-01*.csv*")):
        pytest.skip(f"real Hebei 2019 data not found in {data_dir()} (set TIANLAN_SHARED_DIR to the shared folder)")
    from bench_loader import load_benchmark

    bench = load_benchmark("streaming_qc.py")
    stations, data, times = bench.load(days)
    keep = sorted(stations)[:n_stations]
    return {s: stations[s] for s in keep}, {s: data[s] for s in keep}, times


def _batch(stations: dict, data: dict, times: np.ndarray) -> list[tuple]:
    from tianlan.qc.inputs import build_contexts
    from tianlan.qc.runner import run_batch

    rng = np.random.default_rng(3)
    series: dict[str, dict[str, Series]] = {}
    for i, st in enumerate(sorted(data)):
        per = {}
        for code, v in data[st].items():
            flags = None
            if i % 3 == 0:  # instrument flags at a third of the stations: N mostly, some invalid, some missing
                flags = np.full(times.size, "N", dtype=object)
                k = rng.random(times.size)
                flags[k < 0.02] = "D"
                flags[(k >= 0.02) & (k < 0.03)] = None
                flags[(k >= 0.03) & (k < 0.035)] = " M "
            per[code] = Series(st, code, times, v, flags, None, "mg/m³" if code == "a21005" else "µg/m³")
        series[st] = per
    res = run_batch(series, build_contexts(series, stations))
    return [(r.detector, r.station, r.parameter, r.start_utc, r.end_utc, int(r.status), r.reason, r.score,
             json.dumps(r.evidence, sort_keys=True, default=str)) for r in res]


@pytest.fixture(scope="module")
def hebei_slice() -> tuple[dict, dict, np.ndarray]:
    return _hebei(40, 24)  # January – early February 2019, 24 stations (neighbours within 30–50 km)


def test_batch_results_on_real_data_are_those_of_the_reference(hebei_slice, monkeypatch) -> None:
    stations, data, times = hebei_slice
    fast = _batch(stations, data, times)
    with monkeypatch.context() as mp:
        assert patch_references(mp) >= 10  # the references reached the detector modules
        slow = _batch(stations, data, times)
    assert len(fast) > 500
    dets = {r[0] for r in fast}
    assert {"SPA-01", "XV-03", "XV-04", "TMP-02", "EQP-01", "CMP-01"} <= dets  # the changed paths found something
    assert fast == slow


def _replay(stations: dict, data: dict, times: np.ndarray, *, skip_due: bool) -> list[tuple]:
    from tianlan.qc.stream import StreamingQc

    codes = sorted(stations)
    ids = {s: i + 1 for i, s in enumerate(codes)}
    sq = StreamingQc(None, stations=stations, device_sites={i: (s, "air") for s, i in ids.items()}, prime=False)
    if not skip_due:
        class _Never(dict):  # the per-detector loop decides alone, as before the skip
            def __setitem__(self, k: Any, v: Any) -> None:
                pass

        sq._due = _Never()
    out = []
    for h, t in enumerate(times.tolist()):
        items = [IngestItem(b"", t + HOUR + 60.0, "test", status=ACCEPTED, device_id=ids[s],
                            obs=[(t, c, "hour", float(v[h]), "N", None, None, None, None, None)
                                 for c, v in data[s].items() if np.isfinite(v[h])]) for s in codes]
        out.extend(sq.on_committed([it for it in items if it.obs]))
    out.extend(sq.flush(0.0))
    return [(r.detector, r.station, r.parameter, r.start_utc, r.end_utc, int(r.status), r.reason, r.score,
             json.dumps(r.evidence, sort_keys=True, default=str)) for r in out]


def test_stream_skip_of_codes_not_due_changes_nothing(hebei_slice) -> None:
    stations, data, times = hebei_slice
    keep = sorted(stations)[:10]
    st = {s: stations[s] for s in keep}
    d = {s: data[s] for s in keep}
    t0 = calendar.timegm((2019, 1, 1, 0, 0, 0)) - 8 * HOUR
    assert int(times[0]) == t0
    n = 12 * 24  # twelve days: every cadence (3 h, 12 h, 24 h) comes round many times
    fast = _replay(st, {s: {c: v[:n] for c, v in per.items()} for s, per in d.items()}, times[:n], skip_due=True)
    slow = _replay(st, {s: {c: v[:n] for c, v in per.items()} for s, per in d.items()}, times[:n], skip_due=False)
    assert len(fast) > 20
    assert fast == slow


def test_buffer_views_carry_the_flags_decoded_as_a_fresh_decode_would() -> None:
    from tianlan.qc.stream_history import HistoryBuffer

    rng = np.random.default_rng(9)
    pool = ["N", "D", None, " M ", "T", "N ", "", "P"]
    t0 = 1546272000
    for trial in range(40):
        b = HistoryBuffer("S", "a34004", "hour", HOUR, 2 * 86400, t0)  # 48 slots kept, 96 capacity: shifts happen
        for _ in range(int(rng.integers(1, 300))):
            t = t0 + HOUR * int(rng.integers(-5, 200 + 2 * trial))
            f = pool[int(rng.integers(0, len(pool)))]
            b.put(t, float(rng.normal()), f, float(t + HOUR))
            a = b.t0 + HOUR * int(rng.integers(-3, b.n + 3))
            s = b.view(a, a + HOUR * int(rng.integers(0, 60)))
            if s.flags is None:
                continue
            assert s.__dict__["_flag_coded"][0] is s.flags  # coded by the buffer, decoded when first asked
            got = _common.flag_state(s)
            fresh = _common.FlagState(s.flags)
            assert got is not None and got is not fresh and got.uniq == fresh.uniq
            assert np.array_equal(got.inverse, fresh.inverse) and got.as_list() == fresh.as_list()
            assert np.array_equal(_common.valid_mask(s), np.isfinite(s.values) & ~fresh.isin(_common.INVALID_FLAGS))
    # a flag that is not a string: the view's flags are decoded by FlagState itself
    b = HistoryBuffer("S", "a34004", "hour", HOUR, 86400, t0)
    b.put(t0, 1.0, "N", t0 + 1.0)
    b.put(t0 + HOUR, 2.0, 7, t0 + HOUR + 1.0)  # type: ignore[arg-type]
    s = b.view(t0, t0 + 2 * HOUR)
    assert "_flag_coded" not in s.__dict__ and _common.flag_list(s) == ["N", "7"]


def test_a_residual_cut_from_a_longer_window_is_the_one_computed_afresh(hebei_slice) -> None:
    from tianlan.qc.stream import StreamingQc

    stations, data, times = hebei_slice
    codes = sorted(stations)
    ids = {s: i + 1 for i, s in enumerate(codes)}
    sq = StreamingQc(None, stations=stations, device_sites={i: (s, "air") for s, i in ids.items()}, prime=False)
    for s in codes:
        for c, v in data[s].items():
            for h in np.flatnonzero(np.isfinite(v)).tolist():
                t = int(times[h])
                sq._buffer(s, c, "hour", t).put(t, float(v[h]), "N", t + HOUR + 60.0)
    end = int(times[-1]) + HOUR
    kw = {"max_km": 30.0, "max_neighbours": 8, "min_neighbours": 1}
    cut = 0
    for st in codes[:8]:
        shared: dict = {}
        long_ctx = sq._context(st, "hour", end - 38 * 86400, end, end, shared)
        short_ctx = sq._context(st, "hour", end - 30 * 86400, end, end, shared)
        alone = sq._context(st, "hour", end - 30 * 86400, end, end)
        for code in sorted(long_ctx.series):
            longer = spatial.neighbour_residual(long_ctx.series[code], long_ctx, **kw)
            got = spatial.neighbour_residual(short_ctx.series[code], short_ctx, **kw)
            want = spatial.neighbour_residual(alone.series[code], alone, **kw)
            if want is None:
                assert got is None
                continue
            assert got is not None and longer is not None
            cut += np.shares_memory(got["r"], longer["r"])
            assert got.keys() == want.keys() and got["ids"] == want["ids"] and got["distances"] == want["distances"]
            assert got["offset"] == want["offset"]
            for k in ("r", "nb_log_median", "matrix", "count"):
                assert got[k].shape == want[k].shape and np.array_equal(got[k], want[k], equal_nan=True), k
            # the whole detectors agree too (XV-03 on the short window, with and without the shared cache)
        x3 = load_all()["XV-03"]
        p = x3.defaults()
        a = x3.func(short_ctx.series["a34004"], short_ctx, **p)
        b = x3.func(alone.series["a34004"], alone, **p)
        assert [(f.start, f.end, f.reason, f.score, json.dumps(f.evidence, sort_keys=True, default=str)) for f in a] == \
               [(f.start, f.end, f.reason, f.score, json.dumps(f.evidence, sort_keys=True, default=str)) for f in b]
    assert cut >= 20  # the tails were cut, not recomputed
