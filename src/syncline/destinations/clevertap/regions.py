"""CleverTap regions and their API hosts (docs/clevertap.md §1).

Each CleverTap account lives in one data centre; its API host carries the region as a prefix
(``us1.api.clevertap.com``). Europe, the default region, answers on ``eu1.api.clevertap.com``
(used by CleverTap's own Node SDK) as well as the bare ``api.clevertap.com``; we use ``eu1`` so
that every region has the same shape. An ``endpoint`` (the sandbox's URL) replaces the host
entirely: the sandbox serves every region on one port and only checks regions through the
``Host`` header of real CleverTap host names.
"""

from __future__ import annotations

from typing import Final

__all__ = ["REGIONS", "base_url", "region_host"]

REGIONS: Final = ("eu1", "in1", "us1", "sg1", "aps3", "mec1", "sk1")


def region_host(region: str) -> str:
    """The API host of ``region``, e.g. ``us1.api.clevertap.com``."""
    if region not in REGIONS:
        raise ValueError(f"unknown CleverTap region {region!r}; use one of {', '.join(REGIONS)}")
    return f"{region}.api.clevertap.com"


def base_url(region: str, endpoint: str | None = None) -> str:
    """The base URL requests go to: ``endpoint`` when given, else the region's HTTPS host."""
    if endpoint:
        return endpoint.rstrip("/")
    return f"https://{region_host(region)}"
