"""Run one command as a child process and measure it exactly: wall time, CPU, peak RSS.

``os.wait4`` returns the child's own CPU (user + system) exactly, however short the run. Its
``ru_maxrss`` cannot be used: Linux carries the high-water mark of the pre-exec image across
``exec``, and Python starts children with vfork, so every child reported at least the harness's
own peak. Peak RSS is therefore the child's ``VmHWM`` (a per-address-space high-water mark,
fresh after exec) read from /proc every 20 ms; only growth in the last 20 ms could be missed.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Measured", "cpu_seconds", "run_measured"]


@dataclass(frozen=True, slots=True)
class Measured:
    """What one child process cost; ``stdout`` is kept for the JSON summary it may print."""

    argv: tuple[str, ...]
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str

    def check(self, what: str) -> Measured:
        """Raise with the child's own words when it failed: a benchmark of a failure is noise."""
        if self.returncode != 0:
            tail = (self.stderr or self.stdout)[-2000:]
            raise RuntimeError(f"{what} exited with {self.returncode}: {tail}")
        return self


def run_measured(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 1800.0,
) -> Measured:
    """Start ``argv``, wait for it with ``wait4`` and return its exact cost.

    stdout/stderr go to files (not pipes) so a chatty child never blocks on a full pipe while
    we sit in ``wait4``.
    """
    out_path, err_path = _scratch("out"), _scratch("err")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env) if env else None,
                                stdout=out, stderr=err)  # fmt: skip
        status, usage, peak_kb = _wait(proc, started + timeout_s)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    out_path.unlink()
    err_path.unlink()
    return Measured(
        argv=tuple(argv), returncode=proc.returncode, wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime, peak_rss_mb=peak_kb / 1024,
        stdout=stdout, stderr=stderr,
    )  # fmt: skip


def _wait(
    proc: subprocess.Popen[bytes], deadline: float
) -> tuple[int, resource.struct_rusage, int]:
    """``wait4`` with a deadline, sampling ``VmHWM`` (kB) while the child runs."""
    peak_kb = 0
    while True:
        peak_kb = max(peak_kb, _hwm_kb(proc.pid))
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            return status, usage, peak_kb
        if time.perf_counter() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            return status, usage, peak_kb
        time.sleep(0.02)


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0  # a zombie has no VmHWM line: keep the last reading


def _scratch(kind: str) -> Path:
    base = Path(os.environ.get("TMPDIR", "/tmp"))
    return base / f"syncline-bench-{os.getpid()}-{time.monotonic_ns()}.{kind}"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (for the sandbox, which outlives each measurement)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
