"""Destination registry: config ``type`` → client factory, built-ins and plugins through one path.

Built-ins are listed here as ``module:function`` strings, third-party destinations register the
same way under the entry-point group ``syncline.destinations``; both load lazily so that a
destination's dependencies are only imported when a sync uses it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Final, cast

from syncline.destinations.base import DestinationClient
from syncline.errors import ConfigError

__all__ = ["ENTRY_POINT_GROUP", "destination_client", "known_types"]

ENTRY_POINT_GROUP: Final = "syncline.destinations"
BUILTINS: Final[dict[str, str]] = {
    "clevertap": "syncline.destinations.clevertap:create_client",
}

Factory = Callable[[Any], DestinationClient]


def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_types() -> list[str]:
    """Every destination type this installation can build, built-ins first."""
    return list(BUILTINS) + sorted(set(_plugins()) - set(BUILTINS))


def _load(spec: str, kind: str) -> Factory:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"destination type {kind!r} is registered as {spec!r} but its module cannot be "
            f"imported ({exc}); reinstall the package that provides it"
        ) from exc
    return cast(Factory, getattr(module, attr))


def destination_client(config: Any) -> DestinationClient:
    """A connected client for a destination config, chosen by its ``type``.

    Raises:
        ConfigError: no built-in or ``syncline.destinations`` entry point has that type.
    """
    kind = getattr(config, "type", None)
    spec = BUILTINS.get(kind) if isinstance(kind, str) else None
    if spec is None and isinstance(kind, str):
        spec = _plugins().get(kind)
    if spec is None:
        raise ConfigError(
            f"unknown destination type {kind!r}; known types: {', '.join(known_types())}. "
            f"A third-party destination registers a factory under the entry-point group "
            f"{ENTRY_POINT_GROUP!r}"
        )
    return _load(spec, kind)(config)  # type: ignore[arg-type]
