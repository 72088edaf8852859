"""SPA-01 notice: a gas episode below the neighbours in which the total oxidant Ox = O3 + NO2 is
conserved (SPA-01, ``ox_weight``).

NO emitted next to a station (a road, a boiler) titrates ozone, ``NO + O3 → NO2 + O2``: one O3
molecule becomes one NO2 molecule, so the station's O3 reads below its neighbours' while its
**Ox = O3 + NO2** (in ppb, molecule for molecule) stays where the neighbours' is. The mirror case is
a station with *less* local NO than its neighbours, or reached first by a cleaner air mass: its NO2
reads below the neighbours' and its O3 above, Ox again unchanged. Both are chemistry of the air the
station samples. A falsified reading does not do that: an O3 or NO2 value lowered by a changed
slope, a spray, a clip or a held value does not raise the other gas, so the station's Ox falls with
it — the rule does not apply.

**Units.** The Hebei release reports gases in µg/m³ at the 25 °C, 1013.25 hPa reference state
(MEE announcement 2018 No. 29, in force since 1 September 2018; before it, 0 °C): ppb = µg/m³ ×
24.45 / M with M = 48 (O3) and 46 (NO2) g/mol — :data:`MOLAR_VOLUME_25C`. The reference state
cancels in everything the rule compares (the station's and the neighbours' Ox are converted with
the same molar volume, and the rule compares their ratio); only the molar masses matter, and they
differ by 4 %.

**The test.** Hour by hour, ``r_ox = ln(Ox + c) − median_k ln(Ox_k + c)`` over the neighbours that
report both gases (``c`` = :data:`OX_OFFSET_PPB`). The station's usual Ox offset from its neighbours
is the median of ``r_ox`` over the :data:`BASELINE_DAYS` before the episode (the past only, so a
batch scan and the live stream agree), its scale 1.4826·MAD there (floored at :data:`MIN_SCALE`).
Ox is conserved when the episode's median ``r_ox`` over its deviating hours lies no more than
``ox_z`` scales — and never more than :data:`MAX_LN` — below the usual offset. Without
:data:`MIN_BASELINE_HOURS` of baseline, without the station's other gas, or with fewer than
``min_neighbours`` neighbours reporting both gases, the rule does not apply (the finding keeps its
weight).

Measured on the clean Hebei 2019 release (docs/qc-benchmark-log.md, "SPA-01: clean background"): over all
station-hours ``r_ox`` lies within −0.15 … +0.13 (5–95 %); the O3 episodes the titration-share rule
drops have Ox at 0.79–1.17 of the neighbours'; the six level-2 O3 episodes left have Ox at
0.26–0.77 of the neighbours' (4–39 scales below the usual offset) — not titration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tianlan.qc.checks._common import aligned, nanmedian_rows
from tianlan.qc.core import Context, Series

O3_CODE, NO2_CODE = "a05024", "a21004"
#: Molar masses (g/mol) of the two gases whose sum is the total oxidant.
MOLAR_MASS: dict[str, float] = {O3_CODE: 48.0, NO2_CODE: 46.0}
#: Molar volume (L/mol) at the release's reference state, 25 °C and 1013.25 hPa.
MOLAR_VOLUME_25C = 24.45
#: Offset of the Ox log ratio, ppb (about the analysers' zero drift, HJ 654-2013: ±5 ppb).
OX_OFFSET_PPB = 5.0
#: Days before the episode whose Ox residuals give the station's usual Ox offset.
BASELINE_DAYS = 30
#: Hours of Ox residual the baseline needs (a week).
MIN_BASELINE_HOURS = 168
#: Floor of the robust scale of the Ox residual, ln units.
MIN_SCALE = 0.03
#: Ox never counts as conserved more than this far (ln units, ×0.78) below its usual offset.
MAX_LN = 0.25

#: Score factor of a gas episode below the neighbours with Ox conserved.
OX_WEIGHT = 0.5
#: Robust scales of the Ox residual the episode's Ox may lie below the usual offset.
OX_Z = 3.0


def ppb(values: np.ndarray, code: str) -> np.ndarray:
    """µg/m³ at 25 °C → ppb (nmol/mol) for O3 or NO2."""
    return values * MOLAR_VOLUME_25C / MOLAR_MASS[code]


def _ox(by_code: Mapping[str, Series], times: np.ndarray) -> np.ndarray | None:
    if O3_CODE not in by_code or NO2_CODE not in by_code:
        return None
    return ppb(aligned(times, by_code[O3_CODE]), O3_CODE) + ppb(aligned(times, by_code[NO2_CODE]), NO2_CODE)


def ox_residual(series: Series, ctx: Context, ids: Sequence[str], min_neighbours: int) -> dict[str, np.ndarray] | None:
    """Hourly Ox of the station and of the median neighbour (ppb) and the log residual ``r`` on
    ``series.times``, over the neighbours ``ids`` that report both gases; None without the station's
    O3 and NO2 or with fewer than ``min_neighbours`` such neighbours."""
    t = series.times
    own = _ox(ctx.series, t)
    if own is None:
        return None
    nbs = [x for x in (_ox(ctx.neighbours.get(st, {}), t) for st in ids) if x is not None]
    if len(nbs) < max(1, min_neighbours):
        return None
    c = OX_OFFSET_PPB
    with np.errstate(invalid="ignore"):
        logs = np.log(np.where(np.vstack(nbs) > -c, np.vstack(nbs), np.nan) + c)
        count = np.isfinite(logs).sum(axis=0)
        med = np.full(t.shape, np.nan)
        enough = count >= max(1, min_neighbours)
        med[enough] = nanmedian_rows(logs[:, enough].T)
        r = np.log(np.where(own > -c, own, np.nan) + c) - med
    return {"r": r, "own": own, "neighbours": np.exp(med) - c}


def ox_factor(series: Series, ctx: Context, res: dict[str, Any], s: int, e: int, mask: np.ndarray, *,
              min_neighbours: int, weight: float, z: float, ev: dict[str, Any]) -> float:
    """Score factor of the SPA-01 episode below the neighbours over the ``mask`` hours of [s, e) of
    an O3 or NO2 series: ``weight`` when the station's Ox is conserved (module docstring), else 1.
    The Ox figures go into ``ev`` (``ox_ratio``, ``ox_departure_ln``, ``ox_scale_ln``) and, when the
    rule applies, ``notice: spa01_ox_conserved``."""
    if weight >= 1 or series.parameter not in MOLAR_MASS:
        return 1.0
    ox = ox_residual(series, ctx, res["ids"], min_neighbours)
    if ox is None:
        return 1.0
    r = ox["r"]
    step = max(int(series.step_s), 1)
    past = r[max(0, s - int(BASELINE_DAYS * 86400 / step)):s]
    past = past[np.isfinite(past)]
    seg = r[s:e][mask[s:e]]
    seg = seg[np.isfinite(seg)]
    if past.size < MIN_BASELINE_HOURS * 3600 / step or seg.size < max(1, int(mask[s:e].sum()) // 2):
        return 1.0
    base = float(np.median(past))
    scale = max(1.4826 * float(np.median(np.abs(past - base))), MIN_SCALE)
    dev = float(np.median(seg)) - base
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (ox["own"] / ox["neighbours"])[s:e][mask[s:e]]
    ratio = ratio[np.isfinite(ratio)]
    ev.update({"ox_ratio": round(float(np.median(ratio)), 3) if ratio.size else None,
               "ox_departure_ln": round(dev, 4), "ox_scale_ln": round(scale, 4)})
    if dev < -min(z * scale, MAX_LN):
        return 1.0
    ev["notice"] = "spa01_ox_conserved"
    return float(weight)
