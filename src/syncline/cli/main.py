"""The ``syncline`` command: thin, it parses arguments and calls the engine.

Exit codes: 0 the command did its work (a run that completed, even with rejected rows);
1 a run failed as a whole or a connection test failed; 2 the input was wrong (project file,
arguments, unknown names); 130 a run stopped by Ctrl+C or SIGTERM.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich import box
from rich.table import Table

from syncline.cli.output import console, err_console, handles_errors, print_json
from syncline.errors import ConfigError

if TYPE_CHECKING:
    from syncline.engine.runner import Runner
    from syncline.store import StateStore

__all__ = ["app"]

app = typer.Typer(
    name="syncline",
    help="Syncline: sync warehouse tables to CleverTap, sending only what changed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
ProjectOpt = Annotated[
    Path | None,
    typer.Option("--project", "-p", help="Project folder holding syncline.yml (default: here)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object, for scripts.")]


def _print_version(value: bool) -> None:
    if value:
        from syncline import __version__

        console.print(f"syncline {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False,
    log_format: Annotated[
        str, typer.Option("--log-format", help="Log lines on stderr: text, or json (one object "
                          "per line: run start and end, retries, alerts).")
    ] = "",
) -> None:
    """Syncline: sync warehouse tables to CleverTap, sending only what changed."""
    from syncline.tracing import configure_tracing, shutdown_tracing

    if configure_tracing():  # OTEL_EXPORTER_OTLP_ENDPOINT set and syncline[otel] installed
        atexit.register(shutdown_tracing)
    if log_format:
        from syncline.logs import configure_logging

        if log_format not in ("text", "json"):
            err_console.print(f"--log-format {log_format}: write text or json")
            raise typer.Exit(2)
        configure_logging("json" if log_format == "json" else "text")


@app.command()
@handles_errors
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in.")],
    users: Annotated[int, typer.Option(help="Rows in the sample users table.")] = 50_000,
) -> None:
    """Scaffold a project: syncline.yml and a sample DuckDB warehouse."""
    from syncline.demo.scaffold import init_project

    path = init_project(directory, users=users)
    console.print(f"Created [bold]{path}[/bold] and a sample warehouse in {directory}.")
    console.print(
        "Next: set CLEVERTAP_ACCOUNT_ID, CLEVERTAP_PASSCODE, CLEVERTAP_REGION (and "
        "CLEVERTAP_ENDPOINT for the sandbox), then\n"
        f"  syncline test clevertap_prod --project {directory}\n"
        f"  syncline plan users_to_clevertap --project {directory}"
    )


@app.command("test")
@handles_errors
def test_connection(
    name: Annotated[str, typer.Argument(help="A source or destination name from syncline.yml.")],
    project: ProjectOpt = None,
) -> None:
    """Test the connection to a source or a destination."""
    from syncline.config.load import load_project
    from syncline.destinations.registry import destination_client
    from syncline.sources.registry import open_source

    loaded = load_project(project)
    if name in loaded.project.sources:
        source = open_source(name, loaded.project.sources[name], loaded.root)
        try:
            source.check()
        finally:
            source.close()
    elif name in loaded.project.destinations:
        client = destination_client(loaded.project.destinations[name])
        try:
            client.check()
        finally:
            client.close()
    else:
        known = sorted([*loaded.project.sources, *loaded.project.destinations])
        raise ConfigError(f"no source or destination `{name}` (known: {', '.join(known)})")
    console.print(f"[green]✓[/green] {name}: connection works")


@app.command()
@handles_errors
def validate(
    syncs: Annotated[list[str] | None, typer.Argument(
        help="Only these syncs (default: every sync).")] = None,
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the project without sending anything: config, sources reachable, models readable,
    mapped columns present, sync keys unique and non-null, dbt models resolvable.

    One line per check; exit code 1 if any fails. The destination is not contacted (test it
    with `syncline test DESTINATION`).
    """
    from syncline.config.load import load_project
    from syncline.engine.checks import Check, validate_project

    found: list[Check] = []

    def report(check: Check) -> None:
        found.append(check)
        if not as_json:
            _print_check(check)

    try:
        loaded = load_project(project)
    except ConfigError as exc:
        report(Check("config", "valid", False, str(exc)))
    else:
        report(Check("config", f"{loaded.path.name} valid", True,
                     f"{len(loaded.project.sources)} source(s), "
                     f"{len(loaded.project.syncs)} sync(s)"))
        for check in validate_project(loaded, syncs):
            report(check)
    if as_json:
        print_json([vars(c) for c in found])
    if not all(c.ok for c in found):
        raise typer.Exit(1)


