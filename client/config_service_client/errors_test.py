"""Error answers become typed errors, with what each kind carries."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from config_service_client.errors import (
    Forbidden,
    NotFound,
    PreconditionFailed,
    ProblemError,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    UnexpectedStatus,
    ValidationFailed,
    error_from_response,
    retry_after_seconds,
)


def answer(status: int, body: Any = None, **headers: str) -> httpx.Response:
    content = json.dumps(body).encode() if body is not None else b""
    return httpx.Response(
        status,
        content=content,
        headers={"content-type": "application/problem+json", **headers},
        request=httpx.Request("GET", "http://service/api/v1/values/a/b"),
    )


def test_a_412_carries_the_current_etag_and_revision() -> None:
    error = error_from_response(
        answer(
            412,
            {
                "type": "urn:config-service:problem:precondition-failed",
                "title": "Precondition failed",
                "status": 412,
                "detail": (
                    "configuration X is at revision 4, which the If-Match header does not name"
                ),
                "current_revision": 4,
                "current_etag": '"4"',
                "request_id": "r1",
            },
        )
    )
    assert isinstance(error, PreconditionFailed)
    assert (error.current_etag, error.current_revision, error.request_id) == ('"4"', 4, "r1")
    assert str(error) == (
        "412 Precondition failed: configuration X is at revision 4, which the If-Match header "
        "does not name"
    )


def test_a_422_lists_each_broken_rule() -> None:
    error = error_from_response(
        answer(
            422,
            {
                "title": "Request failed validation",
                "detail": "config.pool_size: 0 is less than the minimum of 1",
                "errors": [
                    {
                        "location": "body",
                        "field": "config.pool_size",
                        "rule": "json_schema",
                        "message": "0 is less than the minimum of 1",
                        "pointer": "/config/pool_size",
                    },
                    "not an object",
                ],
            },
        )
    )
    assert isinstance(error, ValidationFailed)
    assert [(item.field, item.rule, item.pointer) for item in error.errors] == [
        ("config.pool_size", "json_schema", "/config/pool_size"),
        ("", "", None),
    ]


@pytest.mark.parametrize(
    ("status", "headers", "kind", "retry_after"),
    [
        (429, {"retry-after": "7"}, RateLimited, 7.0),
        (503, {"retry-after": "2"}, ServiceUnavailable, 2.0),
        (503, {}, ServiceUnavailable, None),
        (502, {"retry-after": "soon"}, ServerError, None),
        (404, {}, NotFound, None),
        (403, {}, Forbidden, None),
        (418, {}, UnexpectedStatus, None),
    ],
)
def test_each_status_has_its_kind_and_retry_time(
    status: int, headers: dict[str, str], kind: type[ProblemError], retry_after: float | None
) -> None:
    error = error_from_response(answer(status, {"detail": "d"}, **headers))
    assert type(error) is kind
    assert (error.status, error.retry_after) == (status, retry_after)
    assert error.retryable is (status in (429, 502, 503))


def test_an_answer_that_is_no_problem_keeps_the_start_of_its_text() -> None:
    response = httpx.Response(
        502,
        content=b"<html>" + b"x" * 1000,
        headers={"content-type": "text/html"},
        request=httpx.Request("GET", "http://service/"),
    )
    error = error_from_response(response)
    assert isinstance(error, ServerError)
    assert error.title == "Bad Gateway"
    assert error.detail.startswith("an answer that is no problem body (text/html): '<html>xxx")
    assert len(error.detail) < 300


def test_retry_after_may_be_an_http_date() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert retry_after_seconds("-3") is None
    assert retry_after_seconds("") is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("\u00b2", None),  # a superscript two: a digit to str.isdigit, no number to float()
        ("\u0661\u0662", None),  # Arabic-Indic digits: RFC 9110 delay-seconds are ASCII
        ("9" * 400, None),  # beyond any float: no infinite wait to hand the caller
        ("1.5", None),
        (" 30 ", 30.0),
        ("Fri, 31 Dec 99999 23:59:59 GMT", None),
    ],
)
def test_odd_retry_after_values_are_ignored_not_raised(value: str, seconds: float | None) -> None:
    assert retry_after_seconds(value) == seconds


def test_an_odd_retry_after_still_gives_the_typed_error() -> None:
    response = httpx.Response(
        429,
        content=b"{}",
        headers=[
            (b"content-type", b"application/problem+json"),
            (b"retry-after", "\u00b2".encode()),  # as a proxy might send it, in UTF-8
        ],
        request=httpx.Request("GET", "http://service/api/v1/values/a/b"),
    )
    error = error_from_response(response)
    assert (type(error), error.retry_after) == (RateLimited, None)
