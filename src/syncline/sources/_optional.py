"""The one place optional dependencies are imported.

A SQL dialect such as Snowflake lives in a package users install only when they need it
(``pip install syncline[snowflake]``). Importing it anywhere else would turn a missing extra into
an ``ImportError`` deep inside a run; here it becomes a ``ConfigError`` that names the extra.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from syncline.errors import ConfigError

__all__ = ["EXTRAS", "require"]

# source type -> (module that must import, extra that provides it)
EXTRAS: dict[str, tuple[str, str]] = {
    "postgres": ("psycopg", "postgres"),
    "mysql": ("pymysql", "mysql"),
    "mariadb": ("pymysql", "mysql"),
    "snowflake": ("snowflake.sqlalchemy", "snowflake"),
    "bigquery": ("sqlalchemy_bigquery", "bigquery"),
    "redshift": ("sqlalchemy_redshift", "redshift"),
    "databricks": ("databricks.sqlalchemy", "databricks"),
}


def require(module: str, extra: str, *, source: str = "") -> ModuleType:
    """Import ``module`` or raise a ``ConfigError`` telling which extra to install.

    Args:
        module: dotted module name, e.g. ``snowflake.sqlalchemy``.
        extra: the ``syncline[...]`` extra that installs it.
        source: the source's name in ``syncline.yml``, for the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        where = f"source `{source}`: " if source else ""
        raise ConfigError(
            f"{where}the `{extra}` driver is not installed (cannot import `{module}`); "
            f"install it with `pip install 'syncline[{extra}]'`"
        ) from exc


def require_for(source_type: str, *, source: str = "") -> ModuleType | None:
    """Import the driver a source type needs, if it needs one outside the core install."""
    needed = EXTRAS.get(source_type)
    if needed is None:
        return None
    return require(needed[0], needed[1], source=source)
