"""``tianlan correct|review|custody|mark|interference …``: the evidence-grade record (issue 5 §3-7).

Every command runs as a user (``--as-user`` / ``TIANLAN_USER``) and the repositories check that
user's role and scope. Acts that must be proven — review actions and custody steps — are signed
with the user's personal key, so they ask for the password (hidden prompt, or ``--password-stdin``
for scripts). Times are read and shown in Beijing time (ISO 8601; no zone = Beijing time). A refused
action prints ``错误 / error: <field>: <reason>`` and exits with 2.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tianlan.cli_common import AsUser, DatabaseUrl, DataDir, acting_user, console, open_engine, settings_for, user_errors
from tianlan.errors import InputError
from tianlan.model.timeutil import parse_user_time, utc_to_beijing_iso

correct_app = typer.Typer(help="数据更正（不覆盖原始值）/ corrections as versions, never overwriting raw data",
                          no_args_is_help=True)
review_app = typer.Typer(help="三级审核与签发 / three-level review and sign-off", no_args_is_help=True)
custody_app = typer.Typer(help="手工/实验室监测样品流转 / chain of custody of samples", no_args_is_help=True)
mark_app = typer.Typer(help="企业数据标记 / enterprise data marks (2022 marking rule)", no_args_is_help=True)
interference_app = typer.Typer(help="干预留痕（密封）/ sealed interference records", no_args_is_help=True)

#: (app, name) pairs that ``tianlan.cli`` mounts
APPS = ((correct_app, "correct"), (review_app, "review"), (custody_app, "custody"), (mark_app, "mark"),
        (interference_app, "interference"))

Json = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码 / read the password from stdin")]
Station = Annotated[str, typer.Option("--station", help="站点编码（无站点设备用 MN）/ station code (or device MN)")]
Day = Annotated[str, typer.Option("--day", help="日期（北京时间）/ Beijing calendar day, YYYY-MM-DD")]
From = Annotated[str | None, typer.Option("--from", help="起始 / from (ISO 8601; Beijing time unless zoned)")]
To = Annotated[str | None, typer.Option("--to", help="截止（不含）/ to, exclusive")]


def _ctx(data_dir: Path | None, database_url: str | None, as_user: str | None):  # type: ignore[no-untyped-def]
    """(engine, acting User); the record commands always need a real user."""
    from tianlan.auth.users import UsersRepo

    engine = open_engine(settings_for(data_dir, database_url))
    name = acting_user(engine, as_user)
    if name == "system":
        raise InputError("--as-user", "记录类操作须由用户执行 / record commands need a user (create one with "
                                      "`tianlan user add`)")
    return engine, UsersRepo(engine).get(name)


def _password(stdin: bool) -> str:
    if stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InputError("--password-stdin", "no password on standard input")
        return line
    return str(typer.prompt("密码（用于签名）/ password (to sign)", hide_input=True))


def _t(text: str | None, field: str) -> int | None:
    return None if text is None else parse_user_time(text, field=field)


def _bj(t: float | None) -> str:
    return "" if t is None else utc_to_beijing_iso(t)


def _echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=1))


def _range(start: str | None, end: str | None, default_days: int = 31) -> tuple[int, int]:
    t1 = _t(end, "--to") or int(time.time())
    t0 = _t(start, "--from") or t1 - default_days * 86400
    if t1 <= t0:
        raise InputError("--to", "must be after --from")
    return t0, t1

# ================================================================================ correct (§3)


def _version_dict(mn: str, v: Any) -> dict[str, Any]:
    return {"id": v.id, "mn": mn, "parameter": v.parameter, "kind": v.kind, "time": _bj(v.time_utc),
            "action": v.action, "value": v.value, "flag": v.flag, "reason": v.reason, "document": v.document,
            "proposed_by": v.proposed_by, "proposed": _bj(v.proposed_utc), "status": v.status,
            "decided_by": v.decided_by, "decided": _bj(v.decided_utc), "note": v.note, "prev_value": v.prev_value,
            "prev_flag": v.prev_flag}


@correct_app.command("propose")
@user_errors
def correct_propose(
    mn: Annotated[str, typer.Option("--mn", help="设备 MN / device MN")],
    parameter: Annotated[str, typer.Option("--parameter", help="因子编码 / HJ 212 code")],
    at: Annotated[str, typer.Option("--time", help="数据时间 / the value's period start")],
    action: Annotated[str, typer.Option("--action", help="correct | substitute | invalidate")],
    reason: Annotated[str, typer.Option("--reason", help="理由 / why")],
    document: Annotated[str, typer.Option("--document", help="依据文件 / supporting document reference")],
    value: Annotated[float | None, typer.Option("--value", help="新值 / new value (not for invalidate)")] = None,
    flag: Annotated[str | None, typer.Option("--flag", help="新数据标记 / new flag (invalidate: RM)")] = None,
    kind: Annotated[str, typer.Option("--kind", help="rtd | min | hour | day")] = "hour",
    as_user: AsUser = None, data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:
    """提出更正（需他人批准后生效）/ propose a correction, substitution or invalidation."""
    from tianlan.store.versions_repo import VersionsRepo

    engine, user = _ctx(data_dir, database_url, as_user)
    v = VersionsRepo(engine).propose(user, mn=mn, parameter=parameter, kind=kind,
                                     time_utc=parse_user_time(at, field="--time"), action=action, value=value,
                                     flag=flag, reason=reason, document=document)
    console.print(f"已提出版本 #{v.id}，待他人批准 / version #{v.id} proposed; a second user approves "
                  f"(`tianlan correct approve {v.id}`)", highlight=False)


def _decide(version_id: int, approve: bool, note: str, as_user: str | None, data_dir: Path | None,
            database_url: str | None) -> None:
    from tianlan.store.versions_repo import VersionsRepo

    engine, user = _ctx(data_dir, database_url, as_user)
    v = VersionsRepo(engine).decide(user, version_id, approve=approve, note=note)
    word = "已批准并生效 / approved, in effect" if approve else "已驳回 / rejected"
    console.print(f"版本 #{v.id} {word}" + (f" (前值 / previous {v.prev_value})" if approve else ""), highlight=False)


@correct_app.command("approve")
@user_errors
def correct_approve(
    version_id: Annotated[int, typer.Argument(help="版本编号 / version id")],
    note: Annotated[str, typer.Option("--note", help="说明 / note")] = "",
    as_user: AsUser = None, data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:
    """批准（提出人以外的用户）/ approve a proposed version (a second user); it takes effect now."""
    _decide(version_id, True, note, as_user, data_dir, database_url)


@correct_app.command("reject")
@user_errors
def correct_reject(
    version_id: Annotated[int, typer.Argument(help="版本编号 / version id")],
    note: Annotated[str, typer.Option("--note", help="驳回理由 / why")],
    as_user: AsUser = None, data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:
    """驳回 / reject a proposed version."""
    _decide(version_id, False, note, as_user, data_dir, database_url)


@correct_app.command("list")
@user_errors
def correct_list(
    status: Annotated[str | None, typer.Option("--status", help="proposed | approved | rejected")] = None,
    mn: Annotated[str | None, typer.Option("--mn", help="设备 MN / device MN")] = None,
    limit: Annotated[int, typer.Option("--limit", help="最多行数 / at most (0: all)")] = 200,
    as_json: Json = False, as_user: AsUser = None, data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:
    """版本列表（本人权限范围内）/ versions in your scope, newest first."""
    from tianlan.store.versions_repo import VersionsRepo

    engine, user = _ctx(data_dir, database_url, as_user)
    rows = VersionsRepo(engine).list(user, status=status, mn=mn, limit=limit or None)
    if as_json:
        _echo_json([_version_dict(m, v) for m, v in rows])
        return
    t = Table("id", "MN", "因子 param", "时间 time", "操作 action", "值 value", "标记 flag", "状态 status", "提出 by",
              "批准 decided by", "理由 reason", "依据 document")
    for m, v in rows:
        t.add_row(str(v.id), m, v.parameter, _bj(v.time_utc)[:16], v.action, "" if v.value is None else repr(v.value),
                  v.flag or "", v.status, v.proposed_by, v.decided_by or "", v.reason, v.document)
    console.print(t)

# ================================================================================= review (§4)


def _review_repo(engine):  # type: ignore[no-untyped-def]
    from tianlan.settings import load_settings
    from tianlan.store.review_repo import ReviewRepo

    s = load_settings()
    return ReviewRepo(engine, deadline_days={1: s.review_level1_days, 2: s.review_level2_days,
                                             3: s.review_level3_days})


def _act(action: str, station: str, day: str, reason: str, level: int | None, stdin: bool, as_user: str | None,
         data_dir: Path | None, database_url: str | None) -> None:
    from tianlan.ledger.review import LEVEL_LABELS, day_start

    engine, user = _ctx(data_dir, database_url, as_user)
    d = day_start(day)
    a = _review_repo(engine).act(user, _password(stdin), station, d, action, level=level, reason=reason)
    console.print(f"{station} {day}: {LEVEL_LABELS[a.level]} {action} ✓ (修订 revision {a.revision}, "
                  f"摘要 digest {a.digest[:16] if a.digest else ''}…, 已签名 / signed)", highlight=False)


Level = Annotated[int | None, typer.Option("--level", min=1, max=3, help="审核级别 / level (default: your role's)")]


@review_app.command("approve")
@user_errors
def review_approve(station: Station, day: Day, level: Level = None, password_stdin: PasswordStdin = False,
                   as_user: AsUser = None, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """审核通过并签名（1 级市级/运维，2 级省级）/ approve and sign the day's content (levels 1-2)."""
    _act("approve", station, day, "", level, password_stdin, as_user, data_dir, database_url)


