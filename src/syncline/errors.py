"""Every public Syncline exception.

Two axes, so callers decide with one ``isinstance``:

* domain — where it went wrong (config, source, destination, store, run);
* recovery — ``Transient`` (retrying the same request may succeed) or ``Terminal`` (it will not).

Tree::

    SynclineError
    ├── ConfigError                      syncline.yml or a CLI argument is wrong
    ├── SourceError                      a source cannot be reached or read
    │   └── ModelError                   a model's table, query or columns are wrong
    ├── DestinationError
    │   ├── DestinationAuthError         (Terminal) 401/403: account id, passcode or region
    │   ├── DestinationRequestError      (Terminal) 400 and other 4xx: the request itself is bad
    │   ├── DestinationUnavailableError  (Transient) 429, 5xx, timeouts, dropped connections
    │   │   ├── DestinationRateLimitError (Transient) 429: too many concurrent uploads
    │   │   └── DestinationAnswerError   (Transient) a 200 whose body does not account for the batch
    │   └── DestinationUnreachableError  (Transient) DNS, refused connection
    ├── StoreError                       the state store cannot be read or written
    ├── AlertDeliveryError               (Transient) an alert channel refused or was unreachable
    └── RunError
        ├── RunLockedError               another run of the same sync holds the lease
        ├── RunFailedError               a run failed as a whole (nothing could be delivered)
        ├── MassDeleteError              a run would delete more than `max_delete_percent`
        └── SnapshotMismatchError        the snapshot is lost, older, or another one

A record that CleverTap rejects is *not* an exception: one response mixes accepted and rejected
records, so rejections are returned as data (see ``syncline.destinations.base``).
"""

from __future__ import annotations

__all__ = [
    "AlertDeliveryError",
    "ConfigError",
    "DestinationAnswerError",
    "DestinationAuthError",
    "DestinationError",
    "DestinationRateLimitError",
    "DestinationRequestError",
    "DestinationUnavailableError",
    "DestinationUnreachableError",
    "MassDeleteError",
    "ModelError",
    "RunError",
    "RunFailedError",
    "RunLockedError",
    "SnapshotMismatchError",
    "SourceError",
    "StoreError",
    "SynclineError",
    "Terminal",
    "Transient",
]


class SynclineError(Exception):
    """Root of every error Syncline raises on purpose."""


class Transient:
    """Mixin: the same request may succeed if retried later (backoff applies)."""


class Terminal:
    """Mixin: retrying the same request cannot succeed; a person must fix something."""


class ConfigError(SynclineError, Terminal):
    """The project file, an environment variable or a command-line argument is wrong."""


class SourceError(SynclineError):
    """A source could not be reached or read."""


class ModelError(SourceError, Terminal):
    """A sync's model (table, query or the columns its mapping names) is wrong."""


class DestinationError(SynclineError):
    """A destination refused a request or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, body: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = body


class DestinationAuthError(DestinationError, Terminal):
    """The destination refused the credentials (401/403)."""


class DestinationRequestError(DestinationError, Terminal):
    """The destination refused the request as malformed (400 and other 4xx)."""


class DestinationUnavailableError(DestinationError, Transient):
    """The destination is busy or failing (5xx, timeouts, dropped connections)."""


class DestinationRateLimitError(DestinationUnavailableError):
    """Too many uploads in flight for this account (429)."""


class DestinationAnswerError(DestinationUnavailableError):
    """A 200 answer that does not account for every record of the batch.

    The destination may have stored any part of the batch, so it is handled like a request
    that failed after the body was sent: retried (profiles), in doubt (events).
    """


class DestinationUnreachableError(DestinationError, Transient):
    """The destination's host could not be reached at all."""


class StoreError(SynclineError, Terminal):
    """The state store could not be read or written."""


class AlertDeliveryError(SynclineError, Transient):
    """An alert could not be sent (the run it reports on is not affected)."""


class RunError(SynclineError):
    """A run could not start or could not finish."""


class RunLockedError(RunError, Terminal):
    """Another run of this sync holds its lease."""


class RunFailedError(RunError, Terminal):
    """The run failed as a whole."""


class MassDeleteError(RunError, Terminal):
    """A run would delete more of a sync's snapshot than its ``max_delete_percent`` allows."""


class SnapshotMismatchError(RunError, Terminal):
    """The snapshot is not the one the state store recorded: planning from it would resend."""
