"""``tianlan qc …``: QC scans of files or the store, and the detector list.

Mounted by the main CLI under a ``qc`` sub-app through :func:`register`::

    tianlan qc scan --input F.csv --stations S.csv [--config C.yaml] --output A.csv
    tianlan qc scan [--from … --to …] [--data-dir … | --database-url …] [--output A.csv]
    tianlan qc detectors [--format table|json]

Reading and writing only; the work is :mod:`tianlan.qc.inputs` (series and contexts),
:mod:`tianlan.qc.runner` (detectors) and :func:`tianlan.alarms.episodes.build_episodes` (alarms).
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tianlan.cli_common import DatabaseUrl, DataDir, console, err_console, open_engine, settings_for, user_errors
from tianlan.errors import InputError
from tianlan.model.timeutil import parse_user_time, utc_to_beijing_iso
from tianlan.qc.config import QcConfig, load_config, parameter_label
from tianlan.qc.core import QcResult

__all__ = ["ALARM_COLUMNS", "SCAN_HELP", "alarms_from", "register", "write_alarms"]

ALARM_COLUMNS = ("station", "parameter", "start", "end", "detector", "level", "score", "reason")
DEFAULT_WINDOW_S = 7 * 86400

SCAN_HELP = """质控扫描 / QC scan of files or of the store; writes one row per alarm.

\b
文件 / files: --input F.csv --stations S.csv [--config C.yaml] --output A.csv
  F.csv  wide  station,time,SO2,NO2,CO,O3,PM10,PM2.5 [,<P>_flag]   (µg/m3, CO mg/m3; empty = missing)
         long  station,time,parameter,value[,flag]   (parameter: HJ 212 code or SO2 … PM2.5)
         time: ISO 8601, Beijing time unless zoned; the START of the period (HJ 212 DataTime);
               --hour-label end for files labelled by the end of the hour (CNEMC: 08:00 = 07:00–08:00)
  S.csv  code,city,lon,lat[,control_site]   (WGS-84; control_site Y = background site)
库 / store (no --input): observations of every registered site in [--from, --to) (default: the
  last 7 days), results written to qc_results (--no-store: not written) and their alarms raised in
  the alarm service — extending open ones, notified like live QC's (--no-alarms: not raised).
\b
输出 / output A.csv: station,parameter,start,end,detector,level,score,reason — one row per alarm
  (level 1–4), start/end the alarm's [start, end) in Beijing time, ISO 8601 with +08:00.
配置 / --config C.yaml: detectors, parameters and scopes (docs/qc.md); default: every registered
  detector with its defaults.
"""


# --- alarms --------------------------------------------------------------------------------------


def alarms_from(results: Sequence[QcResult], cfg: QcConfig | None = None) -> list[Any]:
    """Alarm episodes of results (:func:`tianlan.alarms.episodes.build_episodes`) under the policy of
    the configuration's ``alarms:`` section (the default policy without one)."""
    from tianlan.alarms.episodes import build_episodes
    from tianlan.alarms.policy import policy_for

    return list(build_episodes(results, policy=policy_for(cfg)))


def _score(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".") if math.isfinite(x) else ""


def alarm_row(ep: Any, labels: dict[str, str] | None = None) -> dict[str, str]:
    """One A.csv row; the parameter as the input named it (``PM2.5`` for a wide file)."""
    p = str(ep.parameter)
    label = (labels or {}).get(p) or (parameter_label(p) if labels is None else p)
    return {"station": ep.station, "parameter": label, "start": utc_to_beijing_iso(ep.start_utc),
            "end": utc_to_beijing_iso(ep.end_utc), "detector": ep.detector, "level": str(int(ep.level)),
            "score": _score(float(ep.score)), "reason": ep.reason}


def write_alarms(episodes: Sequence[Any], path: Path, labels: dict[str, str] | None = None) -> int:
    """Write A.csv (UTF-8, header ``station,parameter,start,end,detector,level,score,reason``)."""
    try:
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(ALARM_COLUMNS), lineterminator="\n")
            w.writeheader()
            for ep in episodes:
                w.writerow(alarm_row(ep, labels))
    except OSError as e:
        raise InputError("--output", f"无法写入 / cannot write: {e}", where=str(path)) from None
    return len(episodes)


