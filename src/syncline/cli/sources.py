"""``syncline sources schemas|tables|columns``: browse a source, as the dashboard's wizard does."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from syncline.cli.output import console, handles_errors, print_json
from syncline.errors import ConfigError

if TYPE_CHECKING:  # imported on use: `syncline --version` needs neither pyarrow nor pydantic
    from syncline.sources.base import Source

__all__ = ["sources_app"]

sources_app = typer.Typer(help="Browse a source: schemas, tables and columns with their types.",
                          no_args_is_help=True)

SourceArg = Annotated[str, typer.Argument(help="A source name from syncline.yml.")]
ProjectOpt = Annotated[
    Path | None,
    typer.Option("--project", "-p", help="Project folder holding syncline.yml (default: here)."),
]


def _open(name: str, project: Path | None) -> Source:
    from syncline.config.load import load_project
    from syncline.sources.registry import open_source

    loaded = load_project(project)
    if name not in loaded.project.sources:
        known = ", ".join(sorted(loaded.project.sources)) or "none"
        raise ConfigError(f"no source `{name}` in {loaded.path} (known: {known})")
    return open_source(name, loaded.project.sources[name], loaded.root)


def _print(rows: list[list[str]], *headers: str, as_json: bool) -> None:
    if as_json:
        print_json([dict(zip(headers, row, strict=True)) for row in rows])
        return
    table = Table(*headers)
    for row in rows:
        table.add_row(*row)
    console.print(table)


@sources_app.command()
@handles_errors
def schemas(source: SourceArg, project: ProjectOpt = None,
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Schemas (or databases) of a source."""
    opened = _open(source, project)
    try:
        _print([[s] for s in opened.schemas()], "schema", as_json=as_json)
    finally:
        opened.close()


@sources_app.command()
@handles_errors
def tables(source: SourceArg, schema: Annotated[str, typer.Argument(help="The schema.")],
           project: ProjectOpt = None,
           as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Tables and views of one schema."""
    opened = _open(source, project)
    try:
        _print([[t] for t in opened.tables(schema)], "table", as_json=as_json)
    finally:
        opened.close()


@sources_app.command()
@handles_errors
def columns(
    source: SourceArg,
    table: Annotated[str | None, typer.Option(help="schema.table")] = None,
    query: Annotated[str | None, typer.Option(help="A SELECT; it runs with LIMIT 0.")] = None,
    project: ProjectOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Columns of a table or a query, with the source's types."""
    from syncline.config.models import ModelConfig
    from syncline.sources.registry import model_sql

    try:
        model = ModelConfig(table=table, query=query)
    except ValueError:
        raise ConfigError("give one of --table schema.name or --query 'SELECT ...'") from None
    opened = _open(source, project)
    try:
        found = opened.columns(model_sql(model, opened))
        _print([[c.name, c.type] for c in found], "column", "type", as_json=as_json)
    finally:
        opened.close()


@sources_app.command("dbt-models")
@handles_errors
def dbt_models(source: SourceArg, project: ProjectOpt = None,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """dbt models a sync of this source can read (`model: {dbt: NAME}`), from dbt's manifest."""
    from syncline.config.dbt import DbtManifest, dbt_config_of
    from syncline.config.load import load_project

    loaded = load_project(project)
    if source not in loaded.project.sources:
        known = ", ".join(sorted(loaded.project.sources)) or "none"
        raise ConfigError(f"no source `{source}` in {loaded.path} (known: {known})")
    config = dbt_config_of(loaded.project.sources[source])
    if config is None:
        raise ConfigError(f"source `{source}` has no `dbt: {{project_dir: ...}}` section")
    manifest = DbtManifest.load(config, loaded.root, source=source)
    _print([[n.name, n.resource_type, n.table, ", ".join(n.tags)] for n in manifest.models()],
           "model", "kind", "table", "tags", as_json=as_json)
