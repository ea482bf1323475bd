"""The source protocol: what the engine needs from any source."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

__all__ = ["Column", "Source", "SourceCapabilities"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table or model, with the source's own type name."""

    name: str
    type: str


@dataclass(frozen=True, slots=True)
class SourceCapabilities:
    """What the engine may do with a source.

    ``dialect`` is a sqlglot dialect name; ``writable`` says whether the diff can be pushed down
    into the source (snapshot tables in a ``syncline`` schema there).
    """

    dialect: str
    writable: bool


class Source(Protocol):
    """A connected source."""

    name: str
    capabilities: SourceCapabilities

    def check(self) -> None:
        """Test the connection; raise a ``SourceError`` that says what to fix."""

    def schemas(self) -> list[str]:
        """Schemas (or databases) a user can pick tables from."""

    def tables(self, schema: str) -> list[str]:
        """Tables and views of ``schema``."""

    def columns(self, model_sql: str) -> list[Column]:
        """Columns of a model, given as a SQL relation (runs it with LIMIT 0)."""

    def stream(self, model_sql: str, batch_rows: int = 10_000) -> Iterator[pa.RecordBatch]:
        """Stream a model's rows as Arrow batches; memory stays flat."""

    def close(self) -> None:
        """Release connections."""
