"""``deploy/compose.yaml`` starts commands that exist with the variables the code reads."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.main import get_command

from syncline.cli.main import app
from syncline.workers import BROKER_ENV

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose.yaml"


def test_compose_runs_real_commands_with_the_variables_syncline_reads() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    commands = get_command(app).commands  # type: ignore[attr-defined]
    syncline = {n: s for n, s in compose["services"].items() if "command" in s and "build" in s}
    assert {"server", "scheduler", "worker"} <= set(syncline)
    for name, service in syncline.items():
        command = service["command"][0]
        assert command in commands, (name, command)
        options = {p.opts[0] for p in commands[command].params if p.opts}
        given = {a for a in service["command"][1:] if a.startswith("--")}
        assert given <= options, (name, given - options)
        assert {BROKER_ENV, "SYNCLINE_STATE_URL", "SYNCLINE_SECRET_KEY"} <= set(
            service["environment"]), name
        assert service["environment"]["SYNCLINE_STATE_URL"].startswith("postgresql+psycopg://")
