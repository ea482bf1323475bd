"""``${ENV}`` references that a saved connection keeps as references.

``syncline apply`` copies ``syncline.yml`` into the state store. A field written there as
``password: ${PG_PASSWORD}`` stays a reference: the server reads the variable each time it
connects, so rotating the password in the environment reaches the server without another
``apply``, and ``syncline export`` writes the same ``${PG_PASSWORD}`` back.

Only ``apply`` (someone with the project's files and shell) creates references. Values typed in
the dashboard or sent to the API are taken literally: otherwise whoever may edit a connection
could write ``${SYNCLINE_SECRET_KEY}`` as a password, point the host at their own server, press
*Test*, and read any variable of the server's environment. An edit that leaves a referenced
field as it was (absent, or the same ``${...}`` text) keeps the reference.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from syncline.config.load import ENV_REFERENCE
from syncline.errors import ConfigError

__all__ = ["REFERENCES_KEY", "references_in", "resolve_references"]

REFERENCES_KEY = "$env"
"""Key of a connection's stored settings holding ``{field: "${VAR}"}``; no config field can
be called that, so it never clashes with a real setting."""


def references_in(config: Mapping[str, Any]) -> dict[str, str]:
    """The top-level text fields of a raw (not interpolated) config that use ``${VAR}``.

    Nested values (a files source's table paths, a ``query:`` mapping) are resolved when
    applied, as ``syncline.yml`` always resolved them.
    """
    return {
        key: value for key, value in config.items()
        if key != "type" and isinstance(value, str) and ENV_REFERENCE.search(value)
    }


def resolve_references(
    where: str, references: Mapping[str, str], env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Each referenced field's value from the environment now.

    Args:
        where: names the connection in errors, e.g. ``source `warehouse```.
        references: ``{field: "${VAR}"}``, as ``references_in`` found them.

    Raises:
        ConfigError: a variable is not set and has no ``:-default``.
    """
    environ = os.environ if env is None else env
    resolved: dict[str, str] = {}
    for field, template in references.items():
        def value_of(match: Any, field: str = field) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return str(environ[name])
            if default is not None:
                return str(default)
            raise ConfigError(
                f"{where}: `{field}` is ${{{name}}} but the environment variable {name} is not "
                f"set where Syncline runs; export it (then restart `syncline serve`) or write "
                f"${{{name}:-default}} in syncline.yml and apply it again"
            )

        resolved[field] = ENV_REFERENCE.sub(value_of, template)
    return resolved