def _print_check(check: Any) -> None:
    """One line, never wrapped (a log or CI output stays greppable)."""
    mark = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
    detail = f" ({check.detail})" if check.detail and check.ok else (
        f": {check.detail}" if check.detail else "")
    console.print(f"{mark} {check.subject}: {check.what}{detail}", highlight=False,
                  soft_wrap=True)


@contextmanager
def _runner(project: Path | None, *, quiet: bool) -> Iterator[Runner]:
    """A runner on the project's state store, closed when the command is done."""
    from syncline.cli.progress import progress_for
    from syncline.cli.signals import stop_grace_s
    from syncline.config.load import lease_settings, load_project, retry_settings, state_url
    from syncline.engine.delivery import RetryPolicy
    from syncline.engine.runner import STOP_GRACE_S, Runner
    from syncline.store import StateStore

    loaded = load_project(project)
    retry = RetryPolicy(**retry_settings())  # type: ignore[arg-type]
    grace = stop_grace_s(STOP_GRACE_S)
    store = StateStore(state_url(loaded.root))
    try:
        ttls = lease_settings()
        yield Runner(loaded, store, progress=progress_for(err_console, quiet), retry=retry,
                     lease_ttl_s=ttls.get("lease_ttl_s", 60.0),
                     slot_ttl_s=ttls.get("slot_ttl_s", 10.0), stop_grace_s=grace)
    finally:
        store.close()


@contextmanager
def _store(project: Path | None) -> Iterator[StateStore]:
    """The project's state store alone, for commands that only read run records.

    ``syncline.yml`` is found but not loaded: reading the run history must not need the
    destination's secrets (``${CLEVERTAP_PASSCODE}``) set in this shell.
    """
    from syncline.config.load import find_project, state_url
    from syncline.store import StateStore

    store = StateStore(state_url(find_project(project).parent))
    try:
        yield store
    finally:
        store.close()


@app.command()
@handles_errors
def plan(
    sync: Annotated[str, typer.Argument(help="The sync to plan.")],
    project: ProjectOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Plan a full resync.")] = False,
    preview: Annotated[int, typer.Option(help="Records to show as CleverTap would get them.")] = 3,
    as_json: JsonOpt = False,
) -> None:
    """Dry run: what a run would send, without sending anything."""
    with _runner(project, quiet=True) as runner:
        summary = runner.plan(sync, full=full, preview=preview)
    data = summary.to_dict()
    if as_json:
        print_json(data)
        return
    _print_summary(data, title=f"Plan of {sync} (nothing sent)")
    _print_checks(data["checks"])
    for record in data["preview"]:
        console.print_json(orjson.dumps(record, default=str).decode())
    if data["delete_preview"]:
        shown = ", ".join(data["delete_preview"])
        more = " …" if data["to_delete"] > len(data["delete_preview"]) else ""
        console.print(f"would delete ({data['to_delete']:,}): {shown}{more}", highlight=False)


def _print_checks(checks: list[dict[str, Any]]) -> None:
    """What the local checks of every planned row found, by outcome, code and column."""
    if not checks:
        console.print("Every planned row passes the destination's rules.")
        return
    table = Table("would be", "rows", "code", "column", "reason", "e.g. keys",
                  title="Local checks of every planned row", title_justify="left")
    for c in checks:
        outcome = "rejected" if c["outcome"] == "rejected" else "sent without field"
        table.add_row(outcome, f"{c['count']:,}", c["code"], c["column"] or "", c["message"],
                      ", ".join(str(k) for k in c["examples"]))
    console.print(table)


