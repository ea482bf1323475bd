"""``syncline run --select``: which syncs a selector names, in dbt's own selection syntax.

So a dbt job can be followed by exactly the syncs it affected: ``dbt build --select
users_enriched+ && syncline run --select dbt:users_enriched+``.

- ``NAME``: that sync; ``tag:crm``: the syncs tagged ``crm``;
- ``dbt:MODEL``: the syncs reading that dbt model; ``dbt:MODEL+``: also those reading a model
  built from it, per the manifest's ``child_map`` (each source's own manifest);
- space-separated selectors (or ``--select`` repeated) are a union, comma-joined ones an
  intersection (``tag:crm,dbt:users+``), as in dbt.

A selector naming nothing that exists (an unknown sync, tag or dbt model) is an error, since
a typo would otherwise silently run nothing; a real dbt model that no sync reads selects
nothing, which is not an error.
"""

from __future__ import annotations

from pathlib import Path

from syncline.config.dbt import DbtManifest, dbt_config_of
from syncline.config.models import Project
from syncline.errors import ConfigError

__all__ = ["select_syncs"]


def select_syncs(project: Project, root: Path, selectors: list[str]) -> list[str]:
    """The names of the syncs `selectors` select, in the order of ``syncline.yml``."""
    chosen: set[str] = set()
    for word in (w for selector in selectors for w in selector.split()):
        parts = [_one(project, root, part) for part in word.split(",") if part]
        if parts:
            chosen |= set.intersection(*parts)
    return [name for name in project.syncs if name in chosen]


def _one(project: Project, root: Path, selector: str) -> set[str]:
    method, _, value = selector.rpartition(":")
    if method == "":
        if selector not in project.syncs:
            raise ConfigError(f"--select {selector}: no sync `{selector}` (known: "
                              f"{', '.join(project.syncs) or 'none'})")
        return {selector}
    if method == "tag":
        found = {name for name, sync in project.syncs.items() if value in sync.tags}
        if not found:
            tags = sorted({t for sync in project.syncs.values() for t in sync.tags})
            raise ConfigError(f"--select tag:{value}: no sync is tagged `{value}` "
                              f"(tags: {', '.join(tags) or 'none'}); add `tags: [{value}]` to "
                              "a sync")
        return found
    if method == "dbt":
        return _dbt(project, root, value.removesuffix("+"), downstream=value.endswith("+"))
    raise ConfigError(f"--select {selector}: unknown method `{method}`; use NAME, tag:NAME, "
                      "dbt:MODEL or dbt:MODEL+")


def _dbt(project: Project, root: Path, model: str, *, downstream: bool) -> set[str]:
    """Syncs reading `model` (or, `downstream`, a model built from it) of their source's dbt."""
    manifests: dict[str, DbtManifest] = {}
    wanted: dict[str, set[str]] = {}  # source -> unique ids selected in its manifest
    for name, sync in project.syncs.items():
        if sync.model.dbt is None or sync.source in manifests:
            continue
        config = dbt_config_of(project.sources[sync.source])
        if config is not None:
            manifest = DbtManifest.load(config, root, source=sync.source)
            manifests[sync.source] = manifest
            if any(n.name == model.rpartition(".")[2] for n in manifest.nodes.values()):
                node = manifest.node(model, sync=name)
                wanted[sync.source] = (manifest.downstream(model) if downstream
                                       else {node.unique_id})
    if not wanted:
        raise ConfigError(f"--select dbt:{model}: no dbt model `{model}` in the manifest of "
                          "any source a sync reads dbt models from; check the name, or run "
                          "`dbt build` (or `dbt compile`) first")
    return {
        name for name, sync in project.syncs.items()
        if sync.model.dbt is not None and sync.source in wanted
        and _unique_id(manifests[sync.source], sync.model.dbt) in wanted[sync.source]
    }


def _unique_id(manifest: DbtManifest, model: str) -> str | None:
    """The model's node, or None when the manifest lacks it: that sync is not downstream of
    anything (and its own run says what is wrong)."""
    try:
        return manifest.node(model).unique_id
    except ConfigError:
        return None
