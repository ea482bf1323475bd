"""``syncline serve``, ``syncline user add``, ``syncline apply`` and ``syncline export``.

The server keeps its definitions (connections, syncs) and users in the project's state store,
next to the runs. ``apply`` copies ``syncline.yml`` into it, ``export`` writes it back as YAML
with every secret replaced by a ``${SYNCLINE_<NAME>_<FIELD>}`` reference.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from syncline.cli.output import console, err_console, handles_errors
from syncline.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

__all__ = ["register"]


ProjectOpt = Annotated[
    Path | None,
    typer.Option("--project", "-p", help="Project folder (its state store holds the server's "
                                         "users and definitions; default: here)."),
]

def project_root(project: Path | None) -> Path:
    """The project folder (default: here), which must exist.

    Without ``--project``, here must look like a project (a ``syncline.yml`` or a state store
    already in ``.syncline/``), unless ``SYNCLINE_STATE_URL`` names the store: otherwise
    ``syncline user add`` run from the wrong folder would create a store of its own, and the
    user could not sign in to ``syncline serve --project DIR``.
    """
    from syncline.config.load import FILENAME

    root = (project or Path.cwd()).resolve()
    if not root.is_dir():
        raise ConfigError(f"project folder {root} does not exist; pass --project DIR")
    is_project = (root / FILENAME).is_file() or (root / ".syncline" / "state.db").is_file()
    if project is None and not is_project and not os.environ.get("SYNCLINE_STATE_URL"):
        raise ConfigError(
            f"{root} is not a Syncline project (no {FILENAME}, no .syncline/state.db); pass "
            f"--project DIR, the same folder as `syncline serve --project DIR`"
        )
    return root


def shown_url(url: str) -> str:
    """The store's URL without its password, to say which store a command used."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def open_server_store(root: Path) -> tuple[str, Engine, sessionmaker[Session]]:
    """The state store's URL, an engine with the server's tables created, and a session maker."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from syncline.config.load import state_url
    from syncline.store import StateStore

    url = state_url(root)
    StateStore(url).close()  # brings every table, the server's included, to the latest migration
    engine = create_engine(url)
    return url, engine, sessionmaker(engine, expire_on_commit=False)


@handles_errors
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    project: ProjectOpt = None,
    https_only: Annotated[
        bool, typer.Option("--https-only", help="Secure cookies (behind a TLS proxy).")
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None, typer.Option(help="Trust X-Forwarded-For from these proxies (e.g. "
                                      "127.0.0.1), so each client keeps its own address.")
    ] = None,
) -> None:
    """Serve the dashboard and the REST API, and run scheduled syncs."""
    from syncline.server.app import serve
    from syncline.server.jobs import RunManager
    from syncline.server.project.secrets import SecretBox
    from syncline.server.settings import ServerSettings
    from syncline.store import StateStore
    from syncline.workers.queue import broker_settings

    root = project_root(project)
    url, engine, sessions = open_server_store(root)
    settings = ServerSettings.from_env(sessions, host=host, port=port, https_only=https_only,
                                       forwarded_allow_ips=forwarded_allow_ips)
    store = StateStore(url)
    queue = None
    broker = broker_settings()
    if broker is not None:  # the scale-out path: runs go to `syncline worker` processes
        from syncline.workers import CeleryQueue

        queue = CeleryQueue(*broker)
    jobs = RunManager(root, store, sessions, SecretBox(settings.secret_key), queue=queue)
    console.print(f"Syncline on http://{host}:{port} (project {root}, state store "
                  f"{shown_url(url)}); Ctrl+C stops it.")
    try:
        serve(settings, jobs)
    finally:
        store.close()
        engine.dispose()


@handles_errors
def apply_command(project: ProjectOpt = None) -> None:
    """Copy syncline.yml's sources, destinations and syncs into the state store (the server's)."""
    from syncline.config.load import load_project
    from syncline.server.project.definitions import apply_project
    from syncline.server.project.secrets import SecretBox

    loaded = load_project(project)
    box = SecretBox.from_env()
    references = _references(loaded.path)
    _, engine, sessions = open_server_store(loaded.root)
    try:
        with sessions() as session:
            counts = apply_project(session, box, loaded.project, references)
            session.commit()
    finally:
        engine.dispose()
    console.print(
        f"Applied {counts['sources']} source(s), {counts['destinations']} destination(s) and "
        f"{counts['syncs']} sync(s) from {loaded.path}."
    )


def _references(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    """The connection fields ``syncline.yml`` writes as ``${VAR}``, kept as references.

    Read again without interpolation; ``load_project`` has already checked the same file
    (size, aliases, validity), so a plain safe load is enough here.
    """
    import yaml

    from syncline.server.project.references import references_in

    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found: dict[tuple[str, str], dict[str, str]] = {}
    for kind in ("source", "destination"):
        section = raw.get(f"{kind}s") or {}
        for name, config in section.items() if isinstance(section, dict) else ():
            if isinstance(config, dict) and references_in(config):
                found[(kind, str(name))] = references_in(config)
    return found


@handles_errors
def export_command(
    project: ProjectOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the YAML here (default: stdout).")
    ] = None,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="Also write the secrets as VAR=value lines here (0600)."),
    ] = None,
) -> None:
    """Write the state store's definitions as syncline.yml; secrets become ${ENV} references."""
    import yaml

    from syncline.server.project.definitions import export_project
    from syncline.server.project.secrets import SecretBox

    box = SecretBox.from_env()
    _, engine, sessions = open_server_store(project_root(project))
    try:
        with sessions() as session:
            data, env = export_project(session, box)
    finally:
        engine.dispose()
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"Wrote {output}.")
    if env_file is not None:
        _write_env(env_file, env)
        err_console.print(f"Wrote {len(env)} secret(s) to {env_file}; keep it out of git.")
    elif env:
        err_console.print("Set these variables before `syncline apply` or a run: "
                          + ", ".join(sorted(env)))


def _write_env(path: Path, env: dict[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        for name, value in sorted(env.items()):
            handle.write(f"{name}={value}\n")


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``user add``, ``apply`` and ``export`` to the ``syncline`` app."""
    app.command("serve")(serve_command)
    app.command("apply")(apply_command)
    app.command("export")(export_command)
    from syncline.cli.users import register_users

    register_users(app)
