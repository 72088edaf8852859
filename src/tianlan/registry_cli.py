"""``tianlan registry …`` and ``tianlan device …``: the network registry from the command line.

Every command opens the store given by ``--data-dir`` / ``--database-url`` (env
``TIANLAN_DATABASE_URL``), seeds the default parameters and Hebei's regions into a fresh store, and
reports a user error as ``错误 / error: <message>`` on stderr with exit code 2.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console
from rich.table import Table

from tianlan.auth.roles import Role
from tianlan.cli_common import AsUser, acting_user
from tianlan.errors import InputError, NotFound, TianlanError
from tianlan.model.parameters import expected_parameters
from tianlan.model.registry import (
    CRC_VARIANTS,
    DEVICE_KINDS,
    PROTOCOLS,
    REGION_LEVELS,
    CrcName,
    Device,
    Protocol,
    SiteKind,
    default_st,
)
from tianlan.model.registry_io import (
    FORMATS,
    item_to_mapping,
    read_registry,
    registry_format,
    write_csv_section,
    write_registry,
)
from tianlan.settings import database_url as store_url
from tianlan.settings import load_settings
from tianlan.store.engine import open_store
from tianlan.store.registry_repo import RegistryRepo

app = typer.Typer(
    help="监测网络登记：导入、导出、概览 / Network registry: import, export, overview.",
    no_args_is_help=True,
)
device_app = typer.Typer(
    help="设备登记：添加、列出、查看 / Devices: add, list, show.",
    no_args_is_help=True,
)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="数据目录 / data directory (default: settings, ./tianlan-data)."),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="TIANLAN_DATABASE_URL",
                 help="数据库 URL / store URL (default: SQLite in the data directory)."),
]


def _console() -> Console:
    console = Console(highlight=False)
    # Piped or captured output gets wide tables instead of wrapped MNs.
    return console if console.is_terminal else Console(highlight=False, width=200)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Report a TianlanError as one red line on stderr and exit 2 (no traceback)."""
    try:
        yield
    except TianlanError as e:
        Console(stderr=True, highlight=False).print(f"错误 / error: {e}", style="red", markup=False,
                                                    soft_wrap=True)
        raise typer.Exit(2) from None


#: who may change the network registry once the store has users
REGISTRY_EDITORS = frozenset({Role.ADMIN, Role.PROVINCE})


