"""A third-party source and destination, installed as a package, used from ``syncline.yml``.

The package is built in ``tmp_path`` the way pip would leave it (the module beside its
``dist-info`` with ``entry_points.txt``) and put on the ``PYTHONPATH`` of the real CLI; Syncline
is not edited and nothing is mocked: the plugin's source feeds the local diff, its destination
receives the records, and a second run sends only what changed. The package also registers a
type whose module is missing: it must not stop the others, and using it says what is wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

PLUGIN = '''\
"""A tiny Syncline plugin: rows from syncline.yml in, JSON lines out."""
from pathlib import Path

import orjson
import pyarrow as pa

from syncline.destinations.base import BatchOutcome, DestinationCapabilities, Rejection
from syncline.errors import ConfigError
from syncline.sources.base import Column, SourceCapabilities


class InlineSource:
    capabilities = SourceCapabilities(dialect="duckdb", writable=False)

    def __init__(self, name, config, root):
        self.name = name
        rows = config.option("rows")
        if not isinstance(rows, list) or not rows:
            raise ConfigError(f"source `{name}`: `rows:` must be a non-empty list")
        self.table = pa.Table.from_pylist(rows)

    def check(self):
        pass

    def schemas(self):
        return ["main"]

    def tables(self, schema):
        return ["rows"]

    def columns(self, model_sql):
        return [Column(f.name, str(f.type).upper()) for f in self.table.schema]

    def stream(self, model_sql, batch_rows=10_000):
        yield from self.table.to_batches(batch_rows)

    def close(self):
        pass


class JsonLinesDestination:
    capabilities = DestinationCapabilities(max_in_flight=1, supports_dry_run=False)

    def __init__(self, config):
        self.path = Path(config.option("path"))

    def check(self):
        pass

    def validate(self, record):
        if record.get("identity") == "banned":
            return Rejection("banned", "this identity is banned by the plugin")
        return None

    def suspects(self, columns):
        return {i for i, identity in enumerate(columns.identities) if identity == "banned"}

    def encode(self, records):
        return b"".join(orjson.dumps(r) + b"\\n" for r in records)

    def deliver(self, body, size, *, dry_run=False):
        with self.path.open("ab") as out:
            out.write(body)
        return BatchOutcome(size=size)

    def close(self):
        pass


def open_inline(name, config, root):
    return InlineSource(name, config, root)


def create_jsonl(config):
    return JsonLinesDestination(config)
'''

ENTRY_POINTS = """\
[syncline.sources]
inline = syncline_plugin_demo:open_inline
broken = syncline_plugin_not_installed:open_source

[syncline.destinations]
jsonl = syncline_plugin_demo:create_jsonl
"""

CONFIG = """\
version: 1
sources:
  crm:
    type: inline
    rows:
      - {{id: "u1", email: "one@example.com", plan: "free"}}
      - {{id: "u2", email: "two@example.com", plan: "{plan}"}}
      - {{id: "banned", email: "x@example.com", plan: "free"}}
destinations:
  out:
    type: jsonl
    path: {out}
syncs:
  people:
    source: crm
    model: {{table: main.rows}}
    destination: out
    object: profile
    sync_key: id
    mappings:
      columns:
        - {{from: email, to: Email}}
        - {{from: plan, to: Plan}}
"""


def _install_plugin(site: Path) -> None:
    """Lay the package out as ``pip install --target`` would: module + dist-info."""
    (site / "syncline_plugin_demo").mkdir(parents=True)
    (site / "syncline_plugin_demo" / "__init__.py").write_text(PLUGIN)
    info = site / "syncline_plugin_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: syncline-plugin-demo\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(ENTRY_POINTS)


def _cli(root: Path, site: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("SYNCLINE_STATE_URL", None)
    paths = [str(site)] if site is not None else []
    env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run(
        [sys.executable, "-m", "syncline", *args, "--project", str(root)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def _received(out: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in out.read_bytes().splitlines()] if out.exists() else []


def test_an_installed_plugin_source_and_destination_run_a_sync(tmp_path: Path) -> None:
    site, root, out = tmp_path / "site", tmp_path / "project", tmp_path / "out.jsonl"
    _install_plugin(site)
    root.mkdir()
    (root / "syncline.yml").write_text(CONFIG.format(plan="pro", out=out))

    first = _cli(root, site, "run", "people", "--json")
    assert first.returncode == 0, first.stderr
    summary = orjson.loads(first.stdout)
    assert (summary["sent"], summary["accepted"], summary["rejected"]) == (2, 2, 1)
    received = {r["identity"]: r["profileData"] for r in _received(out)}
    assert received == {"u1": {"Email": "one@example.com", "Plan": "free"},
                        "u2": {"Email": "two@example.com", "Plan": "pro"}}

    (root / "syncline.yml").write_text(CONFIG.format(plan="business", out=out))
    out.unlink()
    second = _cli(root, site, "run", "people", "--json")
    assert second.returncode == 0, second.stderr
    assert [r["identity"] for r in _received(out)] == ["u2"]  # only what changed


def test_a_plugin_type_that_is_not_installed_is_named_with_the_known_types(
    tmp_path: Path,
) -> None:
    site, root = tmp_path / "site", tmp_path / "project"
    _install_plugin(site)
    root.mkdir()
    (root / "syncline.yml").write_text(CONFIG.format(plan="pro", out=tmp_path / "o.jsonl"))

    without = _cli(root, None, "plan", "people")
    assert without.returncode == 2
    assert "syncline.yml:4: sources.crm.type: unknown source type `inline`" in without.stderr
    assert "syncline.sources" in without.stderr

    typo = CONFIG.replace("type: jsonl", "type: jsonl_file")
    (root / "syncline.yml").write_text(typo.format(plan="pro", out=tmp_path / "o.jsonl"))
    with_plugin = _cli(root, site, "plan", "people")
    assert with_plugin.returncode == 2
    assert "unknown destination type `jsonl_file`; known types: clevertap, jsonl" in (
        with_plugin.stderr
    )


def test_a_broken_plugin_is_named_when_used_and_harms_no_other(tmp_path: Path) -> None:
    site, root, out = tmp_path / "site", tmp_path / "project", tmp_path / "out.jsonl"
    _install_plugin(site)  # registers `broken`, whose module does not exist
    root.mkdir()
    (root / "syncline.yml").write_text(CONFIG.format(plan="pro", out=out))
    assert _cli(root, site, "run", "people").returncode == 0  # `inline` still loads

    broken = CONFIG.replace("type: inline", "type: broken")
    (root / "syncline.yml").write_text(broken.format(plan="pro", out=out))
    result = _cli(root, site, "test", "crm")
    assert result.returncode != 0
    assert "source type `broken` is registered as 'syncline_plugin_not_installed:open_source'" in (
        result.stderr)
    assert "reinstall the package" in result.stderr
