"""TMP-03's ``calm_air`` rule (issue 4, ``flat`` scenario and the clean background): a run whose
neighbours' median stayed within two reporting steps of the held value, and moved by no more than
two steps over it, is SUSPECT, not FAIL — the air around held too, to the analyser's resolution. On the synthetic city network of
``test_fraud_spatial``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from tianlan.qc.checks.flat import _calm_air, _neighbour_median
from tianlan.qc.core import Context, Finding, Series, Status, get

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_fraud_spatial import contexts_of, synthetic_network, with_values  # noqa: E402

K = 24 * 30 + 5  # an hour in the second month: a full 30-day reference before it
HOURS = 24


def run(series: Series, ctx: Context, **kw: object) -> list[Finding]:
    spec = get("TMP-03")
    return spec.func(series, ctx, **spec.resolve(kw))


def low_co_network(seed: int = 4) -> dict[str, dict[str, Series]]:
    """The synthetic city with its CO at clean-air levels (0.2–0.8 mg/m³ in 0.1 mg/m³ steps)."""
    series = synthetic_network(seed=seed)
    for st in series:
        series = with_values(series, st, "a21005", np.round(series[st]["a21005"].values * 0.4, 1))
    return series


def held_in(series: dict[str, dict[str, Series]], spread: float) -> tuple[dict[str, dict[str, Series]], float]:
    """S3 holds its CO for ``HOURS`` hours from ``K``; every other station reads the held value
    ± ``spread`` (in 0.1 mg/m³ steps, a different phase each), so the neighbours move every hour."""
    held = float(series["S3"]["a21005"].values[K - 1])
    held = max(held, 0.1 * (spread + 2))  # keep the neighbours' values above zero
    h = np.arange(HOURS)
    for i, st in enumerate(sorted(series)):
        v = series[st]["a21005"].values.copy()
        v[K:K + HOURS] = held if st == "S3" else np.round(held + 0.1 * spread * np.sin(2 * np.pi * (h + 3 * i) / 6), 1)
        series = with_values(series, st, "a21005", v)
    return series, held


def test_calm_air_band_and_coverage() -> None:
    med = np.array([0.5, 0.6, 0.7, 0.6, np.nan, 0.5, 0.6, 0.9, 0.4])
    c = _calm_air(med, 0, 7, 0.6, 0.1)  # within 0.4–0.8 at every known hour, 0.5–0.7: two steps of movement
    assert c["calm"] and c["band"] == [0.4, 0.8] and c["hours_known"] == 6
    assert not _calm_air(med, 0, 8, 0.6, 0.1)["calm"]  # 0.9: three steps away
    assert not _calm_air(med, 0, 9, 0.5, 0.1)["calm"]  # 0.4…0.9 … and the air moved by five steps
    assert not _calm_air(np.array([0.4, 0.5, 0.6, 0.7]), 0, 4, 0.5, 0.1)["calm"]  # within 2 steps of 0.5, moved 3
    assert not _calm_air(np.array([0.6, np.nan, np.nan, np.nan]), 0, 4, 0.6, 0.1)["calm"]  # under half known


def test_neighbour_median_needs_min_count() -> None:
    series = low_co_network()
    ctx = contexts_of(series)["S3"]
    s = series["S3"]["a21005"]
    one = _neighbour_median(s, ctx, s.values.size, 30.0)
    assert one is not None and np.isfinite(one).all()
    assert np.isnan(_neighbour_median(s, ctx, s.values.size, 30.0, min_count=5)).all()  # only 4 neighbours


def test_a_value_held_in_calm_air_is_suspect_not_fail() -> None:
    """The neighbours move every hour but stay within ±1 step of S3's held value: the hourly context
    says S3 should have moved (improbable, FAIL without the rule), but the neighbours' median moved
    by no more than two steps: the air gave it nothing to
    follow beyond one analyser's quantisation — SUSPECT, with the neighbours' range as evidence."""
    series, held = held_in(low_co_network(), spread=1)
    ctx = contexts_of(series)["S3"]
    s = series["S3"]["a21005"]
    (off,) = run(s, ctx, calm_air=False)
    assert off.status == Status.FAIL and off.start <= K and off.end >= K + HOURS
    (f,) = run(s, ctx)
    assert (f.status, f.start, f.end) == (Status.SUSPECT, off.start, off.end)
    calm = f.evidence["calm_air"]
    assert calm["calm"] and calm["band"][0] <= calm["neighbours_min"] <= calm["neighbours_max"] <= calm["band"][1]


def test_a_value_held_while_the_air_moves_beyond_two_steps_still_fails() -> None:
    """The same with the neighbours swinging ±4 steps (and in ``test_spray_flat_context``, 0.3–0.6
    around a held 0.4: three steps of movement): FAIL."""
    series, held = held_in(low_co_network(), spread=4)
    ctx = contexts_of(series)["S3"]
    (f,) = run(series["S3"]["a21005"], ctx)
    assert f.status == Status.FAIL and not f.evidence["calm_air"]["calm"]
    assert f.evidence["calm_air"]["neighbours_max"] - held > 0.2 + 1e-9
