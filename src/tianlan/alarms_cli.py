"""``tianlan alarms …``: list and inspect alarms, move them through their lifecycle, silence, precision.

Every command opens the store given by ``--data-dir`` / ``--database-url``. Times are shown and read
in Beijing time (ISO 8601; a time without a zone is Beijing time). A refused action (an invalid
transition, a missing note) prints ``错误 / error: …`` naming the alarm's state and exits with 2.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tianlan.alarms import lifecycle as lc
from tianlan.alarms.policy import level_label
from tianlan.alarms.service import AlarmService
from tianlan.cli_common import DatabaseUrl, DataDir, console, open_engine, settings_for, user_errors
from tianlan.errors import InputError
from tianlan.model.timeutil import parse_user_time, utc_to_beijing_iso

app = typer.Typer(help="告警：列表、证据、处置、静默、精确率 / alarms: list, evidence, lifecycle, silences, precision",
                  no_args_is_help=True)

AlarmId = Annotated[int, typer.Argument(help="告警编号 / alarm id")]
User = Annotated[str, typer.Option("--user", help="操作人 / who does this")]
Note = Annotated[str, typer.Option("--note", help="理由 / why")]
Json = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]


def _service(data_dir: Path | None, database_url: str | None) -> AlarmService:
    return AlarmService(open_engine(settings_for(data_dir, database_url)))


def _acting(data_dir: Path | None, database_url: str | None, user: str) -> AlarmService:
    """The alarm service, acting as ``--user``: once the store has accounts, ``--user`` must be an
    active user whose role handles alarms (provincial, city centre, enforcement); before that it is
    a declared name. Either way the decision's ledger entry is attributed to it."""
    from tianlan.auth.roles import ALARM_HANDLERS
    from tianlan.auth.users import UsersRepo
    from tianlan.cli_common import acting_user
    from tianlan.ledger.chain import set_actor

    engine = open_engine(settings_for(data_dir, database_url))
    if UsersRepo(engine).count():
        acting_user(engine, user, roles=ALARM_HANDLERS)
    else:
        set_actor(user)
    return AlarmService(engine)


def _short(t: int) -> str:
    """``2019-01-01 08:00`` (Beijing time)."""
    return utc_to_beijing_iso(t)[:16].replace("T", " ")


def _period(start: int, end: int) -> str:
    """``2019-01-01 08:00 → 11:00`` (the end's date only when it differs)."""
    a, b = _short(start), _short(end)
    return f"{a} → {b[11:] if a[:10] == b[:10] else b}"


def _alarm_dict(a: lc.Alarm, *, evidence: bool = False) -> dict:
    d = {"id": a.id, "station": a.station, "parameter": a.parameter, "detector": a.detector, "detectors": a.detectors,
         "level": a.level, "score": a.score if math.isfinite(a.score) else None, "reason": a.reason,
         "start": utc_to_beijing_iso(a.start_utc), "end": utc_to_beijing_iso(a.end_utc), "status": a.status,
         "outcome": a.outcome, "silenced": a.silenced, "created": utc_to_beijing_iso(a.created_utc),
         "updated": utc_to_beijing_iso(a.updated_utc)}
    if evidence:
        d["evidence"] = a.evidence
    return d


