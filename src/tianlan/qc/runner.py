"""The batch runner: every applicable detector on every series of every station.

:func:`run_batch` walks stations in code order and, for each of a station's series, calls the
detectors the configuration applies there (:meth:`QcConfig.detectors_for`) with the series and the
station's :class:`~tianlan.qc.core.Context`. Findings become :class:`~tianlan.qc.core.QcResult`\\ s
with the detector version and the configuration hash; the runner adds the parameters used to each
result's evidence (``evidence["params"]``).

A detector that raises, or returns something that is not a list of findings over the series, does
not stop the scan: it yields one ``NOT_EVALUATED`` result over the whole series with reason
``DETECTOR_ERROR`` and the error text in ``evidence["error"]``.

Seasons: when entries scoped by ``months`` give a detector different parameters in different
months, the detector runs once per parameter set over the whole series (so runs that cross a month
boundary are seen whole) and each run keeps the parts of its findings that fall in its own months
(Beijing time).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tianlan.model.timeutil import BEIJING_OFFSET_S
from tianlan.qc.config import Plan, QcConfig, SiteScope, default_config
from tianlan.qc.core import Context, DetectorSpec, Finding, QcResult, Series, Status, to_results

log = logging.getLogger(__name__)

def single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """BLAS (OpenBLAS under NumPy) limited to one thread while detectors run, when ``threadpoolctl``
    is installed (otherwise nothing changes).

    Detectors multiply small matrices (FOR-06: days × 24 hours, a few hundred rows), where
    OpenBLAS's threads cost far more than they save: measured on the 2-core development machine
    under load, one 340 × 24 · 24 × 340 product took 28 ms with the default two threads and 0.55 ms
    with one. Parallelism belongs to ``workers`` (one process per station)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: the scan is correct either way, only slower on small matrices
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


#: progress(done, total, station): called after each station (done = stations finished so far).
ProgressFn = Callable[[int, int, str], None]
DETECTOR_ERROR = "DETECTOR_ERROR"


def beijing_months(times: np.ndarray) -> np.ndarray:
    """Calendar month (1–12) in Beijing time of UTC epoch seconds."""
    m = (np.asarray(times, dtype=np.int64) + BEIJING_OFFSET_S).astype("datetime64[s]").astype("datetime64[M]")
    return m.astype(np.int64) % 12 + 1


def _error_result(spec: DetectorSpec, series: Series, config_hash: str, err: BaseException | str,
                  params: Mapping[str, Any]) -> QcResult:
    text = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    ev: dict[str, Any] = {"error": text, "params": dict(params)}
    if isinstance(err, BaseException):
        ev["traceback"] = "".join(traceback.format_exception(type(err), err, err.__traceback__, limit=-3))[-2000:]
    t = series.times
    start = int(t[0]) if len(t) else 0
    end = int(t[-1]) + series.step_s if len(t) else 0
    return QcResult(spec.id, spec.version, config_hash, series.station, series.parameter, start, end,
                    Status.NOT_EVALUATED, DETECTOR_ERROR, 0.0, ev, spec.family)


def _clip_to_months(findings: Sequence[Finding], months_of: np.ndarray, months: frozenset[int]) -> list[Finding]:
    """The parts of findings whose values fall in ``months`` (split where the months change)."""
    inside = np.isin(months_of, list(months))
    out = []
    for f in findings:
        seg = inside[f.start:f.end]
        if seg.all():
            out.append(f)
            continue
        if not seg.any():
            continue
        edges = np.flatnonzero(np.diff(np.concatenate(([0], seg.view(np.int8), [0]))))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            out.append(Finding(f.start + int(a), f.start + int(b), f.status, f.reason, f.score,
                               {**f.evidence, "clipped_to_months": sorted(months)}))
    return out


def run_detector(spec: DetectorSpec, series: Series, ctx: Context, plan: Plan, config_hash: str, *,
                 months_of: np.ndarray | None = None, timings: dict[str, float] | None = None) -> list[QcResult]:
    """Run one detector on one series under its plan; never raises for the detector's faults.

    ``timings``: when given, the seconds spent in the detector are added under its ID.
    """
    out: list[QcResult] = []
    for item in plan:
        params = item.params
        t0 = time.perf_counter() if timings is not None else 0.0
        try:
            findings = spec.func(series, ctx, **params)
        except Exception as e:  # a detector fault must not stop the scan (DESIGN: nothing silently lost)
            log.warning("detector %s failed on %s/%s: %s", spec.id, series.station, series.parameter, e)
            out.append(_error_result(spec, series, config_hash, e, params))
            continue
        finally:
            if timings is not None:
                timings[spec.id] = timings.get(spec.id, 0.0) + time.perf_counter() - t0
        if not findings:
            continue
        try:
            findings = list(findings)
            if item.months is not None:
                if months_of is None:
                    months_of = beijing_months(series.times)
                findings = _clip_to_months(findings, months_of, item.months)
            results = to_results(spec, series, findings, config_hash)
        except Exception as e:  # findings out of range, or not findings at all
            out.append(_error_result(spec, series, config_hash, e, params))
            continue
        for r in results:
            r.evidence.setdefault("params", params)
        out.extend(results)
    return out