# --- progress ------------------------------------------------------------------------------------


@contextmanager
def _progress(what: str) -> Iterator[Callable[[int, int, str], None]]:
    """A rich progress bar on stderr (only on a terminal) fed by the runner's callback."""
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[st]}"),
                   TimeElapsedColumn(), console=err_console, transient=True, disable=not err_console.is_terminal)
    with bar:
        task = bar.add_task(what, total=None, st="")

        def step(done: int, total: int, station: str) -> None:
            bar.update(task, completed=done, total=total, st=station)

        yield step


def _show(episodes: Sequence[Any], labels: dict[str, str] | None, limit: int = 50) -> None:
    t = Table(*ALARM_COLUMNS, title="告警 / alarms")
    for ep in episodes[:limit]:
        r = alarm_row(ep, labels)
        t.add_row(*(r[c] for c in ALARM_COLUMNS))
    console.print(t)
    if len(episodes) > limit:
        console.print(f"… 另有 {len(episodes) - limit} 条 / {len(episodes) - limit} more (use --output)")


def _summary(cfg: QcConfig, n_stations: int, n_series: int, n_values: int, results: Sequence[QcResult],
             episodes: Sequence[Any], seconds: float, output: Path | None) -> None:
    bad = sum(1 for r in results if int(r.status) == 2 and r.reason == "DETECTOR_ERROR")
    where = f" → {output}" if output else ""
    console.print(f"质控完成 / scanned {n_stations} stations · {n_series} series · {n_values:,} values · "
                  f"{len(cfg.detector_ids)} detectors · {len(results):,} results · {len(episodes)} alarms{where} "
                  f"({seconds:.1f} s, config {cfg.hash})")
    if bad:
        console.print(f"[yellow]注意 / note:[/] {bad} detector call(s) failed and were recorded as not evaluated "
                      "(reason DETECTOR_ERROR)")


# --- commands ------------------------------------------------------------------------------------


