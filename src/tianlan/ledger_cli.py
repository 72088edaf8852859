"""``tianlan ledger …``: verify, signed head, seal, checkpoint, inclusion proofs, entries (issue 5 §1-2).

``verify`` exits 0 when the store is intact and 1 when anything was found broken, naming the first
broken entry and the table and row concerned (``--json`` for the full report). It opens the store
without seeding anything, so it never writes. The trusted platform key is taken from
``--public-key`` (64 hex digits or a PEM file), else from the platform key file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from tianlan.cli_common import DatabaseUrl, DataDir, console, err_console, settings_for, user_errors
from tianlan.errors import InputError
from tianlan.model.timeutil import utc_to_beijing_iso
from tianlan.settings import Settings, database_url

app = typer.Typer(help="防篡改账本：核验、签名头、封存、证明 / tamper-evident ledger: verify, signed head, seal, proofs",
                  no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]
PublicKey = Annotated[str | None, typer.Option("--public-key", help="可信的平台公钥：64 位十六进制或 PEM 文件 / trusted "
                                                                    "platform public key: 64 hex digits or a PEM file")]

STAGES = {"chain": "账本链 / chain", "frames": "原始报文 / frames", "observations": "观测封存 / observations",
          "rows": "受保护行 / covered rows"}


def _store(s: Settings):  # type: ignore[no-untyped-def]
    """The store, migrated but not seeded (verification must not write)."""
    from tianlan.store.engine import open_store

    return open_store(database_url(s), sqlite_synchronous=s.sqlite_synchronous)


def _key(s: Settings):  # type: ignore[no-untyped-def]
    from tianlan.ledger.checkpoints import key_path, load_or_create_key

    return load_or_create_key(key_path(s))


def _trusted(s: Settings, public_key: str | None) -> bytes | None:
    from tianlan.auth.keys import public_bytes
    from tianlan.ledger.checkpoints import key_path, load_key, load_public_key

    if public_key:
        return load_public_key(public_key)
    p = key_path(s)
    return public_bytes(load_key(p)) if p.exists() else None


@app.command("verify")
@user_errors
def verify(
    public_key: PublicKey = None,
    max_problems: Annotated[int, typer.Option("--max-problems", help="最多列出问题数 / list at most this many")] = 200,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=0, help="并行进程数（报文与观测）/ worker processes for frames and "
                                                                  "observations (default: CPUs, at most 8)")] = 0,
    as_json: Json = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """核验账本：链、默克尔根、报文字节、检查点签名、受保护行 / verify chain, Merkle roots, frames, signatures, rows."""
    from tianlan.ledger.verify import verify as run

    s = settings_for(data_dir, database_url)
    engine = _store(s)
    trusted = _trusted(s, public_key)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True, disable=as_json) as progress:
        tasks: dict[str, TaskID] = {}

        def prog(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(STAGES.get(stage, stage), total=total or None)
            progress.update(tasks[stage], completed=done, total=total or None)

        report = run(engine, public_key=trusted, progress=prog, max_problems=max_problems,
                     jobs=jobs or min(8, os.cpu_count() or 1))
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
        raise typer.Exit(0 if report.ok else 1)
    for w in report.warnings:
        console.print(f"[yellow]注意 / note:[/] {w}", highlight=False)
    console.print(f"条目 entries {report.entries} · 检查点 checkpoints {report.checkpoints} · 报文 frames {report.frames} · "
                  f"观测 observations {report.observation_rows} rows / {report.observation_windows} h · "
                  f"受保护行 covered rows {report.rows} · "
                  f"未签名尾部 unsigned tail {report.unsigned_tail} · {report.seconds:.1f} s", highlight=False)
    if report.ok:
        console.print("[bold green]账本完好 / ledger intact[/]")
        return
    t = Table("类型 kind", "条目 seq", "表 table", "行 row", "说明 message", title="发现的问题 / problems found")
    for p in report.problems:
        t.add_row(p.kind, "" if p.seq is None else str(p.seq), p.table or "", p.row or "", p.message)
    console.print(t)
    first = report.first()
    assert first is not None
    err_console.print(f"[bold red]账本已被篡改 / ledger BROKEN:[/] first broken entry "
                      f"{first.seq if first.seq is not None else '-'}, table {first.table or '-'}, row {first.row or '-'}: "
                      f"{first.message}" + (" (more problems not listed)" if report.truncated else ""), highlight=False)
    raise typer.Exit(1)


@app.command("head")
@user_errors
def head(
    no_sign: Annotated[bool, typer.Option("--no-sign", help="只显示最近的已签名头，不新签 / show the latest signed "
                                                           "head without signing a new one")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """当前签名账本头（JSON，可对外公布）/ print the current signed head (JSON) for publication."""
    from tianlan.ledger import checkpoints

    s = settings_for(data_dir, database_url)
    engine = _store(s)
    if not no_sign:
        checkpoints.checkpoint(engine, _key(s))
    cp = checkpoints.latest(engine)
    if cp is None:
        raise InputError("ledger", "账本为空，尚无签名头 / the ledger is empty: no signed head yet")
    typer.echo(json.dumps(cp.to_json(), ensure_ascii=False, indent=1))


@app.command("checkpoint")
@user_errors
def checkpoint(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """封存待封存报文与观测，并签名检查点 / seal pending frames and observations, then sign a checkpoint."""
    _seal_and_sign(settings_for(data_dir, database_url))


@app.command("seal")
@user_errors
def seal(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """封存未封存的原始报文（旧数据目录、启动时）/ seal frames committed without a seal (older data, start-up)."""
    _seal_and_sign(settings_for(data_dir, database_url))


def _seal_and_sign(s: Settings) -> None:
    from tianlan.ledger import checkpoints
    from tianlan.ledger.frames import seal_pending

    engine = _store(s)
    n = seal_pending(engine)
    cp = checkpoints.checkpoint(engine, _key(s))
    console.print(f"已封存报文 {n['frames']} 条、观测 {n['observation_windows']} 个小时窗口 / sealed {n['frames']} frames "
                  f"and {n['observation_windows']} hour windows of observations", highlight=False)
    if cp is None:
        console.print("无新条目，无需签名 / no new entries: nothing to sign")
    else:
        console.print(f"检查点 #{cp.id}：条目 {cp.first_seq}…{cp.seq}，头 {cp.hash.hex()} / checkpoint signed",
                      highlight=False)


@app.command("prove")
@user_errors
def prove(
    frame: Annotated[int, typer.Option("--frame", help="原始报文编号 / raw_frames id")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="写入文件 / write to this file")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """报文存在性证明（JSON，scripts/verify_proof.py 可独立核验）/ inclusion proof of one frame (JSON)."""
    from tianlan.ledger import checkpoints
    from tianlan.ledger.proof import prove_frame
    from tianlan.store import ledger_repo

    s = settings_for(data_dir, database_url)
    engine = _store(s)
    with engine.connect() as conn:
        signed = ledger_repo.last_checkpoint(conn)
        seal = ledger_repo.seal_covering(conn, "frames", frame)
    if seal is not None and (signed is None or signed.seq < seal.seq):
        checkpoints.checkpoint(engine, _key(s))  # the seal is newer than the last signed head: sign one now
    text = json.dumps(prove_frame(engine, frame), ensure_ascii=False, indent=1)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        console.print(f"证明已写入 / proof written: {output}", highlight=False)


@app.command("public-key")
@user_errors
def public_key(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """平台公钥（十六进制与 PEM，供对外公布）/ print the platform public key (hex and PEM) for publication."""
    from cryptography.hazmat.primitives import serialization

    from tianlan.auth.keys import key_id, public_bytes

    k = _key(settings_for(data_dir, database_url))
    pub = public_bytes(k)
    typer.echo(f"key_id {key_id(pub)}\nhex {pub.hex()}")
    typer.echo(k.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode().rstrip())


@app.command("log")
@user_errors
def log(
    kind: Annotated[str | None, typer.Option("--kind", help="条目类型前缀 / kind prefix, e.g. user. or registry.")] = None,
    table: Annotated[str | None, typer.Option("--table", help="表 / subject table")] = None,
    row: Annotated[str | None, typer.Option("--row", help="行键 / subject key (with --table)")] = None,
    limit: Annotated[int, typer.Option("--limit", help="最多条数（最新在前）/ at most this many, newest first")] = 50,
    as_json: Json = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """账本条目（谁、何时、做了什么）/ ledger entries: who did what, when."""
    from tianlan.store import ledger_repo

    engine = _store(settings_for(data_dir, database_url))
    with engine.connect() as conn:
        rows = ledger_repo.recent_entries(conn, kind_prefix=kind, table=table, key=row, limit=limit)
    if as_json:
        typer.echo(json.dumps([{"seq": e.seq, "time": utc_to_beijing_iso(e.time_utc), "kind": e.kind, "actor": e.actor,
                                "table": e.subject_table, "row": e.subject_key, "payload": json.loads(e.payload),
                                "hash": e.hash.hex()} for e in rows], ensure_ascii=False, indent=1))
        return
    t = Table("seq", "时间 time (北京 Beijing)", "类型 kind", "操作人 actor", "表 table", "行 row", "内容 payload")
    for e in rows:
        t.add_row(str(e.seq), utc_to_beijing_iso(e.time_utc)[:19], e.kind, e.actor, e.subject_table, e.subject_key,
                  e.payload if len(e.payload) <= 80 else e.payload[:79] + "…")
    console.print(t)