@app.command()
@handles_errors
def run(
    sync: Annotated[str | None, typer.Argument(
        help="The sync to run (none: list the syncs).")] = None,
    project: ProjectOpt = None,
    select: Annotated[list[str] | None, typer.Option(
        "--select", "-s", help="Run the selected syncs in turn: NAME, tag:NAME, dbt:MODEL, "
        "dbt:MODEL+ (and the syncs reading models built from it); space-separated: any, "
        "comma-joined: all.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Full resync: resend every row.")] = False,
    resend_in_doubt: Annotated[
        bool,
        typer.Option("--resend-in-doubt", help="Send events a crashed run left in doubt."),
    ] = False,
    allow_mass_delete: Annotated[
        bool,
        typer.Option("--allow-mass-delete",
                     help="Delete removed profiles even beyond the sync's max_delete_percent."),
    ] = False,
    resend_events: Annotated[
        bool,
        typer.Option("--resend-events",
                     help="With --full on an event sync: resend every event (duplicates)."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a sync: send new and changed rows, then print the summary (no sync: list them).

    Ctrl+C (or SIGTERM) stops the run cleanly: no new batch, the uploads in flight get up to
    15 s to answer, the summary is printed, exit code 130. Ctrl+C again stops at once.
    """
    from syncline.cli.selected import list_syncs, run_selected
    from syncline.cli.signals import EXIT_INTERRUPTED, stop_on_signals
    from syncline.store.statuses import CANCELLED, is_success, status_text

    if sync is not None and select:
        raise ConfigError("give a sync or --select, not both")
    if sync is None and not select:
        list_syncs(project, as_json=as_json)
        return
    if select:
        with _runner(project, quiet=as_json) as runner, \
                stop_on_signals(runner.cancel, err_console, runner.stop_grace_s):
            ok = run_selected(runner, select, as_json=as_json, full=full,
                              resend_in_doubt=resend_in_doubt, resend_events=resend_events,
                              allow_mass_delete=allow_mass_delete)
        if not ok:
            raise typer.Exit(1)
        return
    assert sync is not None
    with _runner(project, quiet=as_json) as runner:
        # the objects alive now (modules, the project) live until exit: keep the collector from
        # walking them again and again while a large run allocates millions of short-lived dicts
        gc.freeze()
        with stop_on_signals(runner.cancel, err_console, runner.stop_grace_s):
            summary = runner.run(sync, full=full, resend_in_doubt=resend_in_doubt,
                                 resend_events=resend_events,
                                 allow_mass_delete=allow_mass_delete)
    data = summary.to_dict()
    data.pop("preview", None)
    if as_json:
        print_json(data)
    else:
        _print_summary(data, title=f"Run {data['run_id']} of {sync}: "
                                   f"{status_text(data['status'])}")
        if data["rejected"] or data["invalid"]:
            console.print(f"See why rows were rejected: syncline rejections {data['run_id']}")
        if data["fields_dropped"]:
            console.print(f"See which fields were left out: "
                          f"syncline rejections {data['run_id']} --dropped")
        if data["in_doubt_skipped"] or data["in_doubt_resent"]:
            console.print(f"See the keys an earlier run left in doubt: syncline in-doubt {sync}")
    if summary.status == CANCELLED:
        # uploads given up on may still be on the wire: their threads must not hold the exit
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    if not is_success(summary.status):  # rows rejected: still 0, the summary says so
        raise typer.Exit(1)


_DELETES = ("deleted", "delete_failed")
_SHOWN_IF_SET = ("not_sent", "in_doubt_skipped", "in_doubt_resent", "fields_dropped", *_DELETES)
"""Counts of rarer cases, shown in the summary when not zero (``--json`` always has them)."""


def _print_summary(data: dict[str, Any], *, title: str) -> None:
    """The run summary: every count of `syncline.store.counts`, in its order and words."""
    from syncline.store.counts import LABELS

    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    deletes = bool(data.get("to_delete") or data.get("deleted") or data.get("delete_failed"))
    for name, value in data["counts"].items():
        if name in _SHOWN_IF_SET and not value and not (deletes and name in _DELETES):
            continue
        if name == "deleted":
            table.add_row("to delete", f"{data['to_delete']:,}")
        indent = "  " if name.startswith("planned_") or name in _DELETES else ""
        table.add_row(indent + LABELS[name], f"{value:,}")
    if data.get("history"):
        table.add_row("history", str(data["history"]))
    table.add_row("duration", f"{data['duration_s']:.1f} s")
    if data.get("delivery_s"):
        rate = data["sent"] / data["delivery_s"]
        table.add_row("  of which plan", f"{data['plan_s']:.1f} s")
        table.add_row("  of which delivery", f"{data['delivery_s']:.1f} s ({rate:,.0f} records/s)")
    console.print(table)
    for warning in data.get("warnings", []):
        err_console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    if data.get("error"):
        err_console.print(f"[red]error:[/red] {data['error']}", highlight=False)
    elif data.get("delete_note"):
        err_console.print(f"[yellow]deletes held back:[/yellow] {data['delete_note']}",
                          highlight=False)
    if data.get("in_doubt_keys"):
        keys = data["in_doubt_keys"]
        shown = ", ".join(keys[:10]) + (" …" if len(keys) > 10 else "")
        console.print(f"in doubt ({len(keys)}): {shown}")


@app.command()
@handles_errors
def runs(
    sync: Annotated[str | None, typer.Argument(help="Only this sync's runs.")] = None,
    project: ProjectOpt = None,
    limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Run history: status and counts of the newest runs (every count: --json)."""
    from syncline.store.statuses import status_text

    with _store(project) as store:
        records = store.runs(sync, limit=limit)
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    # the columns every run has, narrow enough for an 80-column terminal; the rarer counts
    # (failed, in doubt, not sent, deletes, ...) go in "also" when not zero, in their words
    table = Table(title="Runs, newest first (started: UTC)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, padding=0)
    for header in ("run", "sync", "status", "started", "planned", "accepted", "rejected",
                   "invalid", "also"):
        number = header in ("run", "planned", "accepted", "rejected", "invalid")
        table.add_column(header, justify="right" if number else "left",
                         min_width=_MIN_WIDTHS.get(header, len(header)),
                         overflow="fold")
    for r in records:
        c = r.counts
        table.add_row(
            str(r.id), r.sync, status_text(r.status), r.started_at.strftime("%m-%d %H:%M"),
            f"{c['planned_new'] + c['planned_changed']:,}", f"{c['accepted']:,}",
            f"{c['rejected']:,}", f"{c['invalid']:,}", _also_cell(c),
        )
    console.print(table)


_MIN_WIDTHS = {"sync": 6, "status": len("rejections"), "also": 12}
_ALSO = ("failed", "in_doubt", "not_sent", "in_doubt_skipped", "in_doubt_resent",
         "fields_dropped", "deleted", "delete_failed")


def _also_cell(counts: dict[str, int]) -> str:
    """The rarer counts of a run that are not zero, e.g. ``2 failed, 1 in doubt``."""
    return ", ".join(f"{counts[name]:,} {name.replace('_', ' ')}" for name in _ALSO
                     if counts[name])


@app.command()
@handles_errors
def rejections(
    run_id: Annotated[int, typer.Argument(help="The run (see `syncline runs`).")],
    project: ProjectOpt = None,
    code: Annotated[str | None, typer.Option(help="Only this code (e.g. 515).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 100,
    dropped: Annotated[bool, typer.Option(
        "--dropped", help="Show the fields left out of sent records (drop_field).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The rows a run rejected, with code, reason, key and column."""
    if dropped:
        _dropped_fields(run_id, project, limit, as_json)
        return
    with _store(project) as store:
        store.run(run_id)
        rows = store.rejections(run_id, code=code, limit=limit)
    if as_json:
        print_json([
            {"sync_key": r.sync_key, "code": r.code, "message": r.message, "column": r.column,
             "record": r.record} for r in rows
        ])
        return
    table = Table("key", "code", "column", "reason")
    for r in rows:
        table.add_row(str(r.sync_key), r.code, r.column or "", r.message)
    console.print(table)


def _dropped_fields(run_id: int, project: Path | None, limit: int, as_json: bool) -> None:
    """The warnings of a run: each field left out of a record that was sent."""
    with _store(project) as store:
        store.run(run_id)
        rows = store.dropped_fields(run_id, limit=limit)
    if as_json:
        print_json([{"sync_key": r.sync_key, "field": r.field, "column": r.column,
                     "code": r.code, "message": r.message} for r in rows])  # fmt: skip
        return
    table = Table("key", "field", "column", "code", "reason", title="Fields dropped (record sent)")
    for r in rows:
        table.add_row(str(r.sync_key), r.field, r.column or "", r.code, r.message)
    console.print(table)


@app.command("in-doubt")
@handles_errors
def in_doubt(
    sync: Annotated[str, typer.Argument(help="The event sync.")],
    project: ProjectOpt = None,
    limit: Annotated[int, typer.Option(help="Look at this many recent runs.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Event keys whose upload was cut short: maybe in CleverTap, maybe not, and what was done."""
    with _store(project) as store:
        rows = [
            {"run_id": r.id, "sync_key": k.sync_key, "action": k.action, "reason": k.reason}
            for r in store.runs(sync, limit=limit)
            for k in store.in_doubt(r.id)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("run", "key", "action", "reason")
    for row in rows:
        table.add_row(str(row["run_id"]), str(row["sync_key"]), str(row["action"]),
                      str(row["reason"] or ""))
    console.print(table)
    console.print(
        "skipped: marked as sent, never resent (check CleverTap; `syncline run SYNC "
        "--resend-in-doubt` resends the next ones) · resent: sent again · pending: left by a "
        "failed upload, resolved by the next run"
    )


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8899,
    data: Annotated[
        Path | None, typer.Option(help="Keep data in this folder (default: in memory).")
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option(
            envvar="SYNCLINE_SANDBOX_ACCOUNTS",
            help="ID:PASSCODE[:REGION]; repeat for more accounts or passcodes. On the command "
                 "line a passcode shows in `ps`: prefer SYNCLINE_SANDBOX_ACCOUNTS (entries "
                 "separated by spaces) or --accounts-file.",
        ),
    ] = None,
    accounts_file: Annotated[
        Path | None, typer.Option(envvar="SYNCLINE_SANDBOX_ACCOUNTS_FILE",
                                  help="YAML or JSON list of accounts.")
    ] = None,
    faults: Annotated[
        str | None,
        typer.Option(help='Fault injection as JSON, e.g. \'{"ACC": {"latency_ms": 300}}\'.'),
    ] = None,
) -> None:
    """Run the CleverTap-compatible sandbox server (for demos, tests and rehearsals)."""
    from syncline_sandbox.__main__ import main as sandbox_main

    argv = ["--host", host, "--port", str(port)]
    if data is not None:
        argv += ["--data", str(data)]
    for item in account or []:
        argv += ["--account", item]
    if accounts_file is not None:
        argv += ["--accounts-file", str(accounts_file)]
    if faults is not None:
        argv += ["--faults", faults]
    raise typer.Exit(sandbox_main(argv) or 0)


@app.command("log")
@handles_errors
def sync_log(
    sync: Annotated[str, typer.Argument(help="The sync whose log to read.")],
    key: Annotated[str, typer.Option("--key", "-k", help="The sync key to trace.")],
    project: ProjectOpt = None,
    limit: Annotated[int, typer.Option(help="Most rows to show, newest first.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """One key's history in the sync log: every run that handled it, and how."""
    with _runner(project, quiet=True) as runner:
        entries = runner.key_history(sync, key, limit=limit)
    if as_json:
        print_json([vars(e) for e in entries])
        return
    if not entries:
        console.print(f"no sync log rows for key {key!r} of sync `{sync}`")
        return
    table = Table("run", "when (UTC)", "operation", "outcome", "code", "column", "message")
    for e in entries:
        table.add_row(str(e.run_id), e.logged_at.strftime("%Y-%m-%d %H:%M:%S"), e.operation,
                      e.outcome, e.code or "", e.column or "", e.message or "")
    console.print(table)


def _register_subcommands() -> None:
    from syncline.cli.alerts import alerts_app
    from syncline.cli.serve import register
    from syncline.cli.sources import sources_app
    from syncline.cli.workers import register as register_workers

    register(app)
    register_workers(app)
    app.add_typer(sources_app, name="sources")
    app.add_typer(alerts_app, name="alerts")


_register_subcommands()


def main() -> None:
    """Entry point for ``python -m syncline``."""
    app()
