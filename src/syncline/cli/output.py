"""What every command shares: the consoles, JSON output, and errors turned into exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import orjson
import typer
from rich.console import Console

from syncline.errors import ConfigError, ModelError, RunLockedError, SynclineError

__all__ = ["console", "err_console", "handles_errors", "print_json"]

console = Console()
# error lines are never wrapped: a path or a message split over lines cannot be copied or grepped
err_console = Console(stderr=True, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


def handles_errors(func: Callable[P, R]) -> Callable[P, R]:
    """A red message and an exit code, never a traceback: 2 for bad input, 1 otherwise."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (ConfigError, ModelError, RunLockedError) as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(2) from None
        except SynclineError as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def print_json(data: Any) -> None:
    """One JSON document on stdout, for scripts."""
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
