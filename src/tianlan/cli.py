"""The one command line of Tianlan: ``tianlan …``.

Sub-commands live next to what they drive (``registry_cli``, ``sim.cli``) and are mounted here.
User-facing text is Chinese first, then English.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tianlan import __version__
from tianlan.cli_common import DatabaseUrl, DataDir, console, open_engine, settings_for, user_errors
from tianlan.errors import InputError
from tianlan.model.timeutil import parse_user_time, utc_to_beijing_iso

app = typer.Typer(
    name="tianlan",
    help="天蓝 Tianlan — 生态环境监测数据平台 / environmental monitoring data platform",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
frames_app = typer.Typer(help="原始报文 / raw frame archive", no_args_is_help=True)
data_app = typer.Typer(help="监测数据 / observations", no_args_is_help=True)
app.add_typer(frames_app, name="frames")
app.add_typer(data_app, name="data")

# Sub-commands live next to what they drive; a broken import must fail loudly, not hide a command.
from tianlan.alarms_cli import app as alarms_app  # noqa: E402
from tianlan.assess_cli import app as assess_app  # noqa: E402
from tianlan.qc.commands import register as register_qc  # noqa: E402
from tianlan.registry_cli import app as registry_app  # noqa: E402
from tianlan.registry_cli import device_app  # noqa: E402
from tianlan.sim.cli import app as simulate_app  # noqa: E402

qc_app = typer.Typer(help="质量控制与造假识别 / quality control and fraud detection", no_args_is_help=True)
register_qc(qc_app)
for sub, name in ((registry_app, "registry"), (device_app, "device"), (assess_app, "assess"), (qc_app, "qc"),
                  (alarms_app, "alarms"), (simulate_app, "simulate")):
    app.add_typer(sub, name=name)

from tianlan.ledger_cli import app as ledger_app  # noqa: E402
from tianlan.user_cli import apikey_app  # noqa: E402
from tianlan.user_cli import app as user_app  # noqa: E402

for sub, name in ((user_app, "user"), (apikey_app, "apikey"), (ledger_app, "ledger")):
    app.add_typer(sub, name=name)

# corrections, review and sign-off, custody, marks, interference records (issue 5 §3-7)
from tianlan.records_cli import APPS as record_apps  # noqa: E402

for sub, name in record_apps:
    app.add_typer(sub, name=name)

# information releases: publish documents from the command line (issue 6)
from tianlan.release_cli import app as release_app  # noqa: E402

app.add_typer(release_app, name="release")


@app.command()
def version() -> None:
    """版本 / print the version."""
    console.print(f"tianlan {__version__}")


@app.command("settings")
def show_settings() -> None:
    """设置项及默认值 / list every setting with its default and current value."""
    from tianlan.settings import Settings

    s = Settings()
    t = Table("setting (env TIANLAN_…)", "value", "description")
    for name, f in Settings.model_fields.items():
        t.add_row(name.upper(), str(getattr(s, name)), f.description or "")
    console.print(t)


@app.command()
@user_errors
def init(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """初始化数据目录与数据库 / create and migrate the store (idempotent)."""
    s = settings_for(data_dir, database_url)
    engine = open_engine(s)
    console.print(f"已初始化 / initialised: {engine.url.render_as_string(hide_password=True)}")


@app.command()
@user_errors
def serve(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    hj212_port: Annotated[int | None, typer.Option("--hj212-port", help="HJ 212 TCP 端口 / port; 0 = pick a free one")] = None,
    http_port: Annotated[int | None, typer.Option("--http-port", help="HTTP 端口 / port; 0 = pick a free one")] = None,
    hj212_host: Annotated[str | None, typer.Option("--hj212-host", help="HJ 212 listen address")] = None,
    http_host: Annotated[str | None, typer.Option("--http-host", help="HTTP listen address")] = None,
) -> None:
    """启动平台 / start the platform: HJ 212 gateway and HTTP API (Ctrl-C drains and stops)."""
    from tianlan import runtime

    s = settings_for(
        data_dir, database_url, hj212_port=hj212_port, http_port=http_port, hj212_host=hj212_host, http_host=http_host
    )
    engine = open_engine(s)

    def ready(r: runtime.Running) -> None:
        # These two lines are a contract: scripts and tests read the chosen ports from them.
        print(f"HJ 212 gateway listening on {s.hj212_host}:{r.hj212_port}", flush=True)
        print(f"HTTP API on http://{s.http_host}:{r.http_port}/api/v1/health", flush=True)
        print(f"store: {engine.url.render_as_string(hide_password=True)} · devices: {len(r.gateway.cache)}", flush=True)

    runtime.run(lambda: runtime.serve(engine, s, on_ready=ready))
    print("stopped / 已停止", flush=True)


@app.command()
@user_errors
def demo(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    hj212_port: Annotated[int | None, typer.Option("--hj212-port", help="HJ 212 TCP 端口 / port; 0 = free")] = None,
    http_port: Annotated[int | None, typer.Option("--http-port", help="HTTP 端口 / port; 0 = free")] = None,
    rate: Annotated[float, typer.Option(help="每台设备每秒帧数 / frames per second per device")] = 0.5,
    duration: Annotated[float | None, typer.Option(help="运行秒数后停止 / stop after S seconds")] = None,
) -> None:
    """演示 / sample network + platform + simulator with live progress (Ctrl-C stops).

    On first run the store gets a sample network (synthetic sites in Hebei's real cities, written
    to <data-dir>/demo-network.yaml); later runs reuse the registry that is there.
    """
    from tianlan.demo import DemoOptions, prepare_accounts, prepare_network, run_demo

    if rate <= 0:
        raise InputError("--rate", "must be > 0")
    s = settings_for(data_dir, database_url, hj212_port=hj212_port, http_port=http_port)
    engine = open_engine(s)
    n, created = prepare_network(engine, s.data_dir)
    what = "已创建示例网络 / created sample network" if created else "使用现有网络 / existing network"
    console.print(f"{what}: {n} 台设备 devices · store {engine.url.render_as_string(hide_password=True)}")
    accounts = prepare_accounts(engine, s.data_dir)
    if accounts is not None:
        console.print(f"演示账号 / demo accounts (控制台 console sign-in): {accounts}")
    final = run_demo(engine, s, DemoOptions(rate_per_device=rate, duration_s=duration), live=sys.stdout.isatty())
    console.print(f"已停止 / stopped: received {final.get('received', 0):,} · accepted {final.get('accepted', 0):,} · "
                  f"quarantined {final.get('quarantined', 0):,}")


@frames_app.command("stats")
@user_errors
def frames_stats(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    fmt: Annotated[str, typer.Option("--format", help="json | table")] = "table",
) -> None:
    """接收统计 / counts of frames received, accepted, duplicate, quarantined, by reason and device."""
    from tianlan.store.frames_repo import FramesRepo

    if fmt not in ("json", "table"):
        raise InputError("--format", f"must be json or table, got {fmt!r}")
    st = FramesRepo(open_engine(settings_for(data_dir, database_url))).stats()
    if fmt == "json":
        sys.stdout.write(json.dumps(st, ensure_ascii=False, indent=2) + "\n")
        return
    t = Table(title="报文统计 / frames")
    for k in ("received", "accepted", "duplicate", "quarantined", "observations"):
        t.add_column(k, justify="right")
    t.add_row(*(str(st[k]) for k in ("received", "accepted", "duplicate", "quarantined", "observations")))
    console.print(t)
    if st["by_reason"]:
        r = Table("reason / 原因", "frames", title="隔离原因 / quarantine reasons")
        for k, v in st["by_reason"].items():
            r.add_row(k, str(v))
        console.print(r)


@frames_app.command("quarantine")
@user_errors
def frames_quarantine(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    reason: Annotated[str | None, typer.Option(help="only this reason code")] = None,
    limit: Annotated[int, typer.Option(help="most recent N")] = 20,
) -> None:
    """隔离报文 / list quarantined frames with their reason and bytes."""
    from tianlan.store.frames_repo import FramesRepo

    rows = FramesRepo(open_engine(settings_for(data_dir, database_url))).quarantined(limit=limit, reason=reason)
    t = Table("id", "received (北京时间)", "peer", "MN", "reason", "detail", "bytes")
    for r in rows:
        data = bytes(r["data"])
        t.add_row(
            str(r["id"]), utc_to_beijing_iso(r["received_utc"]), r["peer"], r["mn"] or "", r["reason"] or "",
            r["detail"] or "", repr(data[:60]) + ("…" if len(data) > 60 else ""),
        )
    console.print(t)


@data_app.command("export")
@user_errors
def data_export(
    mn: Annotated[str, typer.Option("--mn", help="设备 MN / device MN")],
    start: Annotated[str | None, typer.Option("--from", help="起始 / from (ISO 8601; Beijing time unless zoned)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="截止（不含）/ to, exclusive")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv | json")] = "csv",
    kind: Annotated[str | None, typer.Option(help="rtd | min | hour | day | rs | rt | info")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file (default stdout)")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="截至某时刻的版本 / the values in effect at this moment "
                                                              "(default: the current versions)")] = None,
    as_user: Annotated[str | None, typer.Option("--as-user", help="按此用户的权限范围导出 / export within this "
                                                                  "user's scope (default: the store operator)")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """导出监测数据 / export a device's observations (time in Beijing time, ISO 8601).

    Columns: mn, parameter, kind, time, value, flag, min, max, cou, zs, time_utc, frame_id, extra, version.
    ``value`` and ``flag`` are those in effect (approved corrections applied; docs/records.md), as of
    ``--as-of`` when given; ``version`` is the correction in effect (0: the raw value as received).
    """
    from tianlan.store.versions_repo import VersionsRepo

    if fmt not in ("csv", "json"):
        raise InputError("--format", f"must be csv or json, got {fmt!r}")
    t0 = parse_user_time(start, field="--from") if start else None
    t1 = parse_user_time(end, field="--to") if end else None
    if t0 is not None and t1 is not None and t1 <= t0:
        raise InputError("--to", "must be after --from")
    engine = open_engine(settings_for(data_dir, database_url))
    from tianlan.store.registry_repo import RegistryRepo

    if RegistryRepo(engine).get_device(mn) is None:
        raise InputError("--mn", f"no device with MN {mn!r} / 无此设备")
    user = None
    if as_user:
        from tianlan.auth.users import UsersRepo
        from tianlan.cli_common import acting_user

        user = UsersRepo(engine).get(acting_user(engine, as_user))
    at = parse_user_time(as_of, field="--as-of") if as_of else None
    versioned = VersionsRepo(engine).series(mn, start_utc=t0, end_utc=t1, kind=kind, as_of=at, user=user)
    out = open(output, "w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        if fmt == "csv":
            w = csv.writer(out)
            w.writerow(["mn", "parameter", "kind", "time", "value", "flag", "min", "max", "cou", "zs", "time_utc",
                        "frame_id", "extra", "version"])
            for vrow in versioned:
                r = vrow.row
                w.writerow([
                    r.mn, r.parameter, r.kind, utc_to_beijing_iso(r.time_utc), _num(r.value), r.flag or "",
                    _num(r.vmin), _num(r.vmax), _num(r.cou), _num(r.zs),
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r.time_utc)), r.frame_id,
                    json.dumps(r.extra, ensure_ascii=False) if r.extra else "", vrow.version,
                ])
        else:
            out.write("[")
            for i, vrow in enumerate(versioned):
                r = vrow.row
                out.write(("," if i else "") + "\n" + json.dumps({
                    "mn": r.mn, "parameter": r.parameter, "kind": r.kind, "time": utc_to_beijing_iso(r.time_utc),
                    "value": r.value, "flag": r.flag, "min": r.vmin, "max": r.vmax, "cou": r.cou, "zs": r.zs,
                    "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r.time_utc)),
                    "frame_id": r.frame_id, "extra": r.extra, "version": vrow.version,
                }, ensure_ascii=False))
            out.write("\n]\n")
    finally:
        if output:
            out.close()


@data_app.command("history")
@user_errors
def data_history(
    mn: Annotated[str, typer.Option("--mn", help="设备 MN / device MN")],
    parameter: Annotated[str, typer.Option("--parameter", help="因子编码 / HJ 212 code")],
    at: Annotated[str, typer.Option("--time", help="数据时间 / the value's period start")],
    kind: Annotated[str | None, typer.Option("--kind", help="rtd | min | hour | day (default: every kind)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
    as_user: Annotated[str | None, typer.Option("--as-user", envvar="TIANLAN_USER", help="操作人 / acting user")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """数值版本历史 / a value's history: the raw value as received and every version (docs/records.md)."""
    from tianlan.ledger.versions import effective
    from tianlan.records_cli import _ctx, _version_dict
    from tianlan.store.versions_repo import VersionsRepo

    engine, user = _ctx(data_dir, database_url, as_user)
    hist = VersionsRepo(engine).history(user, mn=mn, parameter=parameter, time_utc=parse_user_time(at, field="--time"),
                                        kind=kind)
    if as_json:
        sys.stdout.write(json.dumps([{"kind": k, "raw_value": v, "raw_flag": f,
                                      "in_effect": (effective(vs).id if effective(vs) else 0),  # type: ignore[union-attr]
                                      "versions": [_version_dict(mn, x) for x in vs]} for k, v, f, vs in hist],
                                    ensure_ascii=False, indent=1) + "\n")
        return
    for k, v, f, vs in hist:
        cur = effective(vs)
        t = Table("版本 version", "操作 action", "值 value", "标记 flag", "状态 status", "提出 proposed by (time)",
                  "批准/驳回 decided by (time)", "前值 previous", "理由 reason", "依据 document",
                  title=f"{mn} {parameter} {k} {at}")
        t.add_row("0 原始 raw", "", _num(v), f or "", "生效 in effect" if cur is None else "", "", "", "", "", "")
        for x in vs:
            t.add_row(str(x.id), x.action, _num(x.value), x.flag or "",
                      x.status + (" · 生效 in effect" if cur is not None and cur.id == x.id else ""),
                      f"{x.proposed_by} ({utc_to_beijing_iso(x.proposed_utc)[:16]})",
                      f"{x.decided_by} ({utc_to_beijing_iso(x.decided_utc)[:16]})" if x.decided_by else "",
                      _num(x.prev_value), x.reason, x.document)
        console.print(t)


def _num(v: float | None) -> str:
    return "" if v is None else repr(v)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
