"""``tianlan user …`` and ``tianlan apikey …``: people, roles, scopes and API keys (issue 5 §0).

Administration needs an administrator (``--as-user`` / ``TIANLAN_USER`` with role ``admin``),
except on a store without users, where the first one is created as ``system``. Every change is a
ledger entry attributed to the acting user. Passwords are read from a hidden prompt or, with
``--password-stdin``, from the first line of standard input (scripts); never from an option.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tianlan.auth.roles import LABELS, Role
from tianlan.cli_common import AsUser, DatabaseUrl, DataDir, acting_user, console, open_engine, settings_for, user_errors
from tianlan.errors import InputError

app = typer.Typer(help="用户、角色与权限范围 / users, roles and scopes", no_args_is_help=True)
apikey_app = typer.Typer(help="API 密钥（协作部门）/ API keys for other departments' systems", no_args_is_help=True)

PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码 / read the password from stdin")]
Json = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]
ADMINS = frozenset({Role.ADMIN})


def _engine(data_dir: Path | None, database_url: str | None):  # type: ignore[no-untyped-def]
    return open_engine(settings_for(data_dir, database_url))


def _password(stdin: bool, prompt: str = "密码 / password") -> str:
    if stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InputError("--password-stdin", "no password on standard input")
        return line
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=True)


def _roles_help() -> str:
    return " | ".join(r.value for r in Role)


@app.command("add")
@user_errors
def add(
    username: Annotated[str, typer.Option("--username", help="用户名 / login name")],
    role: Annotated[str, typer.Option("--role", help=f"角色 / role: {_roles_help()}")],
    scope: Annotated[str, typer.Option("--scope", help="范围 / region, enterprise or agency code (province code for "
                                                       "admin, province, discipline, audit)")],
    name: Annotated[str, typer.Option("--name", help="姓名 / display name")] = "",
    password_stdin: PasswordStdin = False,
    as_user: AsUser = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """新增用户（生成个人签名密钥）/ add a user with a personal Ed25519 signing key."""
    from tianlan.auth.users import UsersRepo

    engine = _engine(data_dir, database_url)
    actor = acting_user(engine, as_user, roles=ADMINS)
    u = UsersRepo(engine).add(username, _password(password_stdin), role, scope, display_name=name, actor=actor)
    console.print(f"已新增用户 {u.username}（{LABELS[u.role]}，范围 {u.scope}）/ user added; public key "
                  f"{u.public_key.hex() if u.public_key else '-'}", highlight=False)


@app.command("list")
@user_errors
def list_(
    role: Annotated[str | None, typer.Option("--role", help="只列此角色 / only this role")] = None,
    as_json: Json = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """用户列表 / list users."""
    from tianlan.auth.users import UsersRepo

    users = UsersRepo(_engine(data_dir, database_url)).list(role)
    if as_json:
        typer.echo(json.dumps([{"id": u.id, "username": u.username, "display_name": u.display_name,
                                "role": u.role.value, "scope": u.scope, "active": u.active,
                                "public_key": u.public_key.hex() if u.public_key else None} for u in users],
                              ensure_ascii=False, indent=1))
        return
    t = Table("id", "用户名 username", "姓名 name", "角色 role", "范围 scope", "状态 status", "公钥 public key")
    for u in users:
        t.add_row(str(u.id), u.username, u.display_name, LABELS[u.role], u.scope,
                  "启用 active" if u.active else "停用 disabled", (u.public_key.hex()[:16] + "…") if u.public_key else "")
    console.print(t)


def _set_active(username: str, active: bool, as_user: str | None, data_dir: Path | None, database_url: str | None) -> None:
    from tianlan.auth.users import UsersRepo

    engine = _engine(data_dir, database_url)
    actor = acting_user(engine, as_user, roles=ADMINS)
    u = UsersRepo(engine).set_active(username, active, actor=actor)
    console.print(f"用户 {u.username} 已{'启用' if u.active else '停用'} / user {'enabled' if u.active else 'disabled'}",
                  highlight=False)


@app.command("disable")
@user_errors
def disable(username: Annotated[str, typer.Argument(help="用户名 / username")], as_user: AsUser = None,
            data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """停用用户（不删除；记录保留）/ disable a user (never deleted: their records stay attributable)."""
    _set_active(username, False, as_user, data_dir, database_url)


@app.command("enable")
@user_errors
def enable(username: Annotated[str, typer.Argument(help="用户名 / username")], as_user: AsUser = None,
           data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """重新启用用户 / enable a disabled user."""
    _set_active(username, True, as_user, data_dir, database_url)


@app.command("passwd")
@user_errors
def passwd(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取（本人修改时第一行旧密码、"
                                                                          "第二行新密码）/ read from stdin (own change: "
                                                                          "old password, then new, one per line)")] = False,
    as_user: AsUser = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """修改密码：本人修改保留签名密钥；管理员重置则更换密钥 / change a password.

    Run as the user themselves, the old password is asked and the personal key is kept; run by an
    administrator for someone else, the password is reset and a new key pair issued (the old
    private key cannot be opened without the old password).
    """
    from tianlan.auth.users import UsersRepo

    engine = _engine(data_dir, database_url)
    own = as_user == username
    actor = acting_user(engine, as_user, roles=None if own else ADMINS)
    old = None
    if own:
        old = sys.stdin.readline().rstrip("\r\n") if password_stdin else typer.prompt("旧密码 / old password",
                                                                                        hide_input=True)
    u = UsersRepo(engine).set_password(username, _password(password_stdin, "新密码 / new password"), actor=actor,
                                       old_password=old)
    console.print(f"用户 {u.username} 的密码已更新{'，签名密钥已更换' if not own else ''} / password changed"
                  f"{'; new key pair issued' if not own else ''}", highlight=False)


# --- API keys --------------------------------------------------------------------------------------

@apikey_app.command("create")
@user_errors
def apikey_create(
    name: Annotated[str, typer.Option("--name", help="名称（哪个部门的哪个系统）/ whose system")],
    scope: Annotated[str, typer.Option("--scope", help="范围 / region code the key may read")],
    role: Annotated[str, typer.Option("--role", help="角色 / role (normally department)")] = "department",
    rate_limit: Annotated[int, typer.Option("--rate-limit", help="每分钟请求上限 / requests per minute")] = 60,
    as_user: AsUser = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """新建 API 密钥（密钥只显示一次）/ create an API key; the secret is shown once."""
    from tianlan.auth.apikeys import ApiKeysRepo

    engine = _engine(data_dir, database_url)
    actor = acting_user(engine, as_user, roles=ADMINS)
    key, secret = ApiKeysRepo(engine).create(name, role, scope, rate_limit_per_min=rate_limit, actor=actor)
    console.print(f"API 密钥 #{key.id} 已创建；请立即保存，之后无法再次查看 / key #{key.id} created; store the secret "
                  "now, it cannot be shown again:", highlight=False)
    typer.echo(secret)


@apikey_app.command("list")
@user_errors
def apikey_list(as_json: Json = False, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """API 密钥列表（不含密钥本身）/ list API keys (never the secrets)."""
    from tianlan.auth.apikeys import ApiKeysRepo

    keys = ApiKeysRepo(_engine(data_dir, database_url)).list()
    if as_json:
        typer.echo(json.dumps([{"id": k.id, "name": k.name, "prefix": k.prefix, "role": k.role.value, "scope": k.scope,
                                "rate_limit_per_min": k.rate_limit_per_min, "active": k.active} for k in keys],
                              ensure_ascii=False, indent=1))
        return
    t = Table("id", "名称 name", "前缀 prefix", "角色 role", "范围 scope", "限速 /min", "状态 status")
    for k in keys:
        t.add_row(str(k.id), k.name, f"tlk_{k.prefix}_…", k.role.value, k.scope, str(k.rate_limit_per_min),
                  "有效 active" if k.active else "已吊销 revoked")
    console.print(t)


@apikey_app.command("revoke")
@user_errors
def apikey_revoke(key_id: Annotated[int, typer.Argument(help="密钥编号 / key id")], as_user: AsUser = None,
                  data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """吊销 API 密钥 / revoke an API key."""
    from tianlan.auth.apikeys import ApiKeysRepo

    engine = _engine(data_dir, database_url)
    actor = acting_user(engine, as_user, roles=ADMINS)
    k = ApiKeysRepo(engine).revoke(key_id, actor=actor)
    console.print(f"API 密钥 #{k.id}（{k.name}）已吊销 / key revoked", highlight=False)
