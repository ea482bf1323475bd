"""``syncline.lazy``: a module's stand-in imports it on first use, once, from any thread."""

from __future__ import annotations

import subprocess
import sys

import pytest

from syncline.lazy import lazy_module

# run in a fresh interpreter: the module must not be imported before the stand-in is read
_PROBE = """\
import sys, threading
from syncline.lazy import lazy_module
mod = lazy_module("fractions")
assert "fractions" not in sys.modules  # nothing imported yet
barrier, got, errors = threading.Barrier(8), [], []
def read():
    barrier.wait()
    try:
        got.append(mod.Fraction(1, 3) + mod.Fraction(1, 6))
    except Exception as exc:  # a half-run module: AttributeError
        errors.append(repr(exc))
threads = [threading.Thread(target=read) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
import fractions
assert not errors, errors
assert got == [fractions.Fraction(1, 2)] * 8
assert isinstance(got[0], mod.Fraction) and mod.Fraction is fractions.Fraction
assert sys.modules["fractions"] is fractions and fractions is not mod
print("ok")
"""


def test_the_first_read_imports_the_module_on_every_thread_at_once() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_a_missing_module_fails_at_once_and_a_missing_name_as_the_module_would() -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_module_here"):
        lazy_module("no_such_module_here")
    with pytest.raises(AttributeError, match="no_such_name"):
        lazy_module("json").no_such_name  # noqa: B018