@contextmanager
def _repo(data_dir: Path | None, database_url: str | None, *, writes: bool = False,
          as_user: str | None = None) -> Iterator[RegistryRepo]:
    """The registry of the store; ``writes``: the command changes it, so it runs as ``as_user``
    (an administrator or the provincial centre once the store has users) and is ledgered in their name."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    engine = open_store(store_url(settings), sqlite_synchronous=settings.sqlite_synchronous)
    try:
        if writes:
            acting_user(engine, as_user, roles=REGISTRY_EDITORS)
        repo = RegistryRepo(engine)
        if repo.is_empty():
            repo.seed_defaults()
        yield repo
    finally:
        engine.dispose()


def _option_choice(option: str, value: str | None, allowed: Sequence[str]) -> None:
    if value is not None and value not in allowed:
        raise InputError(option, f"未知取值 / unknown value {value!r}; 应为 / expected: {' | '.join(allowed)}")


# --- tianlan registry ----------------------------------------------------------------------------

@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="YAML 文件或 CSV 目录 / a .yaml file or a directory of CSV files")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_user: AsUser = None,
) -> None:
    """导入登记（全部成功或全部不导入）/ Import a registry file (all or nothing)."""
    with _user_errors(), _repo(data_dir, database_url, writes=True, as_user=as_user) as repo:
        reg = read_registry(path, known=repo.load())
        counts = repo.import_registry(reg)
    _console().print("已导入 / imported: " + ", ".join(f"{k} {n}" for k, n in counts.items()))


@app.command("export")
def export(
    path: Annotated[Path, typer.Argument(help="目标 YAML 文件或 CSV 目录 / target .yaml file or CSV directory")],
    fmt: Annotated[str | None, typer.Option("--format", help="yaml | csv (默认按后缀 / default by suffix)")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """导出全部登记 / Export the whole registry."""
    with _user_errors():
        _option_choice("--format", fmt, FORMATS)
        with _repo(data_dir, database_url) as repo:
            reg = repo.load()
        files = write_registry(reg, path, registry_format(path, fmt))
    _console().print(f"已导出 / exported {sum(reg.counts().values())} 条 / items → "
                     + ", ".join(str(f) for f in files))


def _count_table(title: str, key_header: str, counts: dict[str, int]) -> Table:
    table = Table(title=title)
    table.add_column(key_header)
    table.add_column("数量 / count", justify="right")
    for k, n in counts.items():
        table.add_row(k, str(n))
    table.add_row("合计 / total", str(sum(counts.values())), style="bold")
    return table


@app.command("show")
def show(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """登记概览 / Overview: regions by level, sites by kind, devices, parameters."""
    with _user_errors(), _repo(data_dir, database_url) as repo:
        s = repo.summary()
    console = _console()
    levels = {lvl: s["regions_by_level"].get(lvl, 0) for lvl in REGION_LEVELS} | s["regions_by_level"]
    console.print(_count_table("行政区 / regions", "级别 / level", levels))
    console.print(_count_table("站点 / sites", "类型 / kind", s["sites_by_kind"]))
    devices = Table(title="设备 / devices")
    devices.add_column("分组 / group")
    devices.add_column("取值 / value")
    devices.add_column("数量 / count", justify="right")
    for group, key in (("类型 / kind", "devices_by_kind"), ("协议 / protocol", "devices_by_protocol"),
                       ("CRC", "devices_by_crc")):
        for value, n in s[key].items():
            devices.add_row(group, value, str(n))
    devices.add_row("合计 / total", "", str(sum(s["devices_by_kind"].values())), style="bold")
    console.print(devices)
    console.print(_count_table("参数 / parameters", "体系 / system", s["parameters_by_system"]))


# --- tianlan device ------------------------------------------------------------------------------

@device_app.command("add")
def device_add(
    mn: Annotated[str, typer.Option("--mn", help="设备 MN / the device's HJ 212 MN")],
    password: Annotated[str, typer.Option("--password", help="访问密码 PW / HJ 212 password")],
    crc: Annotated[str, typer.Option("--crc", help="CRC 变体 / variant: standard | modbus-le | modbus-be")]
    = "standard",
    kind: Annotated[str | None, typer.Option(
        "--kind", help="类型 / kind: air | water | source (默认为站点类型或 air / default: the site's kind, "
        "else air)")] = None,
    site: Annotated[str | None, typer.Option("--site", help="站点代码（须已登记）/ site code (must exist)")]
    = None,
    st: Annotated[str | None, typer.Option("--st", help="系统编码 ST / HJ 212 ST (default by kind)")] = None,
    protocol: Annotated[str, typer.Option("--protocol", help="协议版本 / protocol: 2005 | 2017 | 2025")]
    = "2017",
    parameters: Annotated[str | None, typer.Option(
        "--parameters", help="监测因子 / parameter codes, e.g. a34004,a34002 (default by kind)")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="替换同 MN 设备 / replace a device with this MN")]
    = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_user: AsUser = None,
) -> None:
    """登记设备 / Register a device."""
    with _user_errors():
        _option_choice("--crc", crc, CRC_VARIANTS)
        _option_choice("--kind", kind, DEVICE_KINDS)
        _option_choice("--protocol", protocol, PROTOCOLS)
        with _repo(data_dir, database_url, writes=True, as_user=as_user) as repo:
            the_site = None
            if site is not None:
                the_site = repo.get_site(site)
                if the_site is None:
                    raise InputError("--site", f"站点不存在 / unknown site {site!r}")
                if kind is not None and kind != the_site.kind:
                    raise InputError("--kind", f"与站点类型不符 / {kind!r} does not match site {site!r} "
                                     f"of kind {the_site.kind!r}")
            kind = kind or (the_site.kind if the_site else "air")
            outlet = the_site.outlet_type if the_site else None
            codes = ([c.strip() for c in re.split(r"[;,]", parameters) if c.strip()] if parameters is not None
                     else expected_parameters(kind, outlet))
            try:
                # kind, protocol and crc were checked against their choices above.
                device = Device(mn=mn, password=password, kind=cast(SiteKind, kind),
                                st=st or default_st(kind, outlet), protocol=cast(Protocol, protocol),
                                crc=cast(CrcName, crc), site=site, parameters=codes)
            except InputError as e:
                raise InputError(f"--{e.field}", e.reason) from None
            existed = repo.get_device(mn) is not None
            device_id = repo.add_device(device, replace=replace)
    verb = "已更新设备 / device updated" if existed else "已登记设备 / device registered"
    _console().print(
        f"{verb}: MN={device.mn} (id {device_id}) 类型/kind={device.kind} 站点/site={device.site or '-'} "
        f"ST={device.st} 协议/protocol={device.protocol} CRC={device.crc} "
        f"因子/parameters={','.join(device.parameters) or '-'}",
        soft_wrap=True,
    )


@device_app.command("list")
def device_list(
    fmt: Annotated[str, typer.Option("--format", help="table | json | csv")] = "table",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """列出设备 / List devices (json and csv include passwords)."""
    with _user_errors():
        _option_choice("--format", fmt, ("table", "json", "csv"))
        with _repo(data_dir, database_url) as repo:
            devices = repo.list_devices()
    if fmt == "json":
        items = [item_to_mapping("devices", d, keep_defaults=True) for d in devices]
        sys.stdout.write(json.dumps(items, ensure_ascii=False, indent=2) + "\n")
        return
    if fmt == "csv":
        write_csv_section("devices", devices, sys.stdout)
        return
    table = Table(title=f"设备 / devices ({len(devices)})")
    for header in ("MN", "类型 / kind", "站点 / site", "ST", "协议 / protocol", "CRC", "因子数 / params",
                   "启用 / active"):
        table.add_column(header, no_wrap=True)
    for d in devices:
        table.add_row(d.mn, d.kind, d.site or "-", d.st or "-", d.protocol, d.crc, str(len(d.parameters)),
                      "是 / yes" if d.active else "否 / no")
    _console().print(table)


@device_app.command("show")
def device_show(
    mn: Annotated[str, typer.Argument(help="设备 MN / the device's MN")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """查看设备 / Show one device and its site."""
    with _user_errors(), _repo(data_dir, database_url) as repo:
        device = repo.get_device(mn)
        if device is None:
            raise NotFound("设备 / device", mn)
        site = repo.get_site(device.site) if device.site else None
    table = Table(title=f"设备 / device {device.mn}", show_header=False)
    table.add_column("字段 / field")
    table.add_column("值 / value")
    rows = [
        ("MN", device.mn), ("密码 / password", device.password), ("类型 / kind", device.kind),
        ("ST", device.st or "-"), ("协议 / protocol", device.protocol), ("CRC", device.crc),
        ("站点 / site", f"{site.code} {site.name}" if site else (device.site or "-")),
        ("因子 / parameters", ",".join(device.parameters) or "-"),
        ("启用 / active", "是 / yes" if device.active else "否 / no"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    _console().print(table)
