"""The Celery app: one task, ``syncline.run``, on one queue; and the server's side of it.

Celery settings, each a choice made for Syncline's guarantees:

* ``task_acks_late = False`` (Celery's default, stated on purpose): a task is acknowledged when
  a worker takes it, so a worker killed mid-run does not get its run re-delivered to another
  worker and run twice. The killed run is finalised as failed by the next run of its sync,
  which takes over its lease (and deals with its in-doubt event keys, as after any crash).
* ``worker_prefetch_multiplier = 1`` and ``worker_disable_prefetch`` (Redis): a worker takes a
  task only when it has a free slot, so a queued run goes to whichever worker is free, not to
  one busy with a long run, and a worker that dies holds no task it had not started.
* a task reserved but not started by a worker that dies is re-delivered (RabbitMQ: when the
  connection drops; Redis: after ``visibility_timeout``); a scheduled run's task first marks its
  fired-run row as started, so a duplicate delivery is dropped instead of run twice.
* no result backend: a run's result is its row in the state store.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from syncline.errors import ConfigError

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["BROKER_ENV", "DEFAULT_QUEUE", "QUEUE_ENV", "TASK", "CeleryQueue", "broker_settings",
           "make_app"]

BROKER_ENV = "SYNCLINE_BROKER_URL"
QUEUE_ENV = "SYNCLINE_QUEUE"
DEFAULT_QUEUE = "syncline"
TASK = "syncline.run"


def broker_settings(env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """``(broker URL, queue name)`` from the environment, or None for the embedded default."""
    environ = os.environ if env is None else env
    url = environ.get(BROKER_ENV, "").strip()
    if not url:
        return None
    if not url.startswith(("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")):
        raise ConfigError(f"{BROKER_ENV}={url!r} is not a Redis or RabbitMQ URL; use e.g. "
                          "redis://localhost:6379/0 or amqp://guest:guest@localhost:5672//")
    return url, environ.get(QUEUE_ENV, "").strip() or DEFAULT_QUEUE


def make_app(broker_url: str, queue: str) -> Celery:
    """A Celery app on ``broker_url`` routing ``syncline.run`` to ``queue``."""
    try:
        from celery import Celery
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigError(f"{BROKER_ENV} is set but Celery is not installed; install "
                          "`syncline[workers]`") from exc
    app = Celery("syncline", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        task_routes={TASK: {"queue": queue}},
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        worker_disable_prefetch=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        # Redis re-delivers a task reserved by a worker that died before starting it after
        # this long; the fired-run row makes a second delivery of a started one a no-op
        broker_transport_options={"visibility_timeout": 60},
    )
    return app


class CeleryQueue:
    """The server's and the schedulers' side: put runs on the queue (a ``RunQueue``)."""

    def __init__(self, broker_url: str, queue: str) -> None:
        self.queue = queue
        self.app = make_app(broker_url, queue)

    def enqueue(self, sync: str, *, full: bool, trigger: str, due: datetime | None = None,
                resend_events: bool = False) -> str:
        kwargs: dict[str, Any] = {"sync": sync, "full": full, "trigger": trigger,
                                  "due": due.isoformat() if due is not None else None,
                                  "resend_events": resend_events}
        return str(self.app.send_task(TASK, kwargs=kwargs, queue=self.queue).id)

    def close(self) -> None:
        """Release the broker connections."""
        self.app.close()
