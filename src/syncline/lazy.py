"""Modules imported on first use, for the start-up of a run that may never use them.

A nothing-changed run of a large model is mostly its one DuckDB statement and the process's
start-up; httpx (45 ms of imports) and phonenumbers (15 ms) are needed only once a row is sent
or a phone number normalised (bench/PROFILING.md, "Round two: start-up of a nothing-changed
run"). ``lazy_module`` gives a stand-in module at once; the first attribute read it does not
hold imports the real module and copies its namespace in, so ``except httpx.HTTPError`` and
``isinstance`` checks keep working unchanged and later reads cost what a module's do.

Not ``importlib.util.LazyLoader``: on Python 3.11 its first attribute read has no lock, and a
second thread reading meanwhile sees a half-run module (delivery threads, the server's request
threads). Here the import is a plain ``import_module``, which Python's import lock serialises,
and the stand-in is never put in ``sys.modules``: an ``import httpx`` elsewhere gets the real
module, as ever.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import Any

__all__ = ["lazy_module"]


class _Deferred(ModuleType):
    """A module's stand-in until its first use: see the module docstring."""

    def __getattr__(self, attr: str) -> Any:
        # called only for names the stand-in does not hold yet: the first read, or a name the
        # real module lacks (then getattr raises AttributeError, as the module itself would)
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)
        return getattr(real, attr)


def lazy_module(name: str) -> ModuleType:
    """A stand-in for module ``name`` that imports it on its first attribute read.

    A module that is not installed fails here, as ``import`` would, not at its first use.
    """
    if importlib.util.find_spec(name) is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    return _Deferred(name)
