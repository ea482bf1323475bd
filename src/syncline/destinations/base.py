"""The destination protocol: what the engine needs from any destination.

A destination is a small object that declares data (its capabilities) and answers five
questions: can I connect (``check``), which rows of a batch may be invalid (``suspects``, by
column, cheap), is this record valid (``validate``, exact), turn records into a request body
(``encode``), and deliver that body (``deliver``), with one outcome per record. Deletes are one
more call (``delete_profiles``), confirmed or refused as a whole.
Batching, concurrency, retries and commits belong to the engine, not to the destination.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

__all__ = [
    "BatchOutcome",
    "DestinationCapabilities",
    "DestinationClient",
    "FieldFault",
    "Record",
    "RecordColumns",
    "Rejection",
]

Record = dict[str, Any]
"""One record as the destination receives it (for CleverTap: one element of ``d``)."""


@dataclass(frozen=True, slots=True)
class RecordColumns:
    """A batch of records by column, as the engine built them.

    Lets a destination check a rule once per column (a key name, the longest string, the set
    of genders) instead of once per record, which is most of a sync's CPU otherwise.
    ``properties`` maps a destination field to its value per row (None: left out of that row's
    record).
    """

    object: str
    identity_field: str
    identities: list[str]
    properties: Mapping[str, list[Any]]
    event_names: list[Any] | None = None
    timestamps: list[Any] | None = None
    items: list[Any] | None = None
    """Events: the ``Items`` list per row (None where it has none)."""
    arrays: Mapping[str, pa.Array] = field(default_factory=dict)
    """The same values as Arrow arrays, for the properties sent exactly as the source holds
    them: a destination can then check such a column with Arrow compute."""
    items_array: pa.Array | None = None
    """Events: ``items`` as the Arrow array they came from, when they are sent exactly as it
    holds them (a LIST of STRUCT of scalars), so they can be checked by column too."""
    identities_array: pa.Array | None = None
    """``identities`` as an Arrow text array holding exactly the same text (no null), when
    the builder has one: the identity rules can then be checked by Arrow compute."""


@dataclass(frozen=True, slots=True)
class FieldFault:
    """One property of a record that breaks a rule; the rest of the record does not need it.

    ``field`` is the destination's key (``Phone``), ``column`` the source column when known.
    """

    field: str
    code: str
    message: str
    column: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one record was not accepted.

    ``code`` is the destination's own code as text (CleverTap's ``"515"``), or Syncline's
    (``"null_key"``, ``"duplicate_key"``, ``"bad_value"``) when the row never became a record.
    ``column`` names the source column (or destination field) at fault, when known.
    ``faults`` lists every property at fault (the first is the one ``code`` names) when the
    record as a whole is fine: sending it without them (``DestinationClient.drop_fields``) would
    be accepted. Empty when the record itself is at fault (identity, structure, ...).
    """

    code: str
    message: str
    column: str | None = None
    faults: tuple[FieldFault, ...] = ()


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What the destination did with one delivered batch.

    Rejections are data, not exceptions: one CleverTap response mixes accepted and rejected
    records. ``rejected`` maps the 0-based position of a record in the batch to its rejection;
    ``unknown`` maps positions the destination did not process for a reason Syncline does not
    recognise (a new code) to the destination's raw text: not a rejection we can explain, so
    the engine treats them as failed (profiles) or in doubt (events). Every other position was
    accepted.
    """

    size: int
    rejected: Mapping[int, Rejection] = field(default_factory=dict)
    unknown: Mapping[int, Rejection] = field(default_factory=dict)

    @property
    def accepted_count(self) -> int:
        return self.size - len(self.rejected) - len(self.unknown)


@dataclass(frozen=True, slots=True)
class DestinationCapabilities:
    """Limits the engine must respect when delivering to this destination."""

    max_records_per_batch: int = 1000
    max_in_flight: int = 15
    supports_dry_run: bool = True
    objects: tuple[str, ...] = ("profile", "event")
    max_deletes_per_request: int = 100
    """Identities one ``delete_profiles`` call may carry."""


class DestinationClient(Protocol):
    """A connected destination (one account)."""

    capabilities: DestinationCapabilities
    budget_key: str
    """The account whose uploads count against ``capabilities.max_in_flight``: every run with
    the same key shares that many uploads in flight (through the state store). Optional for a
    plugin: without it (or when empty) each run keeps its own ``in_flight`` limit only."""

    def check(self) -> None:
        """Test the connection; raise a ``DestinationError`` whose message says what to fix."""

    def validate(self, record: Record) -> Rejection | None:
        """Return why the destination would reject ``record``, or ``None`` if it is valid."""

    def drop_fields(self, record: Record, fields: Collection[str]) -> Record:
        """A copy of ``record`` without the properties ``fields`` (``on_invalid_field``)."""

    def suspects(self, columns: RecordColumns) -> set[int]:
        """Rows of a batch that may break a rule; ``validate`` then decides each of them.

        A superset is fine (a suspect that passes ``validate`` is sent); missing a row is not:
        every row outside the set is sent without a per-record check.
        """

    def encode(self, records: Sequence[Record]) -> bytes:
        """Encode one batch of records as the request body."""

    def deliver(self, body: bytes, size: int, *, dry_run: bool = False) -> BatchOutcome:
        """Send one encoded batch of ``size`` records.

        Raises:
            DestinationError: a ``Transient`` one when retrying may help (429, 5xx, timeouts,
                dropped connections), a ``Terminal`` one otherwise (400, 401, 403).
        """

    def delete_profiles(self, identities: Sequence[str], *, field: str) -> None:
        """Delete the profiles whose ``field`` (``identity`` or ``objectId``) is in ``identities``.

        Returns only once the destination confirmed the whole request; a delete has no
        per-record outcome.

        Raises:
            DestinationError: as ``deliver``; deleting again is harmless, so the engine retries
                every ``Transient`` one.
        """

    def close(self) -> None:
        """Release connections."""
