"""Options and helpers shared by every ``tianlan`` command."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy import Engine

from tianlan.errors import TianlanError
from tianlan.settings import Settings, database_url, load_settings
from tianlan.store.engine import open_store

console = Console()
err_console = Console(stderr=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="数据目录 / data directory (default ./tianlan-data; env TIANLAN_DATA_DIR)")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="数据库 / store URL, e.g. postgresql+psycopg://… (env TIANLAN_DATABASE_URL)"),
]

F = TypeVar("F", bound=Callable[..., Any])


def settings_for(data_dir: Path | None, db_url: str | None, **more: Any) -> Settings:
    return load_settings(data_dir=data_dir, database_url=db_url, **more)


def open_engine(settings: Settings) -> Engine:
    """Open and migrate the store; seed the parameter table and Hebei regions the first time."""
    engine = open_store(database_url(settings), sqlite_synchronous=settings.sqlite_synchronous)
    try:
        from tianlan.store.registry_repo import RegistryRepo

        RegistryRepo(engine).seed_defaults()
    except ImportError:  # pragma: no cover - registry not installed in a partial checkout
        pass
    return engine


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]错误 / error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def user_errors(fn: F) -> F:
    """Turn Tianlan's own errors into one red line and exit code 2 (no traceback)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TianlanError as e:
            fail(str(e))
        except BrokenPipeError:  # `tianlan data export … | head`
            sys.stderr.close()

    return wrapper  # type: ignore[return-value]


# --- who acts (issue 5 §0: every CLI action runs as a user and is attributed to them) ------------

AsUser = Annotated[
    str | None,
    typer.Option("--as-user", envvar="TIANLAN_USER",
                 help="操作人 / act as this user (env TIANLAN_USER); required once the store has users"),
]


def acting_user(engine: Engine, as_user: str | None, *, roles: Any = None) -> str:
    """Resolve who runs this command and attribute its ledger entries to them; returns the username.

    ``as_user`` must be an active user (and have one of ``roles`` when given). A store without any
    user yet runs as ``system`` — that is how the first administrator is created. The CLI runs on
    the platform's host with its store credentials, so the name is declared, not authenticated;
    acts that must be proven (sign-offs, custody) ask for the password and sign with the user's key.
    """
    from tianlan.auth.users import UsersRepo
    from tianlan.errors import AuthError, InputError
    from tianlan.ledger.chain import SYSTEM, set_actor

    users = UsersRepo(engine)
    if not as_user:
        if users.count() == 0:
            set_actor(SYSTEM)
            return SYSTEM
        raise InputError("--as-user", "此数据库已有用户，请指明操作人 / the store has users: say who acts "
                                      "(--as-user NAME or TIANLAN_USER)")
    user = users.get(as_user)
    if not user.active:
        raise AuthError("账户已停用 / account disabled", reason=f"user {as_user!r} disabled")
    if roles is not None and user.role not in roles:
        raise AuthError(f"用户 {as_user} 的角色 {user.role.value} 无权执行此操作 / role {user.role.value} may not do this",
                        reason="role")
    set_actor(user.username)
    return user.username
