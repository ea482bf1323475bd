"""`listening_port`: how tests and the bench learn the port of a server child started on
``--port 0`` (no port chosen in the parent, so none another process can take first)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from syncline_sandbox.testing import listening_port


def _child(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)


def test_reads_the_port_from_the_running_on_line_and_passes_the_rest_on(
        capfd: pytest.CaptureFixture[str]) -> None:
    proc = _child("import sys; w = sys.stderr.write; w('INFO:     Started\\n'); "
                  "w('WARNING:  careful\\n'); "
                  "w('INFO:     Uvicorn running on http://127.0.0.1:40123 (Press CTRL+C)\\n')")
    assert listening_port(proc, timeout=30) == 40123
    proc.wait(timeout=30)
    assert proc.stderr is not None
    proc.stderr.close()
    err = capfd.readouterr().err
    assert "WARNING:  careful" in err and "Started" not in err


def test_a_child_that_exits_without_listening_is_an_error() -> None:
    proc = _child("import sys; sys.stderr.write('OSError: [Errno 98] address in use\\n'); "
                  "sys.exit(1)")
    with pytest.raises(RuntimeError, match="did not report a listening port"):
        listening_port(proc, timeout=30)
    proc.wait(timeout=30)
