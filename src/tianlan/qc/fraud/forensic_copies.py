"""FOR-06 — copied or simulated daily sequences: exact copies (hashed day vectors, across the whole
network of a batch scan) and near-copies (rescaled, offset, re-rounded) of a station's own days or
its neighbours' days.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from tianlan.qc.core import Context, Finding, Param, Series, Status, detector
from tianlan.qc.fraud.copy_side import copy_side_detail, pooled_copy_side
from tianlan.qc.fraud.forensic_common import BEIJING_OFFSET_S, FORENSIC_PARAMETERS, _neighbour_series, resolution


def day_matrix(series: Series) -> tuple[np.ndarray, np.ndarray]:
    """(days, D × slots matrix): the series laid out by Beijing calendar day (NaN where missing).

    ``days`` are day numbers since 1970-01-01 (Beijing dates)."""
    step = int(series.step_s)
    slots = max(1, 86400 // step)
    local = series.times + BEIJING_OFFSET_S
    day = local // 86400
    slot = np.minimum((local % 86400) // step, slots - 1)
    days, inv = np.unique(day, return_inverse=True)
    mat = np.full((days.size, slots), np.nan)
    mat[inv, slot] = series.values
    return days, mat


def _informative(mat: np.ndarray, unit: float, min_distinct: int, min_present: float) -> tuple[np.ndarray, np.ndarray]:
    """(comparable, complete) days: ≥ ``min_present`` of the slots reported with ≥ ``min_distinct``
    distinct values (flat days are TMP-03's), and those among them with every slot reported."""
    fin = np.isfinite(mat)
    d = np.diff(np.sort(np.round(mat / unit), axis=1), axis=1)  # NaN sort last; their diffs are NaN
    distinct = 1 + np.sum((d != 0) & np.isfinite(d), axis=1)
    ok: np.ndarray = (fin.sum(axis=1) >= min_present * mat.shape[1]) & (distinct >= min_distinct)
    return ok, ok & fin.all(axis=1)


#: Stands for a missing slot in the integer day vectors: a copy keeps the gaps of its source.
_GAP = np.int64(-(2**62))


def _quantised(mat: np.ndarray, unit: float) -> np.ndarray:
    fin = np.isfinite(mat)
    out: np.ndarray = np.where(fin, np.round(np.where(fin, mat, 0.0) / unit), 0).astype(np.int64)
    out[~fin] = _GAP
    return out


def _znorm(mat: np.ndarray) -> np.ndarray:
    mu = mat.mean(axis=1, keepdims=True)
    sd = mat.std(axis=1, keepdims=True)
    sd[sd == 0] = np.inf
    out: np.ndarray = (mat - mu) / sd
    return out


def affine_residual(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(scale, offset, largest |residual|) of the least-squares fit y ≈ scale·x + offset."""
    a, b = np.polyfit(x, y, 1)
    return float(a), float(b), float(np.max(np.abs(y - (a * x + b))))


_KEY_WEIGHTS = np.random.default_rng(212).integers(1, 2**62, size=1440, dtype=np.int64) | 1


def _row_keys(q: np.ndarray) -> np.ndarray:
    """A 64-bit key per row of integers (wrapping dot product with fixed odd weights); equal rows get
    equal keys, and a shared key is confirmed by comparing the rows."""
    w = np.resize(_KEY_WEIGHTS, q.shape[1])
    with np.errstate(over="ignore"):
        out: np.ndarray = (q * w).sum(axis=1)
    return out


def _day_label(d: int) -> str:
    return str(np.datetime64(int(d), "D"))


#: Days either side of a day laid out for the copy-side test (its edges and typical block change).
_SIDE_CONTEXT_DAYS = 3
#: Hours each side of a midnight edge compared (a copied day jumps at once; long blocks dilute it) …
_SIDE_EDGE_HOURS = 2
#: … and the copy's edges must jump this many of its typical block changes each (XV-04 uses 2).
_SIDE_MIN_SCALES = 1.0
#: … and at least this many times the matched day's (XV-04's ratio).
_SIDE_MIN_RATIO = 2.0


def _day_context(days: np.ndarray, mat: np.ndarray, day: int, w: int = _SIDE_CONTEXT_DAYS) -> tuple[np.ndarray, int, int]:
    """The days ``day − w`` … ``day + w`` of a day matrix as one contiguous series (NaN for absent
    days) and the slot window [s, e) of ``day`` in it."""
    slots = mat.shape[1]
    grid = np.arange(day - w, day + w + 1)
    pos = np.searchsorted(days, grid)
    have = (pos < days.size) & (days[np.minimum(pos, days.size - 1)] == grid)
    out = np.full((grid.size, slots), np.nan)
    out[have] = mat[pos[have]]
    return out.ravel(), w * slots, (w + 1) * slots


def _copy_side(own: tuple[np.ndarray, np.ndarray], day: int, other: tuple[np.ndarray, np.ndarray], other_day: int,
               step_s: int) -> dict[str, Any]:
    """Which of two equal (or near-equal) days is the copy: the edge test of XV-04
    (:func:`~tianlan.qc.fraud.copy_side.copy_side_detail`) on this station's day against the
    matched day (another station's, or another day of this one). The copy jumps at its midnight
    edges relative to its own adjacent hours; the original flows into its neighbours."""
    x, s, e = _day_context(*own, day)
    y, ys, ye = _day_context(*other, other_day)
    d = copy_side_detail(x, y, s, e, ys=ys, ye=ye, step_s=step_s, edge_hours=_SIDE_EDGE_HOURS,
                         min_scales=_SIDE_MIN_SCALES, min_ratio=_SIDE_MIN_RATIO, per_edge=True)
    side = int(d.pop("side"))
    return {"copier": {1: "this station", -1: "matched", 0: "undetermined"}[side], "side": side,
            "edge_jump": d["jump_x"], "matched_edge_jump": d["jump_y"], "block_change": d["scale_x"],
            "matched_block_change": d["scale_y"], "edges": d["edges"]}



def _days_of(ctx: Context, station: str, code: str, s: Series) -> tuple[np.ndarray, np.ndarray]:
    """``day_matrix`` of a series, kept in ``ctx.cache`` for the station's other parameters."""
    key = ("FOR-06 days", station, code, id(s))
    hit = ctx.cache.get(key)
    if hit is None:
        hit = ctx.cache[key] = day_matrix(s)
    return hit


def _station_side(series: Series, ctx: Context, day: int, station: str, other_day: int, step: int) -> dict[str, Any]:
    """Which of two matched days is the copy, from every parameter the copy took
    (:func:`~tianlan.qc.fraud.copy_side.pooled_copy_side`): this station's day and ``station``'s
    ``other_day`` (this station again for a repeated day) are compared in each parameter both
    report whose two days are equal within half a resolution step where both are present (the
    parameters the copy replaced; the series' own parameter always), with the edge the two days
    share left out when they are adjacent days of one station."""
    own = {**ctx.series, series.parameter: series}  # the series checked, whatever the context holds
    if station == series.station:
        other: Mapping[str, Series] = own
    else:
        other = ctx.network.get(station) or ctx.neighbours.get(station) or {}
    same = station == series.station
    skip_x: frozenset[str] = frozenset()
    skip_y: frozenset[str] = frozenset()
    if same and other_day == day - 1:
        skip_x, skip_y = frozenset({"start"}), frozenset({"end"})
    elif same and other_day == day + 1:
        skip_x, skip_y = frozenset({"end"}), frozenset({"start"})
    pairs = []
    codes = []
    for code, sx in own.items():
        sy = other.get(code)
        if sy is None or not len(sx) or not len(sy) or int(sx.step_s) != step or int(sy.step_s) != step:
            continue
        x, s, e = _day_context(*_days_of(ctx, series.station, code, sx), day)
        y, ys, ye = _day_context(*_days_of(ctx, station, code, sy), other_day)
        if code != series.parameter:
            a, b = x[s:e], y[ys:ye]
            ok = np.isfinite(a) & np.isfinite(b)
            tol = resolution(sx.values) / 2.0 + 1e-9
            if ok.sum() < 0.5 * (e - s) or not bool(np.all(np.abs(a[ok] - b[ok]) <= tol)):
                continue
        pairs.append((x, y, s, e, ys, ye, skip_x, skip_y))
        codes.append(code)
    out = pooled_copy_side(pairs, edge_hours=_SIDE_EDGE_HOURS, step_s=step)
    out["codes"] = codes
    return out


_KIND_ORDER = {"copied_from_station": 0, "repeated_day": 1, "near_copy_of_station": 2, "near_repeated_day": 3}


class _Days:
    """One station's days of one parameter, prepared once for FOR-06: day numbers, the D × slots
    matrix, comparable and complete days, the quantised rows and their 64-bit keys."""

    __slots__ = ("days", "mat", "ok", "full", "q", "keys")

    def __init__(self, series: Series, unit: float, min_distinct: int, min_present: float) -> None:
        self.days, self.mat = day_matrix(series)
        self.ok, self.full = _informative(self.mat, unit, min_distinct, min_present)
        self.q = _quantised(self.mat, unit)
        self.keys = _row_keys(self.q)


#: FOR-06's per-network cache: (id of Context.network, parameter, unit, step, day rules) → (the
#: network mapping itself — guards against a reused id —, station → _Days, sorted keys of every
#: comparable day, their station and row). A batch scan indexes each parameter of the network once.
_NETWORK_CACHE: dict[tuple[Any, ...], tuple[Any, dict[str, _Days], np.ndarray, np.ndarray, np.ndarray]] = {}
_NETWORK_CACHE_SIZE = 8


def _network_days(network: Mapping[str, Mapping[str, Series]], parameter: str, unit: float, step: int,
                  min_distinct: int, min_present: float
                  ) -> tuple[dict[str, _Days], np.ndarray, np.ndarray, np.ndarray]:
    """Every station's prepared days of ``parameter`` and a sorted key index over their comparable days."""
    key = (id(network), parameter, unit, step, min_distinct, min_present)
    hit = _NETWORK_CACHE.get(key)
    if hit is not None and hit[0] is network:
        return hit[1], hit[2], hit[3], hit[4]
    per: dict[str, _Days] = {}
    keys, owners, rows = [], [], []
    for k, (st, by_code) in enumerate(network.items()):
        s = by_code.get(parameter)
        if s is None or not len(s) or int(s.step_s) != step:
            continue
        d = _Days(s, unit, min_distinct, min_present)
        per[st] = d
        idx = np.flatnonzero(d.ok)
        keys.append(d.keys[idx])
        owners.append(np.full(idx.size, k, dtype=np.int64))
        rows.append(idx)
    all_keys = np.concatenate(keys) if keys else np.empty(0, np.int64)
    order = np.argsort(all_keys, kind="stable")
    out = (per, all_keys[order], (np.concatenate(owners) if owners else np.empty(0, np.int64))[order],
           (np.concatenate(rows) if rows else np.empty(0, np.int64))[order])
    if len(_NETWORK_CACHE) >= _NETWORK_CACHE_SIZE:
        _NETWORK_CACHE.pop(next(iter(_NETWORK_CACHE)))
    _NETWORK_CACHE[key] = (network, *out)
    return out


@detector(
    "FOR-06",
    name="Copied or simulated daily sequences",
    family="for",
    targets=["signal substitution or simulation (B4)", "copies between stations", "2015 measures 5(1), 5(5)"],
    params={
        "min_distinct": Param(8, "values", "a day needs this many distinct values to be compared (flat days are TMP-03)"),
        "min_present": Param(0.75, "share of the day", "a day needs this share of its slots reported (exact copies keep "
                             "the source's gaps; near-copies need complete days)"),
        "rho_min": Param(0.999, "correlation", "near-copy: correlation of the z-normalised day profiles at least this"),
        "affine_tol": Param(2.0, "resolution units", "near-copy: after the best scale-and-offset map, every slot within this"),
        "near_days": Param(True, "", "also look for near-copies between different days of the same station"),
        "station_side": Param(True, "", "decide which side of a match is the copy from every parameter the copy took "
                              "(pooled edge jumps), not from this parameter alone; False: this parameter alone"),
    },
    parameters=FORENSIC_PARAMETERS,
)
def copied_sequences(series: Series, ctx: Context, *, min_distinct: int, min_present: float, rho_min: float,
                     affine_tol: float, near_days: bool, station_side: bool = True) -> list[Finding]:
    """Days whose profile repeats another day of the station or a neighbour's day (catalogue FOR-06).

    Each Beijing calendar day with ≥ ``min_present`` of its slots reported and ≥ ``min_distinct``
    distinct values is a vector (24 values for hourly data). **Exact copies**: the vectors in
    resolution units, gaps included (a copy keeps its source's gaps), are hashed; a day equal to
    another day of the station (``repeated_day``) or to any day of a neighbour
    (``copied_from_station``) is a finding. **Near-copies** (a copy rescaled, offset or
    re-rounded; complete days only): z-normalised distance d = √(2·m·(1−ρ)) with ρ ≥ ``rho_min`` *and*, after the
    least-squares scale-and-offset map, every slot within ``affine_tol`` resolution units — for the
    same day at each neighbour (``near_copy_of_station``) and, with ``near_days``, between days of
    the station (``near_repeated_day``). On Hebei 2019 genuine neighbours a few km apart reach
    ρ ≈ 0.999 on smooth O3 days, but then differ by ≥ 3.7 units somewhere after the best affine map;
    no two days of one station reach ρ 0.998. A shared plume spike can push a genuine ρ to 0.9997,
    which the affine gate rejects. No matrix-profile library is needed: days are the natural
    subsequence of hourly data, and hashing plus one matrix product per neighbour is exact and fast.
    Exact copies between stations are looked up in ``ctx.network`` (every station of the scan; one
    key index per network and parameter, built once) — a day may be copied from any station of
    the province, not only a neighbour: of the injector's copies from another station 1 in 40
    came from a neighbour, so with neighbours alone FOR-06 found 13 of 20 ``copied`` days on Hebei
    2019. Without a network (streaming) the neighbours are the pool. Near-copies are sought among
    the neighbours only (a correlation per day pair; the network would cost D² per station).
    **Which side is the copy.** A match pairs the copy with its original, and both would be
    flagged. Each match goes through XV-04's edge test (:func:`_copy_side`): the day and the
    matched day are each laid out with ``_SIDE_CONTEXT_DAYS`` days around them, and the level
    change across each midnight edge (median of ``_SIDE_EDGE_HOURS`` hours inside against as many
    outside, mean per edge seen) is compared. A copied day jumps onto foreign data at its edges;
    the original flows into its own adjacent hours. When the *matched* day jumps ≥
    ``_SIDE_MIN_RATIO`` × this day's jump and ≥ ``_SIDE_MIN_SCALES`` of its typical block change,
    this day is the original and the match is dropped (a day without matches left is no finding);
    otherwise — this day jumps, or the edges cannot tell — the match is kept. The test is the
    data's, not the calendar's: a day copied into the past (a gap back-filled with a later day)
    is told apart as well as one copied forward. On the simulated water set this raised FOR-06's
    ``copied`` precision from 0.59 to 0.83 (seed 2019) with recall unchanged (docs/qc-benchmark-log.md).
    **Every copied parameter together** (``station_side``, default on; :func:`_station_side`): a
    copy replaces the station's whole record over the day, so the edge test is pooled over every
    parameter whose two days are equal (within half a resolution step) —
    :func:`~tianlan.qc.fraud.copy_side.pooled_copy_side` — and decides when it can; one parameter
    alone often cannot (two stations of one river at one level). The edge two adjacent days of one
    station share is left out (the same pair of hours seen from both days). The pooled test calls
    this day the original only while its own edges look like any hour of its series (a day copied
    from a day that was itself a copy keeps its finding). Undecided, the parameter's own test
    stands. Evidence: the match's ``copy_side.station`` (both pooled jumps, the codes used).
    Finding: SUSPECT over the day, score 1 for an exact copy, 0.8 → 1 as ρ goes from ``rho_min``
    to 1 for a near-copy; evidence: the match(es), ρ, distance, affine map and both vectors, each
    match's ``copy_side`` (``copier``: ``this station`` | ``undetermined``, both edge jumps and
    block changes), the lead match's ``copier`` and ``matches_dropped_as_original``.
    """
    res = resolution(series.values)
    unit = res if res > 0 else 1e-6
    days, mat = day_matrix(series)
    ok, full = _informative(mat, unit, min_distinct, min_present)
    if not ok.any():
        return []
    q = _quantised(mat, unit)
    z = _znorm(np.where(np.isfinite(mat), mat, 0.0))
    m_slots = mat.shape[1]
    matches: dict[int, list[dict[str, Any]]] = {}

    def near(x: np.ndarray, y: np.ndarray, r: float) -> dict[str, Any] | None:
        a, b, worst = affine_residual(x, y)
        if worst > affine_tol * unit:
            return None
        return {"rho": round(r, 6), "z_distance": round(math.sqrt(max(0.0, 2 * m_slots * (1 - r))), 4),
                "scale": round(a, 4), "offset": round(b, 4), "max_residual": round(worst, 4)}

    keys = _row_keys(q)
    idx_ok = np.flatnonzero(ok)
    uk, inv, cnt = np.unique(keys[idx_ok], return_inverse=True, return_counts=True)
    for g in np.flatnonzero(cnt > 1):
        grp = idx_ok[inv == g]
        for i in grp:
            for j in grp:
                if j != i and np.array_equal(q[i], q[j]):
                    matches.setdefault(int(i), []).append({"kind": "repeated_day", "station": series.station,
                                                           "day": _day_label(days[j]), "rho": 1.0,
                                                           "_other": ((days, mat), int(days[j]))})
    nbs = _neighbour_series(series, ctx)
    # exact copies: against every station of the network when the scan provides one (a day may be
    # copied from any station, not only a neighbour), else against the neighbours
    pool: Mapping[str, Mapping[str, Series]] = ctx.network or {st: {series.parameter: ns} for st, ns in nbs.items()}
    step = int(series.step_s)
    if pool is ctx.network:
        per, net_keys, net_owner, net_row = _network_days(pool, series.parameter, unit, step, min_distinct, min_present)
    else:
        per = {st: _Days(sr, unit, min_distinct, min_present) for st, by in pool.items()
               if (sr := by.get(series.parameter)) is not None and len(sr) and int(sr.step_s) == step}
        net_keys = net_owner = net_row = np.empty(0, np.int64)
        parts = [(k, np.flatnonzero(d.ok)) for k, d in enumerate(per.values())]
        if parts:
            net_keys = np.concatenate([list(per.values())[k].keys[ix] for k, ix in parts])
            net_owner = np.concatenate([np.full(ix.size, k, np.int64) for k, ix in parts])
            net_row = np.concatenate([ix for _, ix in parts])
            order = np.argsort(net_keys, kind="stable")
            net_keys, net_owner, net_row = net_keys[order], net_owner[order], net_row[order]
    names = list(pool) if pool is ctx.network else list(per)
    exact_by: dict[str, set[int]] = {}
    if net_keys.size:
        lo = np.searchsorted(net_keys, keys[idx_ok], "left")
        hi = np.searchsorted(net_keys, keys[idx_ok], "right")
        for i, a, b in zip(idx_ok[hi > lo], lo[hi > lo], hi[hi > lo], strict=True):
            seen: set[str] = set()
            for k in range(int(a), int(b)):
                st = names[int(net_owner[k])]
                if st == series.station or st in seen:
                    continue
                src = per[st]
                j = int(net_row[k])
                if np.array_equal(q[i], src.q[j]):
                    seen.add(st)
                    exact_by.setdefault(st, set()).add(int(i))
                    matches.setdefault(int(i), []).append({
                        "kind": "copied_from_station", "station": st, "day": _day_label(src.days[j]), "rho": 1.0,
                        "neighbour": st in nbs, "distance_km": ctx.distances_km.get(st),
                        "neighbour_values": src.mat[j].tolist(), "_other": ((src.days, src.mat), int(src.days[j]))})
    # near-copies (rescaled, offset, re-rounded): the same day at each neighbour
    for st, ns in nbs.items():
        if int(ns.step_s) != step:
            continue
        d = per.get(st) or _Days(ns, unit, min_distinct, min_present)
        ndays, nmat, nfull = d.days, d.mat, d.full
        exact = exact_by.get(st, set())
        _, ia, ib = np.intersect1d(days, ndays, return_indices=True)
        sel = full[ia] & nfull[ib]
        ia, ib = ia[sel], ib[sel]
        if ia.size == 0:
            continue
        rho = np.sum(z[ia] * _znorm(np.where(np.isfinite(nmat[ib]), nmat[ib], 0.0)), axis=1) / m_slots
        for i, j, r in zip(ia, ib, rho, strict=True):
            if r >= rho_min and int(i) not in exact:
                hit = near(nmat[j], mat[i], float(r))
                if hit is not None:
                    matches.setdefault(int(i), []).append({"kind": "near_copy_of_station", "station": st,
                                                           "day": _day_label(ndays[j]), **hit, "neighbour": True,
                                                           "distance_km": ctx.distances_km.get(st),
                                                           "neighbour_values": nmat[j].tolist(),
                                                           "_other": ((ndays, nmat), int(ndays[j]))})
    if near_days:
        idx = np.flatnonzero(full)
        if idx.size > 1:
            zz = z[idx]
            r = zz @ zz.T / m_slots
            np.fill_diagonal(r, -1.0)
            for a, b in zip(*np.nonzero(r >= rho_min), strict=True):
                i, j = int(idx[a]), int(idx[b])
                if q[i].tobytes() == q[j].tobytes():
                    continue
                hit = near(mat[j], mat[i], float(r[a, b]))
                if hit is not None:
                    matches.setdefault(i, []).append({"kind": "near_repeated_day", "station": series.station,
                                                      "day": _day_label(days[j]), **hit,
                                                      "_other": ((days, mat), int(days[j]))})

    out: list[Finding] = []
    local_day = (series.times + BEIJING_OFFSET_S) // 86400
    for i, all_ms in sorted(matches.items()):
        # both sides of a copy match: keep the match only where this day is not the original
        # (the matched day jumps at its edges while this one flows on); undetermined is kept
        ms = []
        for m in all_ms:
            other, other_day = m.pop("_other")
            side = _copy_side((days, mat), int(days[i]), other, other_day, step)
            if station_side:
                pooled = _station_side(series, ctx, int(days[i]), m["station"], other_day, step)
                side["station"] = pooled
                if pooled["side"] != 0:  # every copied parameter together decides; else this one alone
                    side["side"] = int(pooled["side"])
                    side["copier"] = "this station" if pooled["side"] > 0 else "matched"
            if side["side"] >= 0:
                ms.append({**m, "copy_side": side})
        if not ms:
            continue
        s, e = int(np.searchsorted(local_day, days[i], "left")), int(np.searchsorted(local_day, days[i], "right"))
        ms.sort(key=lambda m: (_KIND_ORDER[m["kind"]], -m["rho"]))
        lead = ms[0]
        score = 1.0 if lead["kind"] in ("copied_from_station", "repeated_day") else \
            round(0.8 + 0.2 * max(0.0, lead["rho"] - rho_min) / max(1e-12, 1 - rho_min), 4)
        out.append(Finding(s, e, Status.SUSPECT, lead["kind"], score, {
            "day": _day_label(days[i]), "values": mat[i].tolist(), "resolution": res, "matches": ms[:10],
            "copier": lead["copy_side"]["copier"], "matches_dropped_as_original": len(all_ms) - len(ms),
            "thresholds": {"rho_min": rho_min, "affine_tol": affine_tol, "min_distinct": min_distinct},
        }))
    return out
