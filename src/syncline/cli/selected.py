"""``syncline run`` without a sync: list the syncs, or run those ``--select`` names in turn.

One summary line per sync, so a job log after ``dbt build`` shows at a glance which syncs ran
and how each ended; the exit code is 1 if any failed, so the job fails too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from syncline.cli.output import console, err_console, print_json
from syncline.errors import SynclineError
from syncline.store.statuses import is_success, status_text

if TYPE_CHECKING:
    from syncline.config.models import SyncConfig
    from syncline.engine.runner import Runner

__all__ = ["list_syncs", "run_selected"]


def list_syncs(project: Path | None, *, as_json: bool) -> None:
    """The project's syncs: what each reads and where it sends it."""
    from syncline.config.load import load_project

    syncs = load_project(project).project.syncs
    if as_json:
        print_json([{"name": name, "source": s.source, "model": _model(s),
                     "destination": s.destination, "object": s.object, "tags": s.tags,
                     "schedule": s.schedule} for name, s in syncs.items()])
        return
    table = Table("sync", "source", "model", "destination", "object", "tags", "schedule",
                  title="Syncs (run one: syncline run NAME, or some: syncline run --select ...)",
                  title_justify="left")
    for name, s in syncs.items():
        table.add_row(name, s.source, _model(s), s.destination, s.object, ", ".join(s.tags),
                      s.schedule or "")
    console.print(table)


def _model(sync: SyncConfig) -> str:
    if sync.model.dbt is not None:
        return f"dbt:{sync.model.dbt}"
    return sync.model.table or "query"


def run_selected(runner: Runner, selectors: list[str], *, as_json: bool,
                 **options: Any) -> bool:
    """Run each selected sync in turn (a failure does not stop the others); True if all ran
    to completion."""
    from syncline.config.selection import select_syncs

    loaded = runner.project
    names = select_syncs(loaded.project, loaded.root, selectors)
    if not names:
        err_console.print(f"--select {' '.join(selectors)}: no sync reads the selected dbt "
                          "models; nothing to run", highlight=False)
    results: list[dict[str, Any]] = []
    for name in names:
        try:
            data = runner.run(name, **options).to_dict()
            data.pop("preview", None)
        except SynclineError as exc:  # the run could not start: say so, go on with the others
            data = {"sync": name, "status": "failed", "error": str(exc)}
        data["sync"] = name
        results.append(data)
        if not as_json:
            console.print(_line(data), highlight=False, soft_wrap=True)  # one line, for logs
    if as_json:
        print_json(results)
    return all(is_success(r["status"]) for r in results)


def _line(data: dict[str, Any]) -> str:
    if "run_id" not in data:
        return f"{data['sync']}: failed to start: {data['error']}"
    line = (f"{data['sync']}: {status_text(data['status'])} (run {data['run_id']}): "
            f"sent {data['sent']:,}, accepted {data['accepted']:,}, rejected {data['rejected']:,}, "
            f"invalid {data['invalid']:,}, "
            f"failed {data['failed']:,} in {data['duration_s']:.1f} s")
    return line + (f": {data['error']}" if data.get("error") else "")

