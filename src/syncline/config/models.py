"""Pydantic models of ``syncline.yml``.

Unknown keys are errors (``extra="forbid"``): a typo in a key must not silently change what a
sync sends. (A plugin's section, of a type registered by an entry point, keeps its keys for the
plugin to check: ``config/plugins.py``.) Secrets are ``${ENV_VAR}`` references resolved by
``config.load`` before validation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from syncline.config.alerts import AlertConditions, AlertRule
from syncline.config.dbt import DbtConfig
from syncline.config.plugins import PluginDestinationConfig, PluginSourceConfig, by_type
from syncline.config.sources import (
    FilesSourceConfig,
    GoogleSheetsSourceConfig,
    SQLSourceConfig,
)
from syncline.config.synclog import SyncLogConfig

__all__ = [
    "CleverTapDestinationConfig",
    "ColumnMapping",
    "DestinationConfig",
    "DuckDBSourceConfig",
    "FieldType",
    "Mappings",
    "ModelConfig",
    "MultiValue",
    "OnNull",
    "Project",
    "SourceConfig",
    "SyncConfig",
]

FieldType = Literal["string", "number", "date", "boolean"]
OnNull = Literal["skip", "clear"]
MultiValue = Literal["set", "add", "remove"]
CLEVERTAP_REGIONS = ("eu1", "in1", "us1", "sg1", "aps3", "mec1", "sk1")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DuckDBSourceConfig(_Strict):
    """A DuckDB database file (relative paths are relative to the project folder)."""

    type: Literal["duckdb"]
    path: str
    read_only: bool = False
    dbt: DbtConfig | None = None
    """The dbt project building this database, for models written ``{dbt: model_name}``."""


# A source is chosen by `type`: a built-in model, or a plugin's (``config/plugins.py``).
if TYPE_CHECKING:
    SourceConfig = (
        DuckDBSourceConfig
        | SQLSourceConfig
        | FilesSourceConfig
        | GoogleSheetsSourceConfig
        | PluginSourceConfig
    )
else:
    SourceConfig = by_type(
        (DuckDBSourceConfig, *get_args(SQLSourceConfig), FilesSourceConfig,
         GoogleSheetsSourceConfig),
        PluginSourceConfig,
    )


class CleverTapDestinationConfig(_Strict):
    """A CleverTap account (Settings > Project shows the account id, passcode and region)."""

    type: Literal["clevertap"]
    account_id: str = Field(min_length=1)
    passcode: SecretStr
    region: Literal["eu1", "in1", "us1", "sg1", "aps3", "mec1", "sk1"] = "eu1"
    endpoint: str | None = None
    """Base URL overriding the region's host, e.g. the sandbox's ``http://127.0.0.1:8899``."""
    timeout_s: float = Field(default=60.0, gt=0)

    @field_validator("endpoint", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # `endpoint: ${CLEVERTAP_ENDPOINT:-}` with the variable unset means "the region's host"
        return None if isinstance(value, str) and not value.strip() else value

    discarded_events: list[str] = Field(default_factory=list)
    """Event names discarded in this account's dashboard: rejected locally with code 528."""
    max_event_properties: int = Field(default=100, ge=1)
    """This account's limit of properties per event: CleverTap documents 100 by default,
    configurable per account (older pages said 256); raise it if your account allows more."""


if TYPE_CHECKING:
    DestinationConfig = CleverTapDestinationConfig | PluginDestinationConfig
else:
    DestinationConfig = by_type((CleverTapDestinationConfig,), PluginDestinationConfig)


class ModelConfig(_Strict):
    """What a sync reads: a table (``schema.name``), a query or a dbt model; exactly one."""

    table: str | None = None
    query: str | None = None
    dbt: str | None = None
    """A dbt model of the source's dbt project; its relation is read from dbt's manifest."""

    @model_validator(mode="after")
    def _one_of(self) -> ModelConfig:
        if [self.table, self.query, self.dbt].count(None) != 2:
            raise ValueError("give exactly one of `table: schema.name`, `query: SELECT ...` or "
                             "`dbt: model_name`")
        return self


class ColumnMapping(_Strict):
    """One source column (or a constant) → one destination field."""

    from_: str | None = Field(default=None, alias="from")
    constant: str | int | float | bool | None = None
    to: str = Field(min_length=1)
    type: FieldType | None = None
    """Data type sent; inferred from the column's type when omitted."""
    phone_region: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    """Phone: the ISO country (``IN``) national numbers of this column belong to; overrides
    the sync's ``phone_region``."""
    on_null: OnNull | None = None
    """A null: ``skip`` leaves CleverTap's value alone, ``clear`` removes the property
    (``{"$delete": 1}``); the sync's ``on_null`` when omitted."""
    multi_value: MultiValue | None = None
    """Send as a multi-value property: ``set`` (the default for array columns) makes it exactly
    the row's values, ``add`` adds them (``$add``), ``remove`` removes them (``$remove``)."""

    @model_validator(mode="before")
    @classmethod
    def _send_nulls(cls, data: object) -> object:
        # `send_nulls` used to send JSON null, which no CleverTap doc promises clears
        # anything; it now means `on_null: clear`, which sends CleverTap's documented `$delete`
        if isinstance(data, dict) and "send_nulls" in data:
            data = dict(data)
            old = data.pop("send_nulls")
            if "on_null" in data:
                raise ValueError("give `on_null` only; `send_nulls` is its old name")
            data["on_null"] = "clear" if old else "skip"
        return data

    @model_validator(mode="after")
    def _one_of(self) -> ColumnMapping:
        if (self.from_ is None) == (self.constant is None):
            raise ValueError("give exactly one of `from: column` or `constant: value`")
        if self.multi_value and self.type not in (None, "string"):
            raise ValueError(
                f"`{self.to}`: a multi-value property holds strings; drop `type: {self.type}`"
            )
        if self.multi_value in ("add", "remove") and self.on_null == "clear":
            raise ValueError(
                f"`{self.to}`: `multi_value: {self.multi_value}` changes some values, a null "
                "adds or removes none; `on_null: clear` applies to `multi_value: set` only"
            )
        return self


class Mappings(_Strict):
    """Either ``sync_all`` (every column, new columns included) or a list of ``columns``.

    With ``sync_all``, ``columns`` may still rename or type particular columns and ``exclude``
    leaves columns out.
    """

    sync_all: bool = False
    columns: list[ColumnMapping] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    match_standard_fields: bool = True
    """Map common column names (email, phone, name, ...) to CleverTap's standard fields."""

    @model_validator(mode="after")
    def _something(self) -> Mappings:
        if not self.sync_all and not self.columns:
            raise ValueError("map some columns (`columns:`) or set `sync_all: true`")
        return self


_BEHAVIORS: dict[str, Literal["update_or_create", "send", "delete"]] = {
    "profile": "update_or_create", "event": "send", "delete": "delete"}


class SyncConfig(_Strict):
    """One sync: a model of a source → an object of a destination."""

    source: str
    model: ModelConfig
    destination: str
    object: Literal["profile", "event", "delete"]
    """``delete``: an erasure sync; each row names a profile to delete in CleverTap, once."""
    behavior: Literal["update_or_create", "send", "delete"] | None = None
    sync_key: str = Field(min_length=1)
    """Column that identifies a record; unique and non-null in the model."""
    tags: list[str] = Field(default_factory=list)
    """Labels for ``syncline run --select tag:NAME``."""
    identity_field: Literal["identity", "objectId", "FBID", "GPID"] = "identity"
    """CleverTap identifier the user's column maps to."""
    identity_column: str | None = None
    """Events: the column naming the user. Profiles: defaults to the sync key."""
    event_name: str | None = None
    event_name_column: str | None = None
    timestamp_column: str | None = None
    items_column: str | None = None
    """Charged events: a column holding a list of objects, sent as ``Items``."""
    mappings: Mappings = Field(default_factory=lambda: Mappings(sync_all=True))
    on_null: OnNull = "skip"
    """Profiles: what a null does to the property, unless its column mapping says otherwise."""
    history: Literal["send", "skip"] = "send"
    """Events, first run: raise an event for every existing row, or mark them all as seen."""
    in_doubt: Literal["skip", "resend"] = "skip"
    """Events: what to do with keys in flight when a run crashed (profiles always resend)."""
    diff: Literal["local", "source"] | None = None
    batch_size: int = Field(default=1000, ge=1, le=1000)
    in_flight: int = Field(default=5, ge=1, le=15)
    schedule: str | None = None
    """``every 15m`` or a cron expression; used by ``syncline serve``."""
    timezone: str | None = None
    """IANA time zone for a cron schedule (e.g. ``Europe/Paris``); UTC when omitted."""
    alerts: AlertConditions | None = None
    """This sync's own alert conditions, over those of every ``alerts:`` rule watching it."""
    sync_log: SyncLogConfig | None = None
    """This sync's own row-level log settings (the project's ``sync_log:`` otherwise)."""
    on_removed: Literal["keep", "delete"] = "keep"
    """Profiles: what to do in CleverTap with keys that left the model since the last run."""
    max_delete_percent: float = Field(default=10, ge=0, le=100)
    """``on_removed: delete``: a run that would delete more of the snapshot than this is refused
    (unless ``--allow-mass-delete``)."""
    phone_region: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    """Profiles: the ISO country (``IN``, ``US``) of phone numbers written without ``+``; they
    are sent in E.164 (``+919876500001``). Numbers already international need no region."""
    on_invalid_field: Literal["reject_record", "drop_field"] = "reject_record"
    """A property that breaks a destination rule: reject the whole record (default), or send
    the record without that property and report the dropped field as a warning."""

    @model_validator(mode="after")
    def _consistent(self) -> SyncConfig:
        expected: Literal["update_or_create", "send", "delete"] = _BEHAVIORS[self.object]
        if self.behavior is None:
            self.behavior = expected
        elif self.behavior != expected:
            raise ValueError(f"object `{self.object}` takes behavior `{expected}`")
        if self.object == "event":
            if self.identity_column is None:
                raise ValueError(
                    "an event sync needs `identity_column` (the column naming the user)"
                )
            if (self.event_name is None) == (self.event_name_column is None):
                raise ValueError("an event sync needs one of `event_name` or `event_name_column`")
            _profile_only(self)
        else:
            for name in ("event_name", "event_name_column", "timestamp_column", "items_column"):
                if getattr(self, name) is not None:
                    raise ValueError(f"`{name}` is for event syncs (object: event)")
        return self

    @model_validator(mode="after")
    def _deletes(self) -> SyncConfig:
        # CleverTap's delete API takes `identity` or `guid` (= objectId) only
        deleting = self.object == "delete" or self.on_removed == "delete"
        if deleting and self.identity_field not in ("identity", "objectId"):
            raise ValueError("CleverTap deletes profiles by `identity` or `objectId` only, not "
                             f"by `{self.identity_field}`")
        if self.on_removed == "delete":
            if self.object != "profile":
                raise ValueError("`on_removed: delete` is for profile syncs; to delete profiles "
                                 "listed in a table, use an erasure sync (`object: delete`)")
            if self.identity_column not in (None, self.sync_key):
                raise ValueError("`on_removed: delete` needs the sync key to be the identity: "
                                 "a removed row's other columns are gone, so its identity "
                                 "would be unknown; drop `identity_column`")
        if self.object == "delete" and "mappings" in self.model_fields_set:
            raise ValueError("an erasure sync (`object: delete`) sends only identities: remove "
                             "`mappings`")
        return self

    @property
    def user_column(self) -> str:
        """The column whose value becomes the CleverTap identity."""
        return self.identity_column or self.sync_key


def _profile_only(sync: SyncConfig) -> None:
    """Clearing a property and multi-value properties exist on profiles only."""
    if sync.on_null == "clear":
        raise ValueError("`on_null: clear` is for profile syncs: an event has no property to clear")
    for column in sync.mappings.columns:
        if column.on_null == "clear" or column.multi_value:
            key = "on_null: clear" if column.on_null == "clear" else "multi_value"
            raise ValueError(
                f"`{column.to}`: `{key}` is for profile syncs (event properties are scalars)"
            )


class Project(_Strict):
    """The whole ``syncline.yml``."""

    version: Literal[1] = 1
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    destinations: dict[str, DestinationConfig] = Field(default_factory=dict)
    syncs: dict[str, SyncConfig] = Field(default_factory=dict)
    alerts: dict[str, AlertRule] = Field(default_factory=dict)
    server_url: str | None = None
    """The dashboard's public URL (``https://syncline.example.com``): alerts link to run pages."""
    sync_log: SyncLogConfig = Field(default_factory=SyncLogConfig)
    """Every sync's row-level log in the warehouse (off unless ``enabled: true``)."""

    @model_validator(mode="after")
    def _references(self) -> Project:
        for name, rule in self.alerts.items():
            unknown = [] if rule.syncs == "all" else sorted(set(rule.syncs) - set(self.syncs))
            if unknown:
                known = ", ".join(sorted(self.syncs)) or "none"
                raise ValueError(
                    f"alert `{name}`: unknown sync(s) {', '.join(unknown)} (known: {known})"
                )
        for name, sync in self.syncs.items():
            if sync.source not in self.sources:
                known = ", ".join(sorted(self.sources)) or "none"
                raise ValueError(f"sync `{name}`: unknown source `{sync.source}` (known: {known})")
            if sync.destination not in self.destinations:
                known = ", ".join(sorted(self.destinations)) or "none"
                raise ValueError(
                    f"sync `{name}`: unknown destination `{sync.destination}` (known: {known})"
                )
        return self