@app.command("list")
@user_errors
def list_(
    status: Annotated[list[str] | None, typer.Option("--status", help="状态 / raised|acknowledged|verified|disposed|closed|open "
                                                                      "(repeatable; open = the first three)")] = None,
    station: Annotated[str | None, typer.Option("--station", help="站点 / station code")] = None,
    parameter: Annotated[str | None, typer.Option("--parameter", help="因子 / parameter (* station-wide)")] = None,
    level: Annotated[int | None, typer.Option("--level", min=1, max=4, help="最低级别 / this level and above (1..4)")] = None,
    limit: Annotated[int, typer.Option("--limit", help="最多行数 / at most this many (0: all)")] = 200,
    as_json: Json = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """告警列表（按数据时间倒序）/ list alarms, newest data first."""
    states: list[str] = []
    for s in status or []:
        if s == "open":
            states += sorted(lc.OPEN_STATES)
        elif s in lc.STATES:
            states.append(s)
        else:
            raise InputError("--status", f"unknown state {s!r}; known: {', '.join(lc.STATES)}, open")
    svc = _service(data_dir, database_url)
    rows = svc.repo.list_alarms(status=states or None, station=station, parameter=parameter, min_level=level, limit=limit or None)
    if as_json:
        typer.echo(json.dumps([_alarm_dict(a) for a in rows], ensure_ascii=False, indent=1))
        return
    t = Table("id", "级别 level", "状态 status", "站点 station", "因子 param", "检测器 detector", "时段 period (北京 Beijing)",
              "得分 score", "原因 reason")
    for a in rows:
        state = a.status + (f" ({a.outcome})" if a.outcome else "") + (" 静默 silenced" if a.silenced else "")
        t.add_row(str(a.id), str(a.level), state, a.station, a.parameter, a.detector,
                  _period(a.start_utc, a.end_utc), f"{a.score:.3f}", a.reason)
    console.print(t)
    console.print(f"共 {len(rows)} 条 / {len(rows)} alarms")


@app.command("show")
@user_errors
def show(alarm_id: AlarmId, as_json: Json = False, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """告警详情：证据包与处置记录 / one alarm with its evidence bundle and history."""
    svc = _service(data_dir, database_url)
    a = svc.repo.get(alarm_id)
    history = svc.repo.events(alarm_id)
    if as_json:
        d = _alarm_dict(a, evidence=True)
        d["history"] = [{"time": utc_to_beijing_iso(e.time_utc), "user": e.user, "action": e.action,
                         "from": e.from_status, "to": e.to_status, "note": e.note} for e in history]
        typer.echo(json.dumps(d, ensure_ascii=False, indent=1))
        return
    console.print(f"[bold]告警 / alarm #{a.id}[/]  {level_label(a.level)}  {lc.state_label(a.status)}"
                  + (f"  结论 outcome: {a.outcome} {lc.OUTCOMES.get(a.outcome, '')}" if a.outcome else "")
                  + ("  [yellow]已静默 silenced[/]" if a.silenced else ""), highlight=False)
    console.print(f"站点 station {a.station}  因子 parameter {a.parameter}  检测器 detector {a.detector} "
                  f"(all: {', '.join(a.detectors)})  得分 score {a.score:.3f}", highlight=False)
    console.print(f"原因 reason: {a.reason}", highlight=False)
    console.print(f"数据时段 period (Beijing): {utc_to_beijing_iso(a.start_utc)} – {utc_to_beijing_iso(a.end_utc)}",
                  highlight=False)
    console.print("[bold]证据包 / evidence bundle[/]")
    console.print_json(json.dumps(a.evidence, ensure_ascii=False))
    t = Table("时间 time", "操作人 user", "操作 action", "从 from", "到 to", "说明 note", title="处置记录 / history")
    for e in history:
        t.add_row(utc_to_beijing_iso(e.time_utc), e.user, e.action, e.from_status or "", e.to_status, e.note)
    console.print(t)


def _moved(a: lc.Alarm, action: str) -> None:
    console.print(f"告警 #{a.id} 已{lc.ACTION_NAMES[action]}，现为{lc.state_label(a.status)} / alarm #{a.id}: {action} → "
                  f"{a.status}", highlight=False)


@app.command("ack")
@user_errors
def ack(alarm_id: AlarmId, user: User, note: Note, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """确认（已触发 → 已确认）/ acknowledge: raised → acknowledged."""
    _moved(_acting(data_dir, database_url, user).ack(alarm_id, user=user, note=note), "ack")


@app.command("verify")
@user_errors
def verify(alarm_id: AlarmId, user: User, note: Note, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """核实（已确认 → 已核实）/ verify the evidence: acknowledged → verified."""
    _moved(_acting(data_dir, database_url, user).verify(alarm_id, user=user, note=note), "verify")


@app.command("dispose")
@user_errors
def dispose(
    alarm_id: AlarmId,
    user: User,
    note: Note,
    outcome: Annotated[str, typer.Option("--outcome", help="结论 / fraud (弄虚作假) | fault (设备故障) | false-alarm (误报)")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """处置并记录结论（已核实 → 已处置）/ dispose with an outcome: verified → disposed."""
    _moved(_acting(data_dir, database_url, user).dispose(alarm_id, user=user, note=note, outcome=outcome), "dispose")


@app.command("close")
@user_errors
def close(alarm_id: AlarmId, user: User, note: Note, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """关闭（已处置 → 已关闭）/ close: disposed → closed."""
    _moved(_acting(data_dir, database_url, user).close(alarm_id, user=user, note=note), "close")


@app.command("silence")
@user_errors
def silence(
    station: Annotated[str, typer.Option("--station", help="站点 / station code")],
    until: Annotated[str, typer.Option("--until", help="截止时间 / until (ISO 8601, Beijing time unless a zone is given)")],
    user: User,
    reason: Annotated[str, typer.Option("--reason", help="原因 / why")],
    parameter: Annotated[str | None, typer.Option("--parameter", help="因子 / only this parameter")] = None,
    detector: Annotated[str | None, typer.Option("--detector", help="检测器 / only alarms with this detector")] = None,
    start: Annotated[str | None, typer.Option("--from", help="开始时间 / from (data time; default 6 h before now, the "
                                                           "merge gap, so ongoing alarms are covered)")] = None,
    maintenance: Annotated[bool, typer.Option("--maintenance", help="维护窗口 / a maintenance window")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """静默或维护窗口：告警照常记录但不通知 / silence: matching alarms are stored and marked, not notified."""
    svc = _acting(data_dir, database_url, user)
    sil, marked = svc.silence(station=station, until_utc=parse_user_time(until, field="--until"), user=user, reason=reason,
                              parameter=parameter, detector=detector,
                              start_utc=parse_user_time(start, field="--from") if start else None,
                              kind="maintenance" if maintenance else "silence")
    console.print(f"静默 #{sil.id}（{utc_to_beijing_iso(sil.start_utc)} 至 {utc_to_beijing_iso(sil.end_utc)}），"
                  f"已标记 {len(marked)} 条未结告警 / silence #{sil.id} stored; {len(marked)} open alarms marked silenced",
                  highlight=False)


@app.command("silences")
@user_errors
def silences(
    station: Annotated[str | None, typer.Option("--station", help="站点 / station code")] = None,
    as_json: Json = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """静默与维护窗口列表 / list silences and maintenance windows."""
    rows = _service(data_dir, database_url).repo.silences(station=station)
    ds = [{"id": s.id, "kind": s.kind, "station": s.station, "parameter": s.parameter, "detector": s.detector,
           "from": utc_to_beijing_iso(s.start_utc), "until": utc_to_beijing_iso(s.end_utc), "user": s.user, "reason": s.reason}
          for s in rows]
    if as_json:
        typer.echo(json.dumps(ds, ensure_ascii=False, indent=1))
        return
    t = Table("id", "类型 kind", "站点 station", "因子 param", "检测器 detector", "开始 from", "截止 until", "操作人 user",
              "原因 reason")
    for d in ds:
        t.add_row(*(str(d[k] or "") for k in ("id", "kind", "station", "parameter", "detector", "from", "until", "user",
                                               "reason")))
    console.print(t)


@app.command("resolve")
@user_errors
def resolve(
    as_of: Annotated[str | None, typer.Option("--as-of", help="数据已检查至 / data checked up to (default now)")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """自动解除条件已结束且无人确认的低级别告警 / auto-resolve quiet, unacknowledged low-level alarms."""
    ids = _service(data_dir, database_url).auto_resolve(parse_user_time(as_of, field="--as-of") if as_of else None)
    console.print(f"自动解除 {len(ids)} 条 / auto-resolved {len(ids)} alarms: {', '.join(map(str, ids)) or '-'}")


@app.command("precision")
@user_errors
def precision(as_json: Json = False, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """各检测器精确率（按处置结论）/ per-detector precision from disposal outcomes."""
    rows = _service(data_dir, database_url).precision_by_detector()
    if as_json:
        typer.echo(json.dumps([{"detector": r.detector, "alarms": r.alarms, "fraud": r.fraud, "fault": r.fault,
                                "false_alarm": r.false_alarm, "precision": r.precision,
                                "fraud_precision": r.fraud_precision} for r in rows], ensure_ascii=False, indent=1))
        return
    t = Table("检测器 detector", "已处置 disposed", "弄虚作假 fraud", "设备故障 fault", "误报 false alarm",
              "精确率 precision", "造假精确率 fraud precision")
    for r in rows:
        t.add_row(r.detector, str(r.alarms), str(r.fraud), str(r.fault), str(r.false_alarm), f"{r.precision:.2f}",
                  f"{r.fraud_precision:.2f}")
    console.print(t)
    if not rows:
        console.print("尚无已处置告警 / no disposed alarms yet")
