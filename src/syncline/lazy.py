"""Modules imported on first use, for the start-up of a run that may never use them.

A nothing-changed run of a large model is mostly its one DuckDB statement and the process's
start-up; httpx (45 ms of imports) and phonenumbers (15 ms) are needed only once a row is sent
or a phone number normalised (bench/PROFILING.md, "Round two: start-up of a nothing-changed
run"). ``lazy_module`` gives the module object at once and runs its code on the first attribute
read (``importlib.util.LazyLoader``), so ``except httpx.HTTPError`` and ``isinstance`` checks
keep working unchanged.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

__all__ = ["lazy_module"]


def lazy_module(name: str) -> ModuleType:
    """``name``, imported already or loaded on its first attribute read.

    The first read should not race between threads (Python 3.11's ``LazyLoader`` has no lock):
    callers touch the module first on one thread, before any that use it in parallel.
    """
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:  # not installed: fail here, as `import` would
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