@user_errors
def scan(
    input: Annotated[Path | None, typer.Option("--input", help="观测文件 / observations F.csv (wide or long)")] = None,
    stations: Annotated[Path | None, typer.Option("--stations", help="站点文件 / stations S.csv (with --input)")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="质控配置 / QC configuration C.yaml")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="告警文件 / alarms A.csv")] = None,
    hour_label: Annotated[str, typer.Option("--hour-label", help="start | end: what a file's time labels")] = "start",
    start: Annotated[str | None, typer.Option("--from", help="库扫描起始 / store: from (ISO 8601, Beijing time)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="库扫描截止（不含）/ store: to, exclusive")] = None,
    min_level: Annotated[int, typer.Option("--min-level", help="只输出该级别及以上 / only alarms of this level or higher")] = 1,
    store_results: Annotated[bool, typer.Option("--store/--no-store", help="库扫描写入 qc_results / write results")] = True,
    raise_alarms: Annotated[bool, typer.Option("--alarms/--no-alarms", help="库扫描在告警服务中登记告警 / store scans: "
                                               "raise the alarms in the store (notified like live QC's)")] = True,
    workers: Annotated[int, typer.Option("--workers", help="并行进程数 / worker processes (0 = one per CPU, at most 8)")] = 0,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    if hour_label not in ("start", "end"):
        raise InputError("--hour-label", f"应为 start 或 end / must be start or end, got {hour_label!r}")
    if not 1 <= min_level <= 4:
        raise InputError("--min-level", f"应为 1–4 / must be 1..4, got {min_level}")
    if workers < 0:
        raise InputError("--workers", f"应为非负整数 / must be ≥ 0, got {workers}")
    n_workers = workers or min(8, os.cpu_count() or 1)
    t0 = time.perf_counter()
    cfg = load_config(config)
    if input is not None:
        if stations is None:
            raise InputError("--stations", "使用 --input 时必须给出站点文件 / required with --input (S.csv)")
        for opt, v in (("--from", start), ("--to", end), ("--data-dir", data_dir), ("--database-url", database_url)):
            if v is not None:
                raise InputError(opt, "只用于库扫描 / only for scans of the store (without --input)")
        from tianlan.qc.inputs import load_files

        ds = load_files(input, stations, hour_label=hour_label)  # type: ignore[arg-type]
        labels: dict[str, str] | None = ds.labels
    else:
        if stations is not None:
            raise InputError("--stations", "只用于文件扫描 / only with --input")
        from tianlan.qc.inputs import load_store

        b = parse_user_time(end, field="--to") if end else int(time.time()) // 3600 * 3600 + 3600
        a = parse_user_time(start, field="--from") if start else b - DEFAULT_WINDOW_S
        if a >= b:
            raise InputError("--from", f"须早于 --to / must be before --to ({start} ≥ {end})")
        engine = open_engine(settings_for(data_dir, database_url))
        ds = load_store(engine, a, b)
        engine.dispose()  # no open connections across the fork of the worker processes
        if end is None:  # the window ends now: detectors of stale data may judge the last values' age
            for ctx in ds.contexts.values():
                ctx.attrs = {**ctx.attrs, "now_utc": time.time()}
        labels = None
    from tianlan.qc.runner import run_batch

    with _progress("质控 / QC") as step:
        results = run_batch(ds.series, ds.contexts, cfg, progress=step, workers=n_workers)
    if input is None and store_results:
        from tianlan.store.qc_repo import QcRepo

        QcRepo(engine).replace(results, config_hash=cfg.hash, stations=list(ds.series), start_utc=ds.start_utc,
                               end_utc=ds.end_utc)
    episodes = [e for e in alarms_from(results, cfg) if int(e.level) >= min_level]
    if input is None and store_results and raise_alarms:
        from tianlan.alarms.policy import policy_for
        from tianlan.alarms.service import AlarmService

        service = AlarmService.from_settings(engine, settings_for(data_dir, database_url), policy=policy_for(cfg))
        rep = service.raise_results(results)
        console.print(f"告警服务 / alarm service: {len(rep.raised)} raised · {len(rep.extended)} extended · "
                      f"{rep.unchanged} unchanged")
    if output is not None:
        write_alarms(episodes, output, labels)
    else:
        _show(episodes, labels)
    n_series = sum(len(v) for v in ds.series.values())
    _summary(cfg, len(ds.series), n_series, ds.n_values, results, episodes, time.perf_counter() - t0, output)


@user_errors
def detectors(
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    family: Annotated[str | None, typer.Option("--family", help="只列该族 / only this family (tmp, xv, for …)")] = None,
) -> None:
    """检测器列表 / the detector registry: ID, family, targets, parameters with units and defaults."""
    from tianlan.qc.core import load_all
    from tianlan.qc.stream import streams_by_default

    if fmt not in ("table", "json"):
        raise InputError("--format", f"应为 table 或 json / must be table or json, got {fmt!r}")
    specs = sorted(load_all().values(), key=lambda s: s.id)
    if family is not None:
        specs = [s for s in specs if s.family == family.lower()]
    rows: list[dict[str, Any]] = []
    for s in specs:
        stream = streams_by_default(s)
        rows.append({"id": s.id, "name": s.name, "family": s.family, "version": s.version, "systems": list(s.systems),
                     "targets": list(s.targets), "parameters": list(s.parameters), "stream": stream,
                     "params": {k: {"default": p.default, "unit": p.unit, "doc": p.doc} for k, p in s.params.items()}})
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    t = Table("ID", "family", "name / targets", "systems", "params (default unit)", "stream",
              title=f"检测器 / detectors ({len(rows)})", show_lines=True)
    for r in rows:
        params = "\n".join(f"{k} = {v['default']!r} {v['unit']}".rstrip() for k, v in r["params"].items())
        t.add_row(r["id"], r["family"], f"{r['name']}\n[dim]{'; '.join(r['targets'])}[/]", ",".join(r["systems"]),
                  params or "—", "yes" if r["stream"] else "batch")
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add ``scan`` and ``detectors`` to ``app`` (the lead mounts it as ``tianlan qc``)."""
    app.command("scan", help=SCAN_HELP)(scan)
    app.command("detectors")(detectors)
