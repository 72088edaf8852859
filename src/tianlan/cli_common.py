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
