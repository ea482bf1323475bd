"""Config of sources and destinations that third-party packages provide through entry points.

A package registers an opener under the entry-point group ``syncline.sources`` or a client
factory under ``syncline.destinations``, named by the ``type`` it handles (as datasette and dlt
plugins do), so adding one needs no edit of Syncline. The config layer cannot know a plugin's
fields, so a plugin's section keeps every key it was given (``PluginConfig``) and the plugin
validates its own options when it is opened; what this layer checks is that the ``type`` is
built in or registered, and it says which types are when it is neither.

Only entry-point *names* are read here: no plugin code is imported while a config is validated.
"""

from __future__ import annotations

import operator
from functools import reduce
from importlib.metadata import entry_points
from typing import Annotated, Any, ClassVar, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, field_validator

__all__ = [
    "DESTINATION_GROUP",
    "PLUGIN_TAG",
    "SOURCE_GROUP",
    "PluginConfig",
    "PluginDestinationConfig",
    "PluginSourceConfig",
    "by_type",
    "plugin_types",
]

SOURCE_GROUP = "syncline.sources"
DESTINATION_GROUP = "syncline.destinations"
PLUGIN_TAG = "plugin"
"""The union tag of every type that is not built in; errors name the field without it."""


def plugin_types(group: str) -> list[str]:
    """The ``type`` names installed packages register under an entry-point group."""
    return sorted({ep.name for ep in entry_points(group=group)})


class PluginConfig(BaseModel):
    """A plugin's section of ``syncline.yml``: its ``type`` and whatever keys it takes.

    Extra keys are kept (``model_extra``) and read by the plugin, which raises a
    ``ConfigError`` naming what is wrong; built-in types keep their strict models.
    """

    model_config = ConfigDict(extra="allow")

    kind: ClassVar[str] = "connection"
    group: ClassVar[str] = ""
    builtins: ClassVar[tuple[str, ...]] = ()

    type: str

    @field_validator("type")
    @classmethod
    def _registered(cls, value: str) -> str:
        installed = plugin_types(cls.group)
        if value not in installed:
            known = ", ".join([*cls.builtins, *(t for t in installed if t not in cls.builtins)])
            raise ValueError(
                f"unknown {cls.kind} type `{value}`; known types: {known}. Fix `type:`, or "
                f"install the package that registers `{value}` under the entry-point group "
                f"`{cls.group}`"
            )
        return value

    def option(self, name: str, default: Any = None) -> Any:
        """One of the plugin's own keys from ``syncline.yml`` (``default`` when absent)."""
        return (self.model_extra or {}).get(name, default)


class PluginSourceConfig(PluginConfig):
    """A source provided by a ``syncline.sources`` entry point."""

    kind: ClassVar[str] = "source"
    group: ClassVar[str] = SOURCE_GROUP


class PluginDestinationConfig(PluginConfig):
    """A destination provided by a ``syncline.destinations`` entry point."""

    kind: ClassVar[str] = "destination"
    group: ClassVar[str] = DESTINATION_GROUP


def _literals(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(str(v) for v in get_args(model.model_fields["type"].annotation))


def by_type(models: tuple[type[BaseModel], ...], plugin: type[PluginConfig]) -> Any:
    """A union of the built-in ``models`` chosen by ``type``, falling back to ``plugin``.

    Each model is tagged with its first ``type`` literal (``mysql`` also covers ``mariadb``),
    so an error inside a built-in section keeps the location it had with a plain
    ``discriminator="type"``; any other ``type`` (or none) goes to ``plugin``, which says
    whether it is installed.
    """
    tags = {value: _literals(model)[0] for model in models for value in _literals(model)}
    plugin.builtins = tuple(tags)  # once, at import: the plugin model's error lists them first

    def tag(value: Any) -> str:
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        return tags.get(kind, PLUGIN_TAG) if isinstance(kind, str) else PLUGIN_TAG

    members: list[Any] = [Annotated[m, Tag(_literals(m)[0])] for m in models]
    union = reduce(operator.or_, [*members, Annotated[plugin, Tag(PLUGIN_TAG)]])
    return Annotated[union, Discriminator(tag)]

