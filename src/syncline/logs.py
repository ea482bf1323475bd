"""Log lines for people (text) or for log pipelines (one JSON object per line).

Runs, retries and alerts log one line each with their facts as fields (``extra=``), so a JSON
line carries ``sync``, ``run_id``, counts and status as keys a log pipeline can index. Secrets
never appear: every secret the project loads is registered here, and every line (message and
fields) is scrubbed of them, as are passwords inside URLs (``scheme://user:PASSWORD@host``).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

__all__ = [
    "JsonFormatter",
    "LogFormat",
    "configure_logging",
    "is_configured",
    "redact",
    "register_secret",
]

LogFormat = Literal["text", "json"]

_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.\-]*://[^:/@\s]+:)[^@\s]+(?P<at>@)", re.I)
_secrets: set[str] = set()
_configured: list[LogFormat] = []
_lock = threading.Lock()
# attributes every LogRecord has; anything else came from `extra=` and is a field of the line
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def register_secret(value: str | None) -> None:
    """Never print ``value`` (a passcode, password, token): lines show ``***`` instead."""
    if value and len(value) >= 4:  # shorter strings would mask ordinary words
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` without registered secrets or passwords in URLs."""
    text = _URL_PASSWORD.sub(r"\g<head>***\g<at>", text)
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(_clean(line), default=str).decode()


class _TextFormatter(logging.Formatter):
    """``time level logger: message key=value ...``, scrubbed like the JSON lines."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD)
        text = super().format(record) + (f" {fields}" if fields else "")
        return redact(text)


def configure_logging(fmt: LogFormat = "text", level: int = logging.INFO) -> None:
    """Send Syncline's (and uvicorn's) log lines to stderr in ``fmt``; call once per process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else _TextFormatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("syncline", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    _configured[:] = [fmt]


def is_configured() -> bool:
    """Whether ``configure_logging`` ran in this process (``--log-format`` was given)."""
    return bool(_configured)
