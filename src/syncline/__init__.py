"""Syncline: open-source, self-hosted Reverse ETL.

Reads tables and queries from a warehouse, works out in SQL which rows are new or changed since
the last run, maps them to a destination's records and delivers them, every record accounted for.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
