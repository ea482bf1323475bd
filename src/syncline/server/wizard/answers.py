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

__all__ = ["STEPS", "Wizard", "answer_of"]

STEPS = ("model", "destination", "key", "mappings", "confirm")
_OWN = {
    "model": ("source", "model_kind", "table", "query", "preview"),
    "destination": ("destination", "object"),
    "key": ("sync_key", "identity_column", "event_name", "event_name_column", "timestamp_column",
            "items_column", "history", "in_doubt", "on_removed", "max_delete_percent",
            "key_warned"),
    "mappings": ("mode", "col", "on_null", "phone_region", "on_invalid_field"),
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
                 if k not in ("col", "csrf_token") and not k.startswith("to_")}
        # the model step shows a table picker and a SQL editor: the chosen kind is the answer
        if state.get("model_kind") == "table":
            state.pop("query", None)
        elif state.get("model_kind") == "query":
            state.pop("table", None)
        if state.get("step") == "preview":  # the model step's *Preview rows* button
            state.update(step="model", preview="rows")
        cols = [str(c) for c in params.getlist("col")]
        targets = {k[3:]: str(v).strip() for k, v in params.items() if k.startswith("to_")}
        return cls(state, cols, targets, editing=editing, base=dict(base or {}))

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
        return pairs

    def model(self) -> ModelConfig:
        """The model answered: a query when one is given (syncs made by the API), else a table."""
        if self.state.get("query"):
            return ModelConfig(query=self.state["query"])
        return ModelConfig(table=self.state.get("table") or None)

    def config(self) -> dict[str, Any]:
        """The sync definition these answers describe, over what ``base`` holds besides."""
        s, base = self.state, self.base
        config: dict[str, Any] = {k: v for k, v in base.items() if k not in _ANSWERED}
        config.update({
            "source": s.get("source"),
            "model": {"query": s["query"]} if s.get("query") else {"table": s.get("table")},
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
        if self.state.get("mode") != "columns":
            return dict(saved) if saved.get("sync_all") else {"sync_all": True}
        entries: list[dict[str, Any]] = saved.get("columns", [])
        by_column = {e["from"]: e for e in entries if "from" in e}
        # the saved order first: a form listing columns in table order is not a change
        ticked = sorted(self.cols, key=lambda c: list(by_column).index(c) if c in by_column
                        else len(by_column))
        columns = [{**by_column.get(c, {}), "from": c, "to": self.targets.get(c) or c}
                   for c in ticked]
        columns += [e for e in entries if "from" not in e]  # constants: not shown, kept
        mappings: dict[str, Any] = {"columns": columns}
        if "match_standard_fields" in saved:
            mappings["match_standard_fields"] = saved["match_standard_fields"]
        return mappings

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