def run_station(series: Mapping[str, Series], ctx: Context, config: QcConfig, *,
                timings: dict[str, float] | None = None) -> list[QcResult]:
    """Every applicable detector on every series of one station."""
    site = SiteScope.of(ctx)
    h = config.hash
    out: list[QcResult] = []
    try:
        for code, s in series.items():
            if len(s) == 0:
                continue
            months_of = None
            for spec, plan in config.detectors_for(site, code):
                if months_of is None and any(p.months is not None for p in plan):
                    months_of = beijing_months(s.times)
                out.extend(run_detector(spec, s, ctx, plan, h, months_of=months_of, timings=timings))
    finally:
        ctx.cache.clear()  # derived arrays shared by this station's detectors (Context.cache)
    return out


def run_batch(series_by_station: Mapping[str, Mapping[str, Series]], contexts: Mapping[str, Context] | None = None,
              config: QcConfig | None = None, *, progress: ProgressFn | None = None,
              stations: Sequence[str] | None = None, timings: dict[str, float] | None = None,
              workers: int = 1) -> list[QcResult]:
    """QC results of every applicable detector on every series (stations in code order).

    ``series_by_station``: station → HJ 212 code → series; ``contexts``: station → context (one is
    made from the station's series when missing; a context without series gets the station's);
    ``config``: the effective configuration (default: :func:`~tianlan.qc.config.default_config`);
    ``stations``: only these; ``timings``: filled with the seconds spent per detector ID;
    ``workers``: stations are checked in that many forked processes (POSIX; 1 = in this process).
    The results are the same, in the same order, whatever ``workers`` is. Results are not stored
    here (see ``tianlan.store.qc_repo``).
    """
    cfg = config if config is not None else default_config()
    contexts = dict(contexts or {})
    todo = sorted(stations if stations is not None else series_by_station)
    for code in todo:
        series = series_by_station.get(code, {})
        ctx = contexts.get(code)
        if ctx is None:
            contexts[code] = Context(code, series=series)
        elif not ctx.series and series:
            ctx.series = series
    cfg.hash  # noqa: B018 - computed once here, not in every worker
    with single_threaded_blas():
        if workers > 1 and len(todo) > 1 and "fork" in mp.get_all_start_methods():
            return _run_forked(series_by_station, contexts, cfg, todo, progress, timings, workers)
        out: list[QcResult] = []
        for n, code in enumerate(todo, 1):
            out.extend(run_station(series_by_station.get(code, {}), contexts[code], cfg, timings=timings))
            if progress is not None:
                progress(n, len(todo), code)
        return out


# Set in the parent just before forking; the children read it (copy-on-write, nothing pickled in).
_FORK_STATE: tuple[Mapping[str, Mapping[str, Series]], Mapping[str, Context], QcConfig] | None = None


def _station_in_child(code: str) -> tuple[str, list[QcResult], dict[str, float]]:
    assert _FORK_STATE is not None
    series, contexts, cfg = _FORK_STATE
    spent: dict[str, float] = {}
    with single_threaded_blas():
        return code, run_station(series.get(code, {}), contexts[code], cfg, timings=spent), spent


def _run_forked(series: Mapping[str, Mapping[str, Series]], contexts: Mapping[str, Context], cfg: QcConfig,
                todo: list[str], progress: ProgressFn | None, timings: dict[str, float] | None,
                workers: int) -> list[QcResult]:
    global _FORK_STATE
    _FORK_STATE = (series, contexts, cfg)
    by_station: dict[str, list[QcResult]] = {}
    try:
        with mp.get_context("fork").Pool(min(workers, len(todo))) as pool:
            for n, (code, results, spent) in enumerate(pool.imap_unordered(_station_in_child, todo), 1):
                by_station[code] = results
                if timings is not None:
                    for k, v in spent.items():
                        timings[k] = timings.get(k, 0.0) + v
                if progress is not None:
                    progress(n, len(todo), code)
    finally:
        _FORK_STATE = None
    return [r for code in todo for r in by_station[code]]
