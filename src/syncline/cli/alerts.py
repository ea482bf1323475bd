"""``syncline alerts test|check``: try a channel; judge silent syncs (for cron without a server)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from syncline.cli.output import console, err_console, handles_errors, print_json

__all__ = ["alerts_app"]

alerts_app = typer.Typer(help="Alerts: send a test alert, or check for syncs that went silent.",
                         no_args_is_help=True)

ProjectOpt = Annotated[
    Path | None,
    typer.Option("--project", "-p", help="Project folder holding syncline.yml (default: here)."),
]


@alerts_app.command("test")
@handles_errors
def test_alert(
    name: Annotated[str, typer.Argument(help="An alert name from syncline.yml's `alerts:`.")],
    project: ProjectOpt = None,
) -> None:
    """Send a test alert through one alert's channel."""
    from syncline.alerts import AlertNotifier
    from syncline.config.load import load_project, state_url
    from syncline.store import StateStore

    loaded = load_project(project)
    store = StateStore(state_url(loaded.root))
    try:
        sent = AlertNotifier(loaded.project, store).send_test(name)
    finally:
        store.close()
    if sent.error:
        err_console.print(f"[red]✗[/red] alert `{name}`: {sent.error}")
        raise typer.Exit(1)
    console.print(f"[green]✓[/green] alert `{name}`: test alert sent")


@alerts_app.command("check")
@handles_errors
def check(
    project: ProjectOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Judge `not_succeeded_within` for every sync now (the server does this every minute)."""
    from syncline.alerts import AlertNotifier
    from syncline.config.load import load_project, state_url
    from syncline.store import StateStore

    loaded = load_project(project)
    store = StateStore(state_url(loaded.root))
    try:
        sent = AlertNotifier(loaded.project, store).check_silence()
    finally:
        store.close()
    if as_json:
        print_json({"sent": [{**s.notice.payload(), "send_error": s.error} for s in sent]})
        return
    for s in sent:
        mark = "[red]✗[/red]" if s.error else "[green]✓[/green]"
        console.print(f"{mark} {s.notice.title}" + (f": {s.error}" if s.error else ""))
    if not sent:
        console.print("no alert changed")
