"""CleverTap destination: the factory the registry calls (the client loads on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from syncline.destinations.base import DestinationCapabilities

if TYPE_CHECKING:
    from syncline.config.models import CleverTapDestinationConfig
    from syncline.destinations.clevertap.client import CleverTapClient

__all__ = ["CAPABILITIES", "create_client"]

CAPABILITIES = DestinationCapabilities(max_records_per_batch=1000, max_in_flight=15)


def create_client(config: CleverTapDestinationConfig) -> CleverTapClient:
    """A connected ``CleverTapClient`` for one destination config."""
    from syncline.destinations.clevertap.client import CleverTapClient

    return CleverTapClient(config)
