"""``syncline serve``: the REST API and the dashboard (FastAPI), with users, tokens and secrets.

Heavy imports stay in the submodules; import ``syncline.server.app`` for ``create_app``.
"""

from __future__ import annotations