@review_app.command("send-back")
@user_errors
def review_send_back(station: Station, day: Day, reason: Annotated[str, typer.Option("--reason", help="退回理由 / why")],
                     level: Level = None, password_stdin: PasswordStdin = False, as_user: AsUser = None,
                     data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """退回下一级 / send the day back to the level below, with the reason (signed)."""
    _act("send-back", station, day, reason, level, password_stdin, as_user, data_dir, database_url)


@review_app.command("sign")
@user_errors
def review_sign(station: Station, day: Day, password_stdin: PasswordStdin = False, as_user: AsUser = None,
                data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """签发（3 级，签发后冻结）/ sign off (level 3); the day is then frozen."""
    _act("sign", station, day, "", 3, password_stdin, as_user, data_dir, database_url)


@review_app.command("reopen")
@user_errors
def review_reopen(station: Station, day: Day, reason: Annotated[str, typer.Option("--reason", help="重开理由 / why")],
                  password_stdin: PasswordStdin = False, as_user: AsUser = None, data_dir: DataDir = None,
                  database_url: DatabaseUrl = None) -> None:
    """重开已签发日（新修订须重新审核签发）/ reopen a signed day: a new revision, reviewed and signed again."""
    _act("reopen", station, day, reason, 3, password_stdin, as_user, data_dir, database_url)


def _day_row(d: Any) -> dict[str, Any]:
    from tianlan.ledger.review import day_label

    return {"station": d.station, "day": day_label(d.day_utc), "revision": d.state.revision, "awaiting": d.awaiting,
            "signed": d.state.signed, "stale": d.state.stale(d.digest), "values": d.n_values, "digest": d.digest,
            "send_back": d.state.last_send_back}


@review_app.command("queue")
@user_errors
def review_queue(start: From = None, end: To = None, level: Level = None, as_json: Json = False, as_user: AsUser = None,
                 data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """待我审核 / station-days awaiting your level (default: the last 31 days)."""
    engine, user = _ctx(data_dir, database_url, as_user)
    t0, t1 = _range(start, end)
    rows = [_day_row(d) for d in _review_repo(engine).queue(user, t0, t1, level=level)]
    if as_json:
        _echo_json(rows)
        return
    t = Table("站点 station", "日期 day", "修订 rev", "待审级别 awaiting", "数据 values", "退回 sent back because")
    for r in rows:
        t.add_row(r["station"], r["day"], str(r["revision"]), str(r["awaiting"]), str(r["values"]), r["send_back"])
    console.print(t)
    console.print(f"共 {len(rows)} 个站日 / {len(rows)} station-days")


@review_app.command("overdue")
@user_errors
def review_overdue(start: From = None, end: To = None, as_json: Json = False, as_user: AsUser = None,
                   data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """逾期未审 / station-days whose due level missed its deadline (settings review_level*_days)."""
    engine, user = _ctx(data_dir, database_url, as_user)
    t0, t1 = _range(start, end)
    rows = [{**_day_row(d), "level": lv, "deadline": _bj(due)}
            for d, lv, due in _review_repo(engine).overdue(user, t0, t1)]
    if as_json:
        _echo_json(rows)
        return
    t = Table("站点 station", "日期 day", "逾期级别 level", "期限 deadline (北京 Beijing)", "数据 values")
    for r in rows:
        t.add_row(r["station"], r["day"], str(r["level"]), r["deadline"], str(r["values"]))
    console.print(t)
    console.print(f"共 {len(rows)} 个逾期站日 / {len(rows)} overdue station-days")


@review_app.command("show")
@user_errors
def review_show(station: Station, day: Day, as_json: Json = False, as_user: AsUser = None, data_dir: DataDir = None,
                database_url: DatabaseUrl = None) -> None:
    """审核记录与签名核验 / a station-day's review history with every signature verified."""
    from tianlan.ledger.review import day_start

    engine, user = _ctx(data_dir, database_url, as_user)
    d = _review_repo(engine).show(user, station, day_start(day))
    acts = [{"id": a.id, "revision": a.revision, "level": a.level, "action": a.action, "user": a.user,
             "time": _bj(a.time_utc), "reason": a.reason, "digest": a.digest, "signature": a.signature,
             "signature_ok": ok} for a, ok in zip(d.actions, d.signature_ok, strict=True)]
    if as_json:
        _echo_json({**_day_row(d), "actions": acts})
        return
    r = _day_row(d)
    state = "已签发冻结 / signed, frozen" if r["signed"] else f"待 {r['awaiting']} 级 / awaiting level {r['awaiting']}"
    console.print(f"[bold]{station} {r['day']}[/] 修订 revision {r['revision']} · {state}"
                  + (" · [yellow]内容已变更 / content changed since approval[/]" if r["stale"] else ""), highlight=False)
    console.print(f"当前内容摘要 / current content digest: {d.digest} ({d.n_values} values)", highlight=False)
    t = Table("rev", "级别 level", "操作 action", "审核人 user", "时间 time", "理由 reason", "摘要 digest", "签名 signature")
    for a in acts:
        t.add_row(str(a["revision"]), str(a["level"]), a["action"], a["user"], a["time"], a["reason"],
                  (a["digest"] or "")[:16], "✓ 有效 valid" if a["signature_ok"] else "✗ 无效 INVALID")
    console.print(t)

# ================================================================================ custody (§5)

Sample = Annotated[str, typer.Option("--sample", help="样品编号 / sample number")]
When = Annotated[str, typer.Option("--time", help="发生时间 / when it happened")]


def _record(step: str, sample: str, when: str, details: dict[str, Any], stdin: bool, as_user: str | None,
            data_dir: Path | None, database_url: str | None, site: str | None = None) -> None:
    from tianlan.ledger.custody import STEP_LABELS
    from tianlan.store.custody_repo import CustodyRepo

    engine, user = _ctx(data_dir, database_url, as_user)
    details = {k: v for k, v in details.items() if v is not None}
    CustodyRepo(engine).record(user, _password(stdin), sample, step, parse_user_time(when, field="--time"), details,
                               site=site)
    console.print(f"样品 {sample}: {STEP_LABELS[step]} 已记录并签名 / recorded and signed", highlight=False)


@custody_app.command("sample")
@user_errors
def custody_sample(
    sample: Sample, when: When,
    place: Annotated[str, typer.Option("--place", help="采样地点 / place")],
    container: Annotated[str, typer.Option("--container", help="容器 / container")],
    preservation: Annotated[str, typer.Option("--preservation", help="保存方式 / preservation")],
    analytes: Annotated[str | None, typer.Option("--analytes", help="分析项目 / analytes")] = None,
    holding_h: Annotated[float | None, typer.Option("--holding-h", help="方法规定的保存时限（小时）/ holding time, h")] = None,
    site: Annotated[str | None, typer.Option("--site", help="站点编码 / site code")] = None,
    password_stdin: PasswordStdin = False, as_user: AsUser = None, data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """采样（采样人为当前用户）/ record the sampling (the acting user is the sampler)."""
    _record("sample", sample, when, {"place": place, "container": container, "preservation": preservation,
                                     "analytes": analytes, "holding_h": holding_h},
            password_stdin, as_user, data_dir, database_url, site=site)


@custody_app.command("transfer")
@user_errors
def custody_transfer(
    sample: Sample, when: When,
    to: Annotated[str, typer.Option("--to", help="接收人（用户名）/ receiver's username")],
    giver: Annotated[str | None, typer.Option("--from", help="移交人 / giver (default: you)")] = None,
    condition: Annotated[str | None, typer.Option("--condition", help="交接时状态 / condition on hand-over")] = None,
    password_stdin: PasswordStdin = False, as_user: AsUser = None, data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """交接（移交人或接收人记录并签名）/ record a hand-over, signed by the giver or the receiver."""
    from tianlan.cli_common import acting_user as _who

    engine = open_engine(settings_for(data_dir, database_url))
    me = _who(engine, as_user)
    _record("transfer", sample, when, {"from": giver or me, "to": to, "condition": condition}, password_stdin,
            as_user, data_dir, database_url)


@custody_app.command("analysis")
@user_errors
def custody_analysis(
    sample: Sample, when: When,
    method: Annotated[str, typer.Option("--method", help="分析方法（标准号）/ method, e.g. HJ 828-2017")],
    instrument: Annotated[str, typer.Option("--instrument", help="仪器 / instrument id")],
    standard_lot: Annotated[str, typer.Option("--standard-lot", help="标准物质批号 / standard material lot")],
    result: Annotated[list[str] | None, typer.Option("--result", help="结果 / result, e.g. w01018=56 mg/L (repeatable)")] = None,
    password_stdin: PasswordStdin = False, as_user: AsUser = None, data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """分析（分析人为当前用户，须持有样品）/ record an analysis (the acting user, who must hold the sample)."""
    _record("analysis", sample, when, {"method": method, "instrument": instrument, "standard_lot": standard_lot,
                                       "results": "; ".join(result) if result else None},
            password_stdin, as_user, data_dir, database_url)


@custody_app.command("report")
@user_errors
def custody_report(
    sample: Sample, when: When,
    reviewer: Annotated[str, typer.Option("--reviewer", help="审核人（用户名）/ reviewer's username")],
    report_no: Annotated[str, typer.Option("--report-no", help="报告编号 / report number")],
    password_stdin: PasswordStdin = False, as_user: AsUser = None, data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """出具报告（授权签字人为当前用户）/ issue the report (the acting user is the authorised signatory)."""
    _record("report", sample, when, {"reviewer": reviewer, "report_no": report_no}, password_stdin, as_user,
            data_dir, database_url)


def _sample_dict(s: Any, proofs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "sample": s.code, "organisation": s.owner_scope, "site": s.site_code, "holder": s.holder, "reported": s.reported,
        "steps": [{"seq": st.seq, "step": st.step, "time": _bj(st.time_utc), "actor": st.actor, "details": st.details,
                   "signature": sig, "signature_ok": ok}
                  for st, sig, ok in zip(s.steps, s.signatures, s.signature_ok or [None] * len(s.steps), strict=True)]}
    if proofs is not None:
        d["ledger_proof"] = proofs
    return d


@custody_app.command("show")
@user_errors
def custody_show(sample: Sample, proof: Annotated[bool, typer.Option("--proof", help="附账本证明 / with ledger proof")] = False,
                 as_json: Json = False, as_user: AsUser = None, data_dir: DataDir = None,
                 database_url: DatabaseUrl = None) -> None:
    """样品流转记录与签名核验 / a sample's chain with every signature verified."""
    from tianlan.ledger.custody import STEP_LABELS
    from tianlan.store.custody_repo import CustodyRepo

    engine, user = _ctx(data_dir, database_url, as_user)
    s, proofs = CustodyRepo(engine).get(user, sample, with_proof=proof)
    if as_json:
        _echo_json(_sample_dict(s, proofs if proof else None))
        return
    console.print(f"[bold]样品 / sample {s.code}[/] · {s.owner_scope} · 持有人 holder {s.holder}"
                  + (" · 已出报告 / reported" if s.reported else ""), highlight=False)
    t = Table("#", "环节 step", "时间 time", "操作人 by", "内容 details", "签名 signature")
    for st, ok in zip(s.steps, s.signature_ok, strict=True):
        t.add_row(str(st.seq), STEP_LABELS[st.step], _bj(st.time_utc), st.actor,
                  "; ".join(f"{k}={v}" for k, v in st.details.items()), "✓ 有效 valid" if ok else "✗ 无效 INVALID")
    console.print(t)


@custody_app.command("list")
@user_errors
def custody_list(as_json: Json = False, as_user: AsUser = None, data_dir: DataDir = None,
                 database_url: DatabaseUrl = None) -> None:
    """可见样品 / samples you may see, newest first."""
    from tianlan.store.custody_repo import CustodyRepo

    engine, user = _ctx(data_dir, database_url, as_user)
    rows = CustodyRepo(engine).list(user)
    if as_json:
        _echo_json([{"sample": s.code, "organisation": s.owner_scope, "site": s.site_code, "steps": len(s.steps),
                     "holder": s.holder, "reported": s.reported} for s in rows])
        return
    t = Table("样品 sample", "单位 organisation", "站点 site", "环节数 steps", "持有人 holder", "报告 reported")
    for s in rows:
        t.add_row(s.code, s.owner_scope, s.site_code or "", str(len(s.steps)), s.holder or "", "✓" if s.reported else "")
    console.print(t)


@custody_app.command("pdf")
@user_errors
def custody_pdf(sample: Sample, output: Annotated[Path, typer.Option("--output", "-o", help="PDF 文件 / file")],
                as_user: AsUser = None, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """导出 PDF（含账本证明）/ export the chain as PDF with its ledger proof."""
    from tianlan.ledger.custody_pdf import render
    from tianlan.store.custody_repo import CustodyRepo

    engine, user = _ctx(data_dir, database_url, as_user)
    s, proofs = CustodyRepo(engine).get(user, sample, with_proof=True)
    output.write_bytes(render(s, proofs, generated_utc=time.time()))
    console.print(f"已导出 / written: {output} ({output.stat().st_size:,} bytes)", highlight=False)

# =================================================================================== marks (§6)


def _mark_dict(m: Any) -> dict[str, Any]:
    return {"id": m.id, "station": m.station, "enterprise": m.enterprise_code, "kind": m.kind, "from": _bj(m.start_utc),
            "to": _bj(m.end_utc), "reason": m.reason, "document": m.document, "created_by": m.created_by,
            "created": _bj(m.created_utc), "timeliness": m.timeliness, "delay_h": round(m.delay_s / 3600, 2)}


def _marks_repo(engine):  # type: ignore[no-untyped-def]
    from tianlan.ledger.marks import MarkRules
    from tianlan.settings import load_settings
    from tianlan.store.marks_repo import MarksRepo

    s = load_settings()
    return MarksRepo(engine, rules=MarkRules(s.mark_window_days, s.mark_grace_h, s.mark_advance_days))


@mark_app.command("add")
@user_errors
def mark_add(
    station: Station,
    kind: Annotated[str, typer.Option("--kind", help="maintenance | fault | calibration | commissioning | start-up | "
                                                     "shutdown | treatment-fault | process-fault | other")],
    start: Annotated[str, typer.Option("--from", help="起始 / from")],
    end: Annotated[str, typer.Option("--to", help="截止（不含）/ to, exclusive")],
    reason: Annotated[str, typer.Option("--reason", help="原因 / what happened")],
    document: Annotated[str, typer.Option("--document", help="证明材料 / supporting document")] = "",
    as_user: AsUser = None, data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:
    """标记本单位排放口的时段 / mark a period of one of your own outlets (late marks are kept and flagged)."""
    from tianlan.ledger.marks import TIMELINESS

    engine, user = _ctx(data_dir, database_url, as_user)
    m = _marks_repo(engine).add(user, station=station, kind=kind, start_utc=parse_user_time(start, field="--from"),
                                end_utc=parse_user_time(end, field="--to"), reason=reason, document=document)
    console.print(f"标记 #{m.id} 已记录 / mark recorded: {m.station} {m.kind} · {TIMELINESS[m.timeliness]}",
                  highlight=False)


@mark_app.command("list")
@user_errors
def mark_list(
    station: Annotated[str | None, typer.Option("--station", help="站点 / station")] = None,
    start: From = None, end: To = None,
    timeliness: Annotated[str | None, typer.Option("--timeliness", help="on-time | retroactive | late")] = None,
    as_json: Json = False, as_user: AsUser = None, data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:
    """标记列表（权限范围内）/ marks in your scope, newest period first."""
    engine, user = _ctx(data_dir, database_url, as_user)
    rows = _marks_repo(engine).list(user, station=station, start_utc=_t(start, "--from"), end_utc=_t(end, "--to"),
                                    timeliness=timeliness)
    if as_json:
        _echo_json([_mark_dict(m) for m in rows])
        return
    t = Table("id", "站点 station", "类型 kind", "起 from", "止 to", "原因 reason", "标记人 by", "标记时间 created",
              "及时性 timeliness")
    for m in rows:
        t.add_row(str(m.id), m.station, m.kind, _bj(m.start_utc)[:16], _bj(m.end_utc)[:16], m.reason, m.created_by,
                  _bj(m.created_utc)[:16], m.timeliness)
    console.print(t)

# ============================================================================ interference (§7)


def _attachments(paths: list[Path] | None) -> list[tuple[str, bytes]]:
    out = []
    for p in paths or []:
        if not p.is_file():
            raise InputError("--attach", f"{p}: no such file")
        out.append((p.name, p.read_bytes()))
    return out


Attach = Annotated[list[Path] | None, typer.Option("--attach", help="附件 / attachment file (repeatable)")]


@interference_app.command("file")
@user_errors
def interference_file(
    when: Annotated[str, typer.Option("--when", help="干预发生时间 / when it happened")],
    method: Annotated[str, typer.Option("--method", help="written | letter | verbal | hint | other")],
    official: Annotated[list[str], typer.Option("--official", help="干预人 / who: name[,position[,organisation"
                                                                  "[,username]]] (repeatable)")],
    request: Annotated[str, typer.Option("--request", help="干预内容 / what was asked")],
    station: Annotated[str | None, typer.Option("--station", help="涉及站点 / station concerned")] = None,
    attach: Attach = None, as_user: AsUser = None, data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:
    """填报干预记录（提交后只能追加）/ file an interference record (append-only afterwards)."""
    from tianlan.ledger.interference import parse_official
    from tianlan.store.interference_repo import InterferenceRepo

    engine, user = _ctx(data_dir, database_url, as_user)
    rid = InterferenceRepo(engine).file(user, occurred_utc=parse_user_time(when, field="--when"), method=method,
                                        officials=[parse_official(o) for o in official], request=request,
                                        station=station, attachments=_attachments(attach))
    console.print(f"干预记录 #{rid} 已封存 / interference record #{rid} filed and sealed", highlight=False)


@interference_app.command("append")
@user_errors
def interference_append(
    record_id: Annotated[int, typer.Argument(help="记录编号 / record id")],
    text: Annotated[str, typer.Option("--text", help="补充内容 / addendum")],
    attach: Attach = None, as_user: AsUser = None, data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:
    """追加补充（不可修改原记录）/ append an addendum (the record itself never changes)."""
    from tianlan.store.interference_repo import InterferenceRepo

    engine, user = _ctx(data_dir, database_url, as_user)
    aid = InterferenceRepo(engine).append(user, record_id, text, _attachments(attach))
    console.print(f"已追加 #{aid} / addendum #{aid} appended to record #{record_id}", highlight=False)


@interference_app.command("show")
@user_errors
def interference_show(
    record_id: Annotated[int, typer.Argument(help="记录编号 / record id")],
    save: Annotated[Path | None, typer.Option("--save-attachments", help="附件保存目录 / save attachments here")] = None,
    as_json: Json = False, as_user: AsUser = None, data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:
    """查阅（仅纪检、审计与填报人；每次查阅均记账）/ read a record (sealed readers and the filer; each read logged)."""
    from tianlan.ledger.interference import METHODS
    from tianlan.store.interference_repo import InterferenceRepo

    engine, user = _ctx(data_dir, database_url, as_user)
    repo = InterferenceRepo(engine)
    r = repo.show(user, record_id)
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        for a in r.attachments:
            name, data, _ = repo.attachment(user, record_id, a["id"])
            (save / f"{a['id']}-{Path(name).name}").write_bytes(data)
    d: dict[str, Any] = {
        "id": r.id, "filer": r.filer, "filed": _bj(r.filed_utc), "occurred": _bj(r.occurred_utc), "method": r.method,
        "officials": r.officials, "request": r.request, "station": r.station,
        "addenda": [{**a, "time": _bj(a["time_utc"])} for a in r.addenda], "attachments": r.attachments,
        "access_log": [{**x, "time": _bj(x["time_utc"])} for x in r.reads]}
    if as_json:
        _echo_json(d)
        return
    console.print(f"[bold]干预记录 / interference record #{r.id}[/] 填报人 filer {r.filer} · {d['filed']}", highlight=False)
    console.print(f"发生 / occurred {d['occurred']} · 方式 / method {METHODS.get(r.method, r.method)}"
                  + (f" · 站点 / station {r.station}" if r.station else ""), highlight=False)
    for o in r.officials:
        console.print(f"干预人 / official: {o.get('name')} {o.get('position', '')} {o.get('organisation', '')}",
                      highlight=False)
    console.print(f"内容 / request: {r.request}", highlight=False)
    for a in d["addenda"]:
        console.print(f"补充 #{a['id']} ({a['author']}, {a['time']}): {a['text']}", highlight=False)
    for a in r.attachments:
        console.print(f"附件 #{a['id']} {a['filename']} {a['size']} B sha256 {a['sha256']} "
                      + ("✓" if a["ok"] else "✗ 与哈希不符 / DOES NOT MATCH"), highlight=False)
    t = Table("seq", "时间 time", "查阅人 who", "操作 what", title="查阅记录 / access log")
    for x in d["access_log"]:
        t.add_row(str(x["seq"]), x["time"], x["actor"], x["kind"].split(".")[1] + (f" ({x['what']})" if x["what"] else ""))
    console.print(t)


@interference_app.command("list")
@user_errors
def interference_list(as_json: Json = False, as_user: AsUser = None, data_dir: DataDir = None,
                      database_url: DatabaseUrl = None) -> None:
    """可查阅的记录（本次查阅亦记账）/ records you may read (this listing is logged too)."""
    from tianlan.store.interference_repo import InterferenceRepo

    engine, user = _ctx(data_dir, database_url, as_user)
    rows = InterferenceRepo(engine).list(user)
    if as_json:
        _echo_json([{"id": r.id, "filer": r.filer, "filed": _bj(r.filed_utc), "occurred": _bj(r.occurred_utc),
                     "method": r.method, "station": r.station} for r in rows])
        return
    t = Table("id", "填报人 filer", "填报 filed", "发生 occurred", "方式 method", "站点 station")
    for r in rows:
        t.add_row(str(r.id), r.filer, _bj(r.filed_utc)[:16], _bj(r.occurred_utc)[:16], r.method, r.station or "")
    console.print(t)
