"""Runs on Celery workers: the scale-out path of ``syncline serve``.

Without ``SYNCLINE_BROKER_URL`` nothing here is imported and every run happens inside the one
server process. With it, a run is one Celery task (``syncline.run``): the server and the
schedulers put tasks on the queue (``CeleryQueue``) and ``syncline worker`` processes run them
(``run_worker``) with the same ``Runner``, against the same state store. Celery is imported only
here, and only when a broker is set.
"""

from __future__ import annotations

from syncline.workers.queue import (
    BROKER_ENV,
    DEFAULT_QUEUE,
    QUEUE_ENV,
    CeleryQueue,
    broker_settings,
    make_app,
)

__all__ = ["BROKER_ENV", "DEFAULT_QUEUE", "QUEUE_ENV", "CeleryQueue", "broker_settings",
           "make_app"]
