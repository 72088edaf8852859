"""Innocent missingness: hours lost at random, independent of what the air or the water held.

The control for the selective-missingness detector (FOR-05, catalogue 4(10)) and for every test
that reacts to gaps: a power cut timed to pollution must alarm, an ordinary outage must not. Real
stations lose scattered single hours (a transmission fault, a late frame) and outages of hours to
days (power, maintenance, a broken analyser); neither looks at the value being lost.

:func:`random_outages` deletes, per station, each hour with probability ``single`` and then
outages of U{2…48} h at uniform random starts until ``outage`` of the station's hours are in one
(outages may overlap, so slightly less may be deleted). Every value column of the hour goes (the
logger or its power failed, not one analyser). Used by ``benchmarks/detection.py`` (the "random
outages" control row) and ``tests/qc/test_fraud_forensic_missing_random.py``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

#: Columns that are keys or platform marks, never deleted.
KEYS = ("station", "time_utc", "mark")


def random_outages(frame: pl.DataFrame, seed: int, single: float = 0.03, outage: float = 0.05,
                   max_hours: int = 48) -> pl.DataFrame:
    """``frame`` (wide: station, time_utc, one numeric column per parameter[, mark]; one row per
    station-hour) with hours missing at random: each with probability ``single``, plus outages of
    2…``max_hours`` hours at uniform random starts until ``outage`` of each station's hours are
    covered. Chosen without looking at any value; reproducible from ``seed``. Rows stay (the grid
    is kept); the deleted values become null."""
    if not 0 <= single < 1 or not 0 <= outage < 1:
        raise ValueError(f"single and outage must be shares in [0, 1): got {single}, {outage}")
    rng = np.random.default_rng(seed)
    f = frame.sort("station", "time_utc")
    st = f["station"].to_numpy()
    drop = np.zeros(f.height, dtype=bool)
    for s in np.unique(st):
        idx = np.flatnonzero(st == s)
        m = rng.random(idx.size) < single
        got = 0
        while idx.size > max_hours and got < outage * idx.size:
            n = int(rng.integers(2, max_hours + 1))
            t0 = int(rng.integers(0, idx.size - n))
            m[t0:t0 + n] = True
            got += n
        drop[idx] = m
    keep = pl.Series(~drop)
    cols = [c for c, d in f.schema.items() if c not in KEYS and d.is_numeric()]
    return f.with_columns([pl.when(keep).then(pl.col(c)).otherwise(None).alias(c) for c in cols])
