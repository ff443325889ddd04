"""Log lines: JSON with the request id, and no secret in any of them."""

from __future__ import annotations

import json
import logging

import pytest

from config.logging_setup import (
    ContextFilter,
    JsonFormatter,
    Redactor,
    database_url_secrets,
    hide_api_keys,
    logging_config,
    request_id_var,
)

CANARY = "canary-s3cret-91b2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"postgresql://app:{CANARY}@db:5432/x", "postgresql://app:***@db:5432/x"),
        (f"host=db password={CANARY} dbname=x", "host=db password=*** dbname=x"),
        (f"host=db password='{CANARY}' dbname=x", "host=db password=*** dbname=x"),
        (f"Authorization: Bearer {CANARY}", "Authorization: Bearer ***"),
        (f"the value {CANARY} itself", "the value *** itself"),
        ("postgresql://app@db/x has no password", "postgresql://app@db/x has no password"),
    ],
)
def test_redactor_removes_known_secrets_and_secret_shapes(text: str, expected: str) -> None:
    assert Redactor([CANARY]).redact(text) == expected


def test_database_url_secrets_are_the_url_and_its_password() -> None:
    url = f"postgresql://app:{CANARY}@db/x"

    assert sorted(database_url_secrets(url)) == sorted([url, CANARY])
    assert database_url_secrets("postgresql://app@db/x") == ["postgresql://app@db/x"]


def make_record(message: str, *args: object, exc_info: bool = False) -> logging.LogRecord:
    error_info = None
    if exc_info:
        error = RuntimeError(f"connect to postgresql://app:{CANARY}@db/x failed")
        error_info = (RuntimeError, error, None)
    record = logging.LogRecord(
        "test.logger", logging.WARNING, __file__, 1, message, args, error_info
    )
    record.route = "/api/v1/applications"
    return record


def test_a_json_line_has_the_request_id_the_extra_fields_and_no_secret() -> None:
    token = request_id_var.set("req-42")
    try:
        record = make_record("failed with %s", f"password={CANARY}", exc_info=True)
        assert ContextFilter([CANARY]).filter(record) is True
    finally:
        request_id_var.reset(token)

    line = JsonFormatter().format(record)

    assert CANARY not in line
    entry = json.loads(line)
    assert set(entry) == {"time", "level", "logger", "message", "request_id", "route", "exception"}
    assert (entry["level"], entry["logger"], entry["request_id"]) == (
        "warning",
        "test.logger",
        "req-42",
    )
    assert entry["message"] == "failed with password=***"
    assert entry["route"] == "/api/v1/applications"
    assert entry["exception"].endswith("RuntimeError: connect to postgresql://app:***@db/x failed")


def test_a_line_outside_any_request_says_so() -> None:
    record = make_record("starting")
    ContextFilter().filter(record)

    assert json.loads(JsonFormatter().format(record))["request_id"] == "-"


@pytest.mark.parametrize(
    ("log_format", "formatter"),
    [
        ("json", {"()": "config.logging_setup.JsonFormatter"}),
        ("text", {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}),
    ],
)
def test_logging_config_picks_the_formatter_and_passes_the_secrets(
    log_format: str, formatter: dict[str, str]
) -> None:
    config = logging_config(level="info", log_format=log_format, secrets=[CANARY])  # type: ignore[arg-type]

    assert config["formatters"]["default"] == formatter
    assert config["filters"]["context"]["secrets"] == [CANARY]
    assert config["root"] == {"level": "INFO", "handlers": ["default"]}
    assert config["loggers"]["uvicorn.access"]["propagate"] is False


def test_a_json_line_leaves_out_uvicorns_coloured_copy_of_the_message() -> None:
    record = make_record("Started server process [%d]", 42)
    record.color_message = "Started server process [\x1b[36m%d\x1b[0m]"
    ContextFilter().filter(record)

    entry = json.loads(JsonFormatter().format(record))

    assert "color_message" not in entry
    assert entry["message"] == "Started server process [42]"


def test_watchfiles_reports_of_changes_are_not_logged_at_info() -> None:
    config = logging_config(level="debug", log_format="text")

    assert config["loggers"]["watchfiles"]["level"] == "WARNING"


def test_a_long_line_of_url_like_text_is_scrubbed_without_backtracking() -> None:
    # With Python's re this line took minutes (quadratic); RE2 scans it once.
    line = "a://x:" * 200_000 + "secret@host"
    assert Redactor().redact(line) == "a://x:***@host"


CANARY_KEY = "cs_k7d2m4qx_Canary-Key_0123456789abcdefghijklmnopqrstu"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"failed to use {CANARY_KEY} here", "failed to use cs_k7d2m4qx_*** here"),
        (
            f"headers={{'authorization': 'Bearer {CANARY_KEY}'}}",
            "headers={'authorization': 'Bearer ***'}",
        ),
        (f"key={CANARY_KEY}", "key=cs_k7d2m4qx_***"),
    ],
)
def test_api_keys_are_scrubbed_keeping_only_their_prefix(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


def test_a_logged_api_key_never_reaches_the_line() -> None:
    record = logging.LogRecord(
        "x", logging.ERROR, "f", 1, "request with %s failed", (CANARY_KEY,), None
    )
    ContextFilter().filter(record)

    line = JsonFormatter().format(record)

    assert CANARY_KEY not in line
    assert json.loads(line)["message"] == "request with cs_k7d2m4qx_*** failed"


def test_text_with_a_lone_surrogate_is_scrubbed_not_raised() -> None:
    """RE2 takes UTF-8; a client's lone surrogate (JSON "\\udc00") is kept as its escape."""
    key = "cs_abcdefgh_" + "s" * 43
    assert hide_api_keys(f"config.\udc00 {key}") == "config.\\udc00 cs_abcdefgh_***"
    assert Redactor().redact("field \udc00 Bearer abc") == "field \\udc00 Bearer ***"


CANARY_TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSJ9.Q2FuYXJ5LXNpZ25hdHVyZQ"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"token {CANARY_TOKEN} refused", "token eyJ*** refused"),
        (f"/api/v1/values/{CANARY_TOKEN}/x", "/api/v1/values/eyJ***/x"),
        (f"{CANARY_TOKEN}.{CANARY_TOKEN}", "eyJ***.eyJ***"),
        (
            "eyJ alone, or eyJhbGci.without-a-signature-part",
            "eyJ alone, or eyJhbGci.without-a-signature-part",
        ),
    ],
)
def test_identity_tokens_are_scrubbed_from_logs_and_problem_bodies(
    text: str, expected: str
) -> None:
    assert Redactor().redact(text) == expected
    assert hide_api_keys(text) == expected
