"""The wizard's answers: what each step asks, the sync definition they describe, and the
problems found, each kept beside the answer it is about.

The answers travel as hidden form fields (see ``steps.py``); when a saved sync is edited,
``Wizard.base`` holds its definition, and what the wizard does not ask (batch size, history,
types of mapped columns, constants...) is kept from it rather than reset to defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syncline.config.models import ModelConfig, SyncConfig
from syncline.server.errors import FieldError

__all__ = ["OPTIONS", "STANDARD_FIELDS", "STEPS", "Wizard", "answer_of"]

STANDARD_FIELDS = {
    "name": "Name", "full_name": "Name", "email": "Email", "email_address": "Email",
    "phone": "Phone", "phone_number": "Phone", "mobile": "Phone", "gender": "Gender",
    "dob": "DOB", "birthday": "DOB", "date_of_birth": "DOB", "age": "Age", "photo": "Photo",
    "education": "Education", "married": "Married", "employed": "Employed",
}
"""Column names the mappings step suggests a CleverTap standard field for."""
OPTIONS = {"type": "type", "null": "on_null", "multi": "multi_value", "region": "phone_region"}
"""Per-column options of the mappings step: form field prefix (``type_email``) → mapping key."""
_PER_COLUMN = ("to_", *(f"{prefix}_" for prefix in OPTIONS))

STEPS = ("model", "destination", "key", "mappings", "confirm")
_OWN = {
    "model": ("source", "model_kind", "table", "query", "dbt", "preview"),
    "destination": ("destination", "object"),
    "key": ("sync_key", "identity_column", "event_name", "event_name_column", "timestamp_column",
            "items_column", "history", "in_doubt", "on_removed", "max_delete_percent",
            "key_warned"),
    "mappings": ("mode", "col", "on_null", "phone_region", "on_invalid_field", "const_to",
                 "const_value"),
    "confirm": ("name", "schedule", "acknowledge"),
}
_STEP_OF = {answer: step for step, answers in _OWN.items() for answer in answers}
_STEP_OF["mappings"] = "mappings"
_ANSWERED = ("source", "model", "destination", "object", "behavior", "sync_key", "identity_column",
             "event_name", "event_name_column", "timestamp_column", "items_column", "mappings",
             "schedule")
"""The parts of a sync's definition the wizard's answers decide (the rest is kept when editing)."""


@dataclass
class Wizard:
    """The answers so far, and what the checks found."""

    state: dict[str, str]
    cols: list[str]
    targets: dict[str, str]
    options: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per-column options by ``OPTIONS`` prefix: ``{"type": {"age": "number"}}``."""
    excluded: list[str] = field(default_factory=list)
    """Columns left out of *Sync all columns*."""
    columns: list[dict[str, str]] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    """The model's first rows, when the model step's *Preview rows* asked for them."""
    notices: dict[str, list[str]] = field(default_factory=dict)
    """Warnings that do not stop the wizard (a sync key with nulls), by the answer they are
    about."""
    errors: list[str] = field(default_factory=list)
    by_field: dict[str, list[str]] = field(default_factory=dict)
    """Each problem again under the answer it is about, for the page to show beside its field."""
    editing: str | None = None
    """The saved sync being edited, if any."""
    base: dict[str, Any] = field(default_factory=dict)
    """The edited sync's saved definition (empty when creating)."""

    @classmethod
    def from_request(cls, params: Any, editing: str | None = None,
                     base: dict[str, Any] | None = None) -> Wizard:
        state = {k: str(v).strip() for k, v in params.items()
                 if k not in ("col", "ex", "csrf_token") and not k.startswith(_PER_COLUMN)}
        # the model step shows a table picker, a SQL editor and (for a source with a dbt
        # project) a dbt model picker: the chosen kind is the answer
        kind = state.get("model_kind")
        if kind in ("table", "query", "dbt"):
            for other in {"table", "query", "dbt"} - {kind}:
                state.pop(other, None)
        if state.get("step") == "preview":  # the model step's *Preview rows* button
            state.update(step="model", preview="rows")
        cols = [str(c) for c in params.getlist("col")]
        targets = {k[3:]: str(v).strip() for k, v in params.items() if k.startswith("to_")}
        # an option posted empty was answered "none"; one not posted keeps the saved value
        options = {prefix: {k[len(prefix) + 1:]: str(v).strip() for k, v in params.items()
                            if k.startswith(f"{prefix}_")}
                   for prefix in OPTIONS}
        return cls(state, cols, targets, options, [str(c) for c in params.getlist("ex")],
                   editing=editing, base=dict(base or {}))

    @property
    def action(self) -> str:
        return f"/syncs/{self.editing}/edit" if self.editing else "/syncs/new"

    def fail(self, message: str, answer: str | None = None) -> None:
        """Record a problem; ``answer`` names the field it belongs beside."""
        self.errors.append(message)
        if answer:
            self.by_field.setdefault(answer, []).append(message)

    def fail_all(self, problems: list[FieldError]) -> None:
        """The API's ``{field, reason}`` problems, each put beside the answer it names."""
        for problem in problems:
            answer = answer_of(problem["field"])
            where = problem["field"].removeprefix("body.config.").removeprefix("sync.")
            self.fail(problem["reason"] if answer else f"{where}: {problem['reason']}", answer)

    def warn(self, message: str, answer: str) -> None:
        """Record a warning shown beside ``answer``; the user may go on."""
        self.notices.setdefault(answer, []).append(message)

    def key_warned(self) -> bool:
        """Whether the user saw the warnings about this very sync key and went on."""
        key = self.state.get("sync_key")
        return bool(key) and self.state.get("key_warned") == key

    def at(self, answer: str) -> list[str]:
        """The problems to show beside the field ``answer``."""
        return self.by_field.get(answer, [])

    def error_step(self) -> str:
        """The first step holding a field with a problem (confirm when none is placed)."""
        steps = [_STEP_OF[a] for a in self.by_field if a in _STEP_OF]
        return min(steps, key=STEPS.index) if steps else "confirm"

    def carry(self, step: str) -> list[tuple[str, str]]:
        """Hidden fields: every answer not asked again on ``step``."""
        own = set(_OWN[step])
        pairs = [(k, v) for k, v in self.state.items() if k not in own and k != "step" and v]
        if step != "mappings":
            pairs += [("col", c) for c in self.cols]
            pairs += [(f"to_{c}", t) for c, t in self.targets.items() if t]
            pairs += [(f"{prefix}_{c}", v) for prefix, values in self.options.items()
                      for c, v in values.items()]
            pairs += [("ex", c) for c in self.excluded]
        return pairs

    def model(self) -> ModelConfig:
        """The model answered: a dbt model or a query when one is given, else a table."""
        if self.state.get("dbt"):
            return ModelConfig(dbt=self.state["dbt"])
        if self.state.get("query"):
            return ModelConfig(query=self.state["query"])
        return ModelConfig(table=self.state.get("table") or None)

    def config(self) -> dict[str, Any]:
        """The sync definition these answers describe, over what ``base`` holds besides."""
        s, base = self.state, self.base
        config: dict[str, Any] = {k: v for k, v in base.items() if k not in _ANSWERED}
        config.update({
            "source": s.get("source"),
            "model": ({"dbt": s["dbt"]} if s.get("dbt") else {"query": s["query"]}
                      if s.get("query") else {"table": s.get("table")}),
            "destination": s.get("destination"), "object": s.get("object"),
            "sync_key": s.get("sync_key"),
        })
        if s.get("object") == "event":
            for name in ("identity_column", "event_name", "event_name_column",
                         "timestamp_column", "items_column", "history", "in_doubt"):
                if s.get(name):
                    config[name] = s[name]
        else:
            if base.get("object") == "profile" and base.get("identity_column"):
                config["identity_column"] = base["identity_column"]  # not asked for profiles
            for name in ("on_removed", "on_null", "phone_region"):
                if s.get(name):
                    config[name] = s[name].upper() if name == "phone_region" else s[name]
            if s.get("on_removed") == "delete" and s.get("max_delete_percent"):
                config["max_delete_percent"] = s["max_delete_percent"]
        if s.get("on_invalid_field"):
            config["on_invalid_field"] = s["on_invalid_field"]
        config["mappings"] = self._mappings()
        if s.get("schedule"):
            config["schedule"] = s["schedule"]
        return config

    def _mappings(self) -> dict[str, Any]:
        saved: dict[str, Any] = self.base.get("mappings") or {}
        entries: list[dict[str, Any]] = saved.get("columns", [])
        by_column = {e["from"]: e for e in entries if "from" in e}
        constants = [e for e in entries if "from" not in e]  # not listed per column: kept
        to, value = self.state.get("const_to"), self.state.get("const_value")
        if to and value:
            constants = [*(e for e in constants if e.get("to") != to),
                         {"constant": value, "to": to}]
        mappings: dict[str, Any] = {}
        if self.state.get("mode") != "columns":
            # sync all: an entry only for a column given an option or another field name
            shown = [c["name"] for c in self.columns] or [*by_column, *self.targets]
            ticked = [c for c in dict.fromkeys(shown) if self._chosen(c)]
            mappings.update(sync_all=True)
            excluded = [c for c in self.excluded if c not in ticked]
            if excluded:
                mappings["exclude"] = excluded
        else:
            ticked = self.cols
        # the saved order first: a form listing columns in table order is not a change
        ticked = sorted(ticked, key=lambda c: list(by_column).index(c) if c in by_column
                        else len(by_column))
        columns = [self._entry(c, by_column.get(c, {})) for c in ticked] + constants
        if columns or not mappings:
            mappings["columns"] = columns
        if "match_standard_fields" in saved:
            mappings["match_standard_fields"] = saved["match_standard_fields"]
        return mappings

    def _chosen(self, column: str) -> bool:
        """Whether *Sync all columns* needs an entry for ``column`` (an option or a field name
        other than the one the page suggested)."""
        suggested = {column, STANDARD_FIELDS.get(column.lower()) or column}
        target = self.targets.get(column)
        return any(values.get(column) for values in self.options.values()) or (
            bool(target) and target not in suggested)

    def _entry(self, column: str, saved: dict[str, Any]) -> dict[str, Any]:
        """The mapping of ``column``: its field name and options, over what was saved."""
        entry = {**saved, "from": column, "to": self.targets.get(column) or column}
        for prefix, key in OPTIONS.items():
            value = self.options.get(prefix, {}).get(column)
            if value:
                entry[key] = value.upper() if key == "phone_region" else value
            elif value is not None:
                entry.pop(key, None)
        return entry

    def sync(self) -> SyncConfig:
        """The sync these answers describe (pydantic checks the combination)."""
        return SyncConfig.model_validate(self.config())


def answer_of(path: str) -> str | None:
    """The wizard field an API problem is about (``body.config.sync_key`` → ``sync_key``)."""
    parts = path.split(".")
    while parts and parts[0] in ("body", "config", "sync"):
        parts.pop(0)
    head = parts[0] if parts else ""
    head = {"model": "table", "behavior": "object"}.get(head, head)
    return head if head in _STEP_OF else None
