"""``syncline worker`` and ``syncline scheduler``: the processes of a scaled-out deployment.

Both need ``SYNCLINE_BROKER_URL`` (Redis or RabbitMQ) and share the server's state store
(``SYNCLINE_STATE_URL``, PostgreSQL in production) and ``SYNCLINE_SECRET_KEY``. A worker runs
the queued runs; a scheduler fires due runs onto the queue while it holds the leadership lease
(``syncline serve`` with a broker does the same, so a separate scheduler is optional).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from syncline.cli.output import console, handles_errors
from syncline.cli.serve import ProjectOpt, open_server_store, project_root
from syncline.errors import ConfigError

if TYPE_CHECKING:
    from syncline.server.jobs import RunManager, RunQueue

__all__ = ["register"]

_RELOAD_EVERY_S = 30.0
"""How often a scheduler process re-reads the stored schedules (the dashboard edits them)."""


def _broker() -> tuple[str, str]:
    from syncline.workers import BROKER_ENV, broker_settings

    found = broker_settings()
    if found is None:
        raise ConfigError(f"set {BROKER_ENV} to the broker workers share, e.g. "
                          "redis://localhost:6379/0 or amqp://guest:guest@localhost:5672//, and "
                          "SYNCLINE_STATE_URL to a PostgreSQL database they all reach")
    return found


def _manager(root: Path, queue: RunQueue | None) -> RunManager:
    from syncline.server.jobs import RunManager
    from syncline.server.project.secrets import SecretBox
    from syncline.store import StateStore

    url, _, sessions = open_server_store(root)
    return RunManager(root, StateStore(url), sessions, SecretBox.from_env(), queue=queue)


@handles_errors
def worker_command(
    project: ProjectOpt = None,
    concurrency: Annotated[int, typer.Option(help="Runs this worker runs at once.")] = 2,
    loglevel: Annotated[str, typer.Option(help="Celery's log level.")] = "INFO",
) -> None:
    """Run queued syncs (a Celery worker); needs SYNCLINE_BROKER_URL."""
    from syncline.workers.worker import WorkerRuntime, run_worker

    broker, queue = _broker()
    root = project_root(project)
    manager = _manager(root, None)
    console.print(f"Syncline worker on queue {queue!r} ({concurrency} at once; project {root}).")
    run_worker(WorkerRuntime(manager), broker, queue, concurrency=concurrency, loglevel=loglevel)


@handles_errors
def scheduler_command(project: ProjectOpt = None) -> None:
    """Fire scheduled runs onto the queue while this process leads; needs SYNCLINE_BROKER_URL."""
    from syncline.workers import CeleryQueue

    broker, queue_name = _broker()
    root = project_root(project)
    queue = CeleryQueue(broker, queue_name)
    manager = _manager(root, queue)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    manager.start()
    console.print(f"Syncline scheduler on queue {queue_name!r} (project {root}); it fires "
                  "while it holds the leadership lease.")
    try:
        while not stop.wait(_RELOAD_EVERY_S):
            manager.load_schedules()
    finally:
        manager.close()
        queue.close()


def register(app: typer.Typer) -> None:
    """Add ``worker`` and ``scheduler`` to the ``syncline`` app."""
    app.command("worker")(worker_command)
    app.command("scheduler")(scheduler_command)
