"""FOR-01/02/05/06: each fires on an injected case, and stays quiet on clean real data.

The real-data tests use the Hebei 2019 extract (53 stations × January–June, hourly) with the
neighbours a station would get in production (up to 6 stations within 50 km) and assert the
false-finding ceilings per station-month that the module documents.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tianlan.errors import InputError
from tianlan.qc.core import REGISTRY, Context, Series, Status, get, load_all
from tianlan.qc.fraud import forensic
from tianlan.qc.fraud.forensic import bunching, cutoffs, digit_counts, neighbour_step, resolution

HEBEI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cnemc-hebei-2019"
PARAMS = ("PM2.5", "PM10", "SO2", "NO2", "O3", "CO")
LIMITS = {"PM2.5": 75.0, "PM10": 150.0, "SO2": 500.0, "NO2": 200.0, "O3": 200.0, "CO": 10.0}  # GB 3095 grade II
T0 = 1546300800 - 8 * 3600  # 2019-01-01 00:00 Beijing time (UTC s)


def run(did: str, series: Series, ctx: Context, **params: object) -> list:
    spec = get(did)
    return spec.func(series, ctx, **spec.resolve(params))


# --------------------------------------------------------------------------------------------- synthetic

def synthetic_network(n_st: int = 5, days: int = 120, seed: int = 0) -> dict[str, Series]:
    """Hourly PM2.5-like series (µg/m³ integers) of ``n_st`` stations sharing a regional signal."""
    rng = np.random.default_rng(seed)
    n = days * 24
    t = T0 + 3600 * np.arange(n, dtype=np.int64)
    reg = np.zeros(n)
    for i in range(1, n):
        reg[i] = 0.97 * reg[i - 1] + rng.normal(0, 0.15)
    diurnal = 0.2 * np.sin(2 * np.pi * (np.arange(n) % 24) / 24)
    out = {}
    for k in range(n_st):
        loc = np.zeros(n)
        for i in range(1, n):
            loc[i] = 0.8 * loc[i - 1] + rng.normal(0, 0.1)
        v = np.round(np.exp(3.8 + reg + diurnal + loc))
        out[f"S{k}"] = Series(f"S{k}", "PM2.5", t, v)
    return out


def ctx_of(net: dict[str, Series], st: str, limits: dict[str, float] | None = None) -> Context:
    return Context(station=st, series={"PM2.5": net[st]}, neighbours={k: {"PM2.5": s} for k, s in net.items() if k != st},
                   limits=limits or {"PM2.5": 75.0})


def test_registered_with_metadata() -> None:
    load_all()
    for did in ("FOR-01", "FOR-02", "FOR-05", "FOR-06"):
        spec = REGISTRY[did]
        assert spec.family == "for" and spec.targets and spec.doc
        assert all(p.doc for p in spec.params.values())
    with pytest.raises(InputError, match="min_ratio"):
        get("FOR-02").resolve({"min_ratio": 2})


def test_cutoffs_and_resolution() -> None:
    cs = dict(cutoffs("PM2.5", {"PM2.5": 75.0}))
    assert set(cs) == {35.0, 75.0, 115.0, 150.0, 250.0, 350.0}
    assert cs[75.0].startswith("limit; IAQI 100")
    assert dict(cutoffs("a21005", {}))[10.0].startswith("IAQI 100")  # CO 1 h, HJ 212 code
    assert cutoffs("w01018", {"w01018": 50.0}) == [(50.0, "limit")]
    assert resolution(np.array([1.0, 2.0, np.nan])) == 1.0
    assert resolution(np.array([0.3, 1.2])) == 0.1
    assert resolution(np.array([0.1234567])) == 0.0


def test_bunching_statistic() -> None:
    v = np.repeat(np.arange(50.0, 101.0), 10)  # flat density: ratio 1
    st = bunching(v, 75.0, res=1.0, width_frac=0.08, min_width=2)
    assert (st["count_further_below"], st["count_below"], st["count_above"]) == (60, 60, 60)
    assert st["ratio"] == 1.0 and st["p_value"] > 0.4
    clipped = np.where(v > 75, 75 - (v % 5), v)  # everything above parked just under
    st = bunching(clipped, 75.0, res=1.0, width_frac=0.08, min_width=2)
    assert st["ratio"] > 5 and st["p_value"] < 1e-12


def test_for01_fires_on_clipping_and_not_on_clean() -> None:
    net = synthetic_network(seed=1)
    s = net["S0"]
    assert run("FOR-01", s, ctx_of(net, "S0")) == []
    rng = np.random.default_rng(1)
    v = s.values.copy()
    w0 = int(np.argmax(np.convolve(v > 75, np.ones(7 * 24), "valid")[::24])) * 24
    days = slice(w0, w0 + 7 * 24)  # the week with most values above the limit, parked 0–3 µg/m³ under it
    seg = v[days]
    over = seg > 75
    assert over.sum() > 20
    seg[over] = 75 - rng.integers(0, 4, over.sum())
    fs = run("FOR-01", Series("S0", "PM2.5", s.times, v), ctx_of(net, "S0"))
    assert len(fs) == 1
    f = fs[0]
    assert f.status is Status.SUSPECT and f.reason == "bunching_below_cutoff" and 0.8 <= f.score <= 1.0
    ev = f.evidence
    assert ev["cutoff"] == 75.0 and ev["cutoff_kind"].startswith("limit") and ev["count_below"] > 3 * ev["expected_below"]
    assert ev["neighbour_step"] >= 0.05 and ev["neighbours"] == ["S1", "S2", "S3", "S4"] and len(ev["placebo"]) == 2
    assert f.start <= w0 + 24 and f.end >= w0 + 6 * 24  # the finding covers the clipped week
    # without neighbours the bin test decides alone
    alone = run("FOR-01", Series("S0", "PM2.5", s.times, v), Context(station="S0", limits={"PM2.5": 75.0}))
    assert [g.evidence["cutoff"] for g in alone] == [75.0] and "neighbour_step" not in alone[0].evidence


def test_neighbour_step_separates_parked_from_shared_levels() -> None:
    rng = np.random.default_rng(8)
    truth = np.exp(rng.normal(4.2, 0.3, 2000))  # around 67 µg/m³, often above 75
    station = np.round(truth * np.exp(rng.normal(0, 0.1, truth.size)))
    neighbours = truth * np.exp(rng.normal(0, 0.1, truth.size))
    d, n_b, n_ref = neighbour_step(station, neighbours, 75.0, 6.0)
    assert abs(d) < 0.05 and n_b > 100 and n_ref > 100  # a station that tracks its neighbours
    parked = np.where(station > 75, 75 - rng.integers(0, 4, station.size), station)
    d, _, _ = neighbour_step(parked, neighbours, 75.0, 6.0)
    assert d > 0.1  # parked values stop while the neighbours go on


def test_for02_fires_on_heaping_only_in_the_edited_month() -> None:
    net = synthetic_network(seed=2)
    s = net["S1"]
    assert run("FOR-02", s, ctx_of(net, "S1")) == []
    v = s.values.copy()
    feb = slice(31 * 24, 59 * 24)
    rng = np.random.default_rng(2)
    seg = v[feb]
    pick = rng.random(seg.size) < 0.4
    seg[pick] = np.round(seg[pick] / 5) * 5  # hand-typed values: heaping on 0 and 5
    fs = run("FOR-02", Series("S1", "PM2.5", s.times, v), ctx_of(net, "S1"))
    assert [f.evidence["month"] for f in fs] == ["2019-02"]
    ev = fs[0].evidence
    assert ev["excess_digit"] in (0, 5) and ev["mad_vs_own"] >= 0.025 and ev["mad_vs_neighbours"] >= 0.025
    assert fs[0].reason == "digit_pattern_change" and 0.8 <= fs[0].score <= 1.0


def test_digit_expectation_removes_density_slope() -> None:
    # a steep but smooth density (values mostly 20–40) has a skewed last digit; the smoothed
    # expectation follows it, so only a digit preference shows as a difference
    rng = np.random.default_rng(3)
    v = np.round(rng.lognormal(2.8, 0.5, 40000))
    obs, exp = digit_counts(v, 1.0)
    p, q = obs / obs.sum(), exp / exp.sum()
    assert abs(p[0] - p[9]) > 0.05  # the raw digits are far from uniform …
    assert np.mean(np.abs(p - q)) < 0.003  # … but match their smooth expectation
    pick = rng.random(v.size) < 0.2
    v[pick] = np.round(v[pick] / 5) * 5
    obs, exp = digit_counts(v, 1.0)
    h = obs / obs.sum() - exp / exp.sum()
    assert h[0] > 0.02 and h[5] > 0.02 and np.mean(np.abs(h)) > 0.025


def test_for05_fires_when_gaps_follow_neighbour_highs() -> None:
    net = synthetic_network(seed=4)
    s = net["S2"]
    assert run("FOR-05", s, ctx_of(net, "S2")) == []
    others = np.nanmedian(np.vstack([net[k].values for k in net if k != "S2"]), axis=0)
    rng = np.random.default_rng(4)
    v = s.values.copy()
    mar = slice(59 * 24, 90 * 24)
    hi = others[mar] > np.quantile(others[mar], 0.8)
    seg = v[mar]
    seg[hi & (rng.random(seg.size) < 0.7)] = np.nan
    keep = np.isfinite(v) | (rng.random(v.size) < 0.5)  # half the missing hours are absent rows, not NaN
    ser = Series("S2", "PM2.5", s.times[keep], v[keep])
    fs = run("FOR-05", ser, ctx_of(net, "S2"))
    assert [f.evidence["month"] for f in fs] == ["2019-03"]
    ev = fs[0].evidence
    assert ev["p_value"] < 0.01 and ev["risk_ratio"] >= 3 and ev["gaps_touching_high"] >= 3
    assert ev["p_missing_high"] > 2 * ev["p_missing_low"] and ev["local_days"] == 7
    assert fs[0].reason == "selective_missingness" and ev["first_missing_high_hours"]
    # the finding covers the March rows of the series it was given
    lo, hi_i = fs[0].start, fs[0].end
    assert ser.times[lo] >= T0 + 59 * 86400 and ser.times[hi_i - 1] < T0 + 90 * 86400


def test_for05_one_long_outage_in_an_episode_is_not_selection() -> None:
    net = synthetic_network(seed=5)
    s = net["S3"]
    others = np.nanmedian(np.vstack([net[k].values for k in net if k != "S3"]), axis=0)
    jan = others[: 31 * 24]
    top = int(np.argmax(np.convolve(jan, np.ones(48), "valid")))  # the worst two days of January
    v = s.values.copy()
    v[top:top + 48] = np.nan
    assert run("FOR-05", Series("S3", "PM2.5", s.times, v), ctx_of(net, "S3")) == []


def test_for06_copied_day_and_repeated_day() -> None:
    net = synthetic_network(seed=6)
    a, b = net["S0"], net["S1"]
    v = a.values.copy()
    d_copy, d_rep, d_scaled = 40, 70, 100
    v[d_copy * 24:(d_copy + 1) * 24] = b.values[d_copy * 24:(d_copy + 1) * 24]  # a day copied from another station
    v[d_rep * 24:(d_rep + 1) * 24] = v[(d_rep - 7) * 24:(d_rep - 6) * 24]  # a day repeated from last week
    v[d_scaled * 24:(d_scaled + 1) * 24] = np.round(0.9 * b.values[d_scaled * 24:(d_scaled + 1) * 24])  # rescaled copy
    d_gaps = 110  # a copy of a neighbour day with 3 hours missing at the source: the gaps come along
    src = b.values.copy()
    src[d_gaps * 24 + np.array([2, 3, 17])] = np.nan
    b = Series("S1", "PM2.5", b.times, src)
    net = {**net, "S1": b}
    v[d_gaps * 24:(d_gaps + 1) * 24] = src[d_gaps * 24:(d_gaps + 1) * 24]
    assert run("FOR-06", a, ctx_of(net, "S0")) == []
    fs = run("FOR-06", Series("S0", "PM2.5", a.times, v), ctx_of(net, "S0"))
    by_day = {f.evidence["day"]: f for f in fs}
    copy = by_day["2019-02-10"]
    assert copy.reason == "copied_from_station" and copy.score == 1.0
    assert copy.evidence["matches"][0]["station"] == "S1" and (copy.start, copy.end) == (d_copy * 24, d_copy * 24 + 24)
    assert by_day["2019-03-12"].reason == "repeated_day" and by_day["2019-03-05"].reason == "repeated_day"
    near = by_day["2019-04-11"]
    assert near.reason == "near_copy_of_station" and abs(near.evidence["matches"][0]["scale"] - 0.9) < 0.02
    assert by_day["2019-04-21"].reason == "copied_from_station"
    assert set(by_day) == {"2019-02-10", "2019-03-12", "2019-03-05", "2019-04-11", "2019-04-21"}


def test_for06_finds_copies_from_any_station_of_the_network() -> None:
    """A day copied from a station that is not a neighbour: found through Context.network (the
    batch scan's stations), missed with neighbours alone (the injector's ``copied`` scenario copies
    from any station of the province)."""
    net = synthetic_network(n_st=6, seed=9)
    far = net["S5"]
    v = net["S0"].values.copy()
    d = 50
    v[d * 24:(d + 1) * 24] = far.values[d * 24:(d + 1) * 24]
    s0 = Series("S0", "PM2.5", net["S0"].times, v)
    near = {k: {"PM2.5": net[k]} for k in ("S1", "S2")}
    network = {k: {"PM2.5": (s0 if k == "S0" else s)} for k, s in net.items()}
    alone = Context(station="S0", series={"PM2.5": s0}, neighbours=near, limits={"PM2.5": 75.0})
    assert run("FOR-06", s0, alone) == []
    ctx = Context(station="S0", series={"PM2.5": s0}, neighbours=near, limits={"PM2.5": 75.0}, network=network)
    (f,) = run("FOR-06", s0, ctx)
    assert f.reason == "copied_from_station" and (f.start, f.end) == (d * 24, d * 24 + 24) and f.score == 1.0
    m = f.evidence["matches"][0]
    assert m["station"] == "S5" and m["neighbour"] is False and m["neighbour_values"] == far.values[d * 24:(d + 1) * 24].tolist()
    # the index is built once per network and parameter: a second station's call reuses it
    assert run("FOR-06", net["S1"], Context(station="S1", network=network)) == []
    assert sum(1 for k in forensic._NETWORK_CACHE if k[0] == id(network)) == 1


def test_for06_flat_days_are_left_to_tmp03() -> None:
    t = T0 + 3600 * np.arange(24 * 10, dtype=np.int64)
    v = np.full(t.size, 0.4)  # CO at 0.4 mg/m3 all day, every day
    assert run("FOR-06", Series("X", "CO", t, v), Context(station="X")) == []


# --------------------------------------------------------------------------------------------- real data

@pytest.fixture(scope="module")
def hebei() -> tuple[dict[str, dict[str, Series]], dict[str, list[str]]]:
    if not HEBEI.is_dir():
        pytest.skip(f"real data absent: {HEBEI} (the shared data checkout is not mounted)")
    df = pl.concat([pl.read_csv(p, infer_schema_length=0) for p in sorted(HEBEI.glob("2019-*.csv.gz"))])
    ts = pl.col("date").str.strptime(pl.Datetime("ms"), "%Y%m%d").dt.epoch("s") + pl.col("hour").cast(pl.Int64) * 3600 - 8 * 3600
    df = df.with_columns(ts.alias("t"), *[pl.col(p).cast(pl.Float64, strict=False) for p in PARAMS]).sort(["station", "t"])
    data: dict[str, dict[str, Series]] = {}
    for (st,), g in df.group_by(["station"], maintain_order=True):
        t = g["t"].to_numpy()
        data[str(st)] = {p: Series(str(st), p, t, g[p].to_numpy()) for p in PARAMS}
    # neighbours as production picks them (tianlan.qc.inputs): other non-control stations of the same
    # city within 15 km, topped up to 3 with the nearest within 50 km
    sts = pl.read_csv(HEBEI / "stations.csv").filter(pl.col("lat").is_not_null())
    codes, city, ctrl = sts["code"].to_list(), sts["city"].to_list(), sts["control_site"].to_list()
    la, lo = np.radians(sts["lat"].to_numpy()), np.radians(sts["lon"].to_numpy())
    km = 2 * 6371.0 * np.arcsin(np.sqrt(np.sin((la[:, None] - la) / 2) ** 2
                                         + np.cos(la[:, None]) * np.cos(la) * np.sin((lo[:, None] - lo) / 2) ** 2))
    nbr: dict[str, list[str]] = {}
    for i, c in enumerate(codes):
        cands = [j for j in np.argsort(km[i], kind="stable") if j != i and ctrl[j] != "Y" and codes[j] in data]
        chosen = [j for j in cands if km[i, j] <= 15 and city[j] == city[i]]
        chosen += [j for j in cands if j not in chosen and km[i, j] <= 50][:max(0, 3 - len(chosen))]
        nbr[c] = [codes[j] for j in chosen]
    return data, nbr


def real_ctx(data: dict[str, dict[str, Series]], nbr: dict[str, list[str]], st: str) -> Context:
    return Context(station=st, series=data[st], neighbours={n: data[n] for n in nbr.get(st, [])}, limits=LIMITS)


def station_months(data: dict[str, dict[str, Series]]) -> int:
    return sum(len(list(forensic._months(by["PM2.5"].times))) for by in data.values())


#: Documented ceilings: findings per station-month (all six pollutants together) on clean Hebei
#: 2019 data with default parameters. Measured: FOR-01 0.048 (15 of 313: 11 with the bin and
#: truncated-tail tests, 0.035, plus 4 from the paired tail test of round 3 — two of them at
#: stations, 1042A and 1070A, where the bin test already finds PM2.5 bunched under 75 µg/m³ for
#: weeks; 0.013 with the bin test alone), FOR-02 0, FOR-05 0.0064 (2), FOR-06 0. Every finding of
#: these detectors is a level-2 alarm under the default policy, and the issue's budget is 1 level-2
#: alarm per station-month for all detectors together.
CEILINGS = {"FOR-01": 0.05, "FOR-02": 0.01, "FOR-05": 0.02, "FOR-06": 0.01}


def test_clean_real_data_false_finding_rates(hebei) -> None:
    data, nbr = hebei
    sm = station_months(data)
    assert sm >= 300
    rates = {}
    for did in CEILINGS:
        spec = get(did)
        prm = spec.defaults()
        n = 0
        for st in data:
            ctx = real_ctx(data, nbr, st)
            for p in PARAMS:
                n += len(spec.func(data[st][p], ctx, **prm))
        rates[did] = n / sm
    assert all(rates[d] <= CEILINGS[d] for d in CEILINGS), rates
    assert sum(rates.values()) <= 0.06, rates


def test_real_data_injected_recall(hebei) -> None:
    data, nbr = hebei
    rng = np.random.default_rng(2019)
    stations = [s for s in sorted(data) if len(nbr[s]) >= 2][:24]
    jan = (T0, T0 + 31 * 86400)
    hits = {"FOR-01": [], "FOR-02": [], "FOR-05": [], "FOR-06": []}
    for st in stations:
        ctx = real_ctx(data, nbr, st)
        s = data[st]["PM2.5"]
        i0, i1 = np.searchsorted(s.times, jan)
        # FOR-01: every January value above the limit parked 0–3 µg/m³ under it
        v = s.values.copy()
        seg = v[i0:i1]
        over = np.isfinite(seg) & (seg > 75)
        seg[over] = 75 - rng.integers(0, 4, over.sum())
        hits["FOR-01"].append(any(f.start < i1 and f.end > i0 and f.evidence["cutoff"] == 75.0
                                  for f in run("FOR-01", Series(st, "PM2.5", s.times, v), ctx)))
        # FOR-02: 40 % of January values typed in rounded to 0/5
        v = s.values.copy()
        seg = v[i0:i1]
        pick = np.isfinite(seg) & (rng.random(seg.size) < 0.4)
        seg[pick] = np.round(seg[pick] / 5) * 5
        hits["FOR-02"].append(any(f.evidence["month"] == "2019-01" for f in run("FOR-02", Series(st, "PM2.5", s.times, v), ctx)))
        # FOR-05: 80 % of January hours in the station's top 15 % deleted
        v = s.values.copy()
        seg = v[i0:i1]
        top = np.isfinite(seg) & (seg > np.nanquantile(seg, 0.85)) & (rng.random(seg.size) < 0.8)
        seg[top] = np.nan
        hits["FOR-05"].append(any(f.evidence["month"] == "2019-01" for f in run("FOR-05", Series(st, "PM2.5", s.times, v), ctx)))
        # FOR-06: a complete neighbour day copied in
        src = data[nbr[st][0]]["PM2.5"]
        days, mat = forensic.day_matrix(src)
        complete = np.isfinite(mat).all(axis=1)
        full = np.flatnonzero(complete & (np.std(np.where(complete[:, None], mat, 0.0), axis=1) > 3))
        d = int(days[full[len(full) // 2]])
        day_t = d * 86400 - 8 * 3600 + 3600 * np.arange(24)
        v = s.values.copy()
        pos = np.searchsorted(s.times, day_t)
        if np.array_equal(s.times[np.minimum(pos, s.times.size - 1)], day_t):
            v[pos] = mat[full[len(full) // 2]]
            fs = run("FOR-06", Series(st, "PM2.5", s.times, v), ctx)
            hits["FOR-06"].append(any(f.reason == "copied_from_station" and f.start == pos[0] for f in fs))
    recall = {k: float(np.mean(h)) for k, h in hits.items()}
    assert recall["FOR-01"] >= 0.9 and recall["FOR-02"] >= 0.9 and recall["FOR-06"] >= 0.95, recall
    assert recall["FOR-05"] >= 0.8, recall


# --------------------------------------------------------------------------------------------- flue gas, no neighbours

def _outlet(days: int = 61, seed: int = 7):  # noqa: ANN202 - (frame, contexts) of simulated outlets
    from tianlan.sim.cems_series import cems_frame

    frame, _ = cems_frame(12, days=days, seed=seed)
    return frame


def _ctx(frame: pl.DataFrame, st: str) -> Context:
    part = frame.filter(pl.col("station") == st).sort("time_utc")
    t = part["time_utc"].to_numpy()
    ser = {c: Series(st, c, t, part[c].cast(pl.Float64).fill_null(np.nan).to_numpy())
           for c in ("a21026", "a21002", "a34013", "a19001")}
    return Context(st, series=ser, limits={"a21026": 35.0, "a21002": 50.0, "a34013": 10.0},
                   attrs={"o2_ref": 6.0, "kind": "source"})


def test_for01_flue_gas_is_judged_converted_and_by_its_missing_tail() -> None:
    """CEMS clipping parks the O2-converted SO2 under 35 mg/m³: the measured values bunch nowhere,
    the converted ones do, and the window loses the values above the limit the outlet's other days
    have. Clean outlets stay quiet."""
    from tianlan.sim.fraud import random_injections

    frame = _outlet()
    clean = [f for st in sorted(frame["station"].unique()) for f in run("FOR-01", _ctx(frame, st).series["a21026"],
                                                                         _ctx(frame, st))]
    assert clean == []
    dirty, truths = random_injections(frame, ["clipping"], 8, 5)
    found = 0
    for g in truths:
        ctx = _ctx(dirty, g.station)
        s = ctx.series["a21026"]
        fs = run("FOR-01", s, ctx)
        hit = [f for f in fs if s.times[f.start] < g.end_utc and s.times[f.end - 1] >= g.start_utc]
        found += bool(hit)
        for f in hit:
            assert f.evidence["o2_converted"] is True and f.evidence["cutoff"] == 35.0 and f.score >= 0.8
        # measured values compared as they are: the parked values are spread by O2, nothing to see
        assert not [f for f in run("FOR-01", s, ctx, o2_conversion=False, tail_ratio=0)
                    if s.times[f.start] < g.end_utc and s.times[f.end - 1] >= g.start_utc]
    assert found >= 6, found


def test_truncated_tail_statistic() -> None:
    rng = np.random.default_rng(3)
    v = np.exp(rng.normal(np.log(30), 0.2, 5000))
    n_b, n_u = forensic.tail_counts(v, 35.0, 2.8)
    w = v[:240].copy()
    st = forensic.truncated_tail(w, 35.0, 2.8, (n_b, n_u))
    assert st["p_value"] > 0.01 and 0.5 < st["shortfall"] < 2.0  # an ordinary window
    w[w > 33.0] = 33.0 + rng.uniform(0, 2, int((w > 33.0).sum()))  # parked under the limit
    st = forensic.truncated_tail(w, 35.0, 2.8, (n_b, n_u))
    assert st["count_above"] == 0 and st["p_value"] < 1e-6 and st["shortfall"] > 10


def test_for05_own_level_without_neighbours() -> None:
    """An outlet has no neighbours: gaps that took the high hours leave a window without its top;
    gaps at random hours leave the distribution alone."""
    frame = _outlet(days=61, seed=9)
    st = sorted(frame["station"].unique())[3]
    ctx = _ctx(frame, st)
    s = ctx.series["a21026"]
    assert run("FOR-05", s, ctx) == []
    rng = np.random.default_rng(2)
    win = slice(20 * 24, 34 * 24)
    v = s.values.copy()
    seg = v[win]
    seg[seg >= np.quantile(seg, 0.7)] = np.nan  # the top 30 % of two weeks removed
    fs = run("FOR-05", Series(st, "a21026", s.times, v), ctx)
    assert [f.reason for f in fs] == ["selective_missingness_own_level"]
    ev = fs[0].evidence
    assert ev["present_above"] < ev["expected_above"] / 2 and ev["p_value"] < 0.01 and fs[0].score >= 0.8
    assert s.times[fs[0].start] < s.times[win.stop] and s.times[fs[0].end - 1] >= s.times[win.start]
    # the same number of gaps at random hours: nothing
    r = s.values.copy()
    drop = rng.choice(np.arange(win.start, win.stop), int(np.isnan(v).sum()), replace=False)
    r[drop] = np.nan
    assert run("FOR-05", Series(st, "a21026", s.times, r), ctx) == []
    # switched off: the neighbour test alone, which needs neighbours
    assert run("FOR-05", Series(st, "a21026", s.times, v), ctx, own_level="never") == []
    with pytest.raises(InputError):
        run("FOR-05", s, ctx, own_level="sometimes")


def test_for05_water_stations_are_also_tested_on_their_own_level() -> None:
    """``own_level: auto``: a water station is tested against its own record even with neighbours
    (they see the river hours later); an air station with neighbours is not."""
    frame = _outlet(days=61, seed=9)
    sts = sorted(frame["station"].unique())
    base = _ctx(frame, sts[3])
    s = base.series["a21026"]
    v = s.values.copy()
    seg = v[20 * 24:34 * 24]
    seg[seg >= np.quantile(seg, 0.7)] = np.nan
    gappy = Series(sts[3], "a21026", s.times, v)
    nbrs = {st: {"a21026": _ctx(frame, st).series["a21026"]} for st in sts[4:7]}
    for kind, expect in (("water", ["selective_missingness_own_level"]), ("air", [])):
        ctx = Context(sts[3], series={"a21026": gappy}, neighbours=nbrs, limits=base.limits, attrs={"kind": kind})
        assert [f.reason for f in run("FOR-05", gappy, ctx) if f.reason.endswith("own_level")] == expect, kind
