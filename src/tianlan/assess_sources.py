"""Store-side assessment of enterprise gas outlets and water sections, one Beijing month at a time.

- ``outlet_hour`` / ``outlet_month`` (HJ 75/76, the outlet's limits from the registry): hourly
  means from minute data with the validity rule, O2-converted, judged against the limits in the
  site's ``attrs`` (``{"limits": {code: mg/m3}, "o2_ref": %, "standard": …}``); hours the device
  flags make invalid (and, once enterprises can mark data, their marks) are excluded and each
  exclusion is recorded with its reason.
- ``water_sample`` / ``water_month`` (GB 3838-2002): the class of every sample (hour data, else
  minute data) and of the month's means, with target compliance and class-III exceedances.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from sqlalchemy import Engine

from tianlan.assess.emissions import OutletLimits, hourly_means, judge_exceedances
from tianlan.assess.water import classify_period, classify_sample, resolve_parameter
from tianlan.errors import InputError
from tianlan.store.assess_repo import AssessmentRow, device_series, outlets, water_sections

O2 = "a19001"
HOUR = 3600


def _f(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def assess_outlets(engine: Engine, m0: int, m1: int) -> list[AssessmentRow]:
    rows: list[AssessmentRow] = []
    for out in outlets(engine):
        try:
            limits = OutletLimits.from_attrs(out.attrs)
        except InputError:
            continue  # an outlet without limits in the registry cannot be judged
        df = device_series(engine, out.device_ids, m0, m1)
        if df.height == 0:
            continue
        minute = df.filter(pl.col("kind") == "min")
        src = minute if minute.height else df.filter(pl.col("kind") == "hour")
        hours = np.arange(m0, m1, HOUR, dtype=np.int64)
        conc: dict[str, np.ndarray] = {}
        flags: dict[str, np.ndarray] = {}
        valid_minutes: dict[str, np.ndarray] = {}
        for code in (*limits.limits, O2):
            s = src.filter(pl.col("parameter") == code).unique("time_utc", keep="first").sort("time_utc")
            if s.height == 0:
                continue
            t = s["time_utc"].to_numpy()
            if minute.height:
                step = int(np.median(np.diff(t))) if len(t) > 1 else 60
                hv = hourly_means(t, s["value"].fill_null(float("nan")).to_numpy(), s["flag"].fill_null("").to_numpy(),
                                  interval_s=max(60, step), start_utc=m0, end_utc=m1)
                conc[code], flags[code], valid_minutes[code] = hv.mean, np.asarray(hv.flag, dtype=object), hv.n_valid
            else:
                idx = (t - m0) // HOUR
                v = np.full(len(hours), np.nan)
                f = np.full(len(hours), "", dtype=object)
                v[idx] = s["value"].fill_null(float("nan")).to_numpy()
                f[idx] = s["flag"].fill_null("").to_numpy()
                conc[code], flags[code] = v, f
        o2 = conc.pop(O2, None)
        if not conc:
            continue
        rep = judge_exceedances(hours, conc, limits, o2=o2 if o2 is not None else np.full(len(hours), np.nan),
                                flags=flags)
        exceed_at: dict[int, list[str]] = {}
        for e in rep.exceedances:
            exceed_at.setdefault(e.hour_start_utc, []).append(e.pollutant)
        for i, h in enumerate(hours):
            measured = {p: _f(v[i]) for p, v in conc.items()}
            if all(v is None for v in measured.values()) and not any(str(f[i]) for f in flags.values()):
                continue  # no data at all this hour (an hour with only flagged data is kept, with its flags)
            converted = {p: _f(np.asarray(v)[i]) for p, v in rep.converted.items()}
            rows.append(AssessmentRow(
                "outlet_hour", out.code, int(h), limits.standard or "HJ 75-2017", None,
                None, ",".join(exceed_at.get(int(h), [])) or None,  # primary_pollutants: those exceeding
                {"measured": measured, "converted": converted, "o2": _f(o2[i]) if o2 is not None else None,
                 "o2_ref": limits.o2_ref, "limits": dict(limits.limits), "flags": {p: str(f[i]) for p, f in flags.items()}},
                {p: int(v[i]) for p, v in valid_minutes.items()}))
        rows.append(AssessmentRow(
            "outlet_month", out.code, m0, limits.standard or "HJ 75-2017", None, None,
            ",".join(sorted({e.pollutant for e in rep.exceedances})) or None,
            {"exceedances": [{"pollutant": e.pollutant, "hour_utc": e.hour_start_utc, "value": _f(e.value),
                              "limit": e.limit, "multiple": _f(e.multiple)} for e in rep.exceedances],
             "exclusions": [{"pollutant": x.pollutant, "start_utc": x.start_utc, "end_utc": x.end_utc, "hours": x.hours,
                             "source": x.source, "reason": x.reason, "detail": x.detail} for x in rep.exclusions],
             "o2_ref": limits.o2_ref, "limits": dict(limits.limits)},
            {"hours": rep.hours, "judged": dict(rep.judged)}))
    return rows


def _gb3838_item(code: str) -> bool:
    try:
        resolve_parameter(code)
    except InputError:
        return False
    return True


def assess_water(engine: Engine, m0: int, m1: int, day: dt.date) -> list[AssessmentRow]:
    rows: list[AssessmentRow] = []
    for sec in water_sections(engine):
        df = device_series(engine, sec.device_ids, m0, m1, kinds=("hour", "min"))
        if df.height == 0:
            continue
        hour = df.filter(pl.col("kind") == "hour")
        src = hour if hour.height else df
        src = src.filter(pl.col("flag").fill_null("N") == "N")  # only normal data are assessed (HJ 212 flags)
        waterbody = "lake" if sec.section_type == "lake" else "river"
        samples = []
        for (t,), g in src.group_by(["time_utc"], maintain_order=True):
            values = {k: v for k, v in zip(g["parameter"].to_list(), g["value"].to_list(), strict=True)
                      if _gb3838_item(k)}  # turbidity, conductivity… are measured but not graded
            try:
                sc = classify_sample(values, waterbody=waterbody, target_class=sec.target_class, on=day)
            except InputError:
                continue
            samples.append(values)
            rows.append(AssessmentRow(
                "water_sample", sec.code, int(t), sc.standard, None, sc.label, ",".join(sc.worst) or None,
                {"class": sc.label, "meets_target": sc.meets_target,
                 "exceedances": [{"parameter": e.parameter, "multiple": e.multiple} for e in sc.exceedances]},
                {"parameters": len(sc.parameters)}))
        if samples:
            pc = classify_period(samples, waterbody=waterbody, target_class=sec.target_class, on=day)
            rows.append(AssessmentRow(
                "water_month", sec.code, m0, pc.standard, None, pc.label, ",".join(pc.worst) or None,
                {"class": pc.label, "meets_target": pc.meets_target, "target_class": sec.target_class,
                 "exceedances": [{"parameter": e.parameter, "multiple": e.multiple} for e in pc.exceedances]},
                {"samples": pc.n_samples}))
    return rows
