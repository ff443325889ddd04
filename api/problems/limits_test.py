"""A problem body stays small whatever the request that caused it (api/problems/limits.py)."""

from __future__ import annotations

import httpx

from api.problems.limits import MAX_PROBLEM_ERRORS_SIZE, MAX_PROBLEM_TEXT
from api.v1.applications_test import assert_problem, create_application

LONG_KEY = "k" * 800_000
SCHEMA = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}


def test_errors_under_a_long_key_are_shortened_and_capped(client: httpx.Client) -> None:
    application = create_application(client)
    response = client.post(
        "/api/v1/configurations",
        json={
            "application_id": application["id"],
            "name": "n",
            "config": {LONG_KEY: list(range(60))},
            "schema": SCHEMA,
        },
    )

    problem = assert_problem(response, 422)
    # Uncapped, each of 50 errors repeats the key twice: 80 MB.
    assert len(response.content) < MAX_PROBLEM_ERRORS_SIZE + 8 * MAX_PROBLEM_TEXT
    errors = problem["errors"]
    assert len(errors) + problem["errors_omitted"] == 50
    assert 0 < len(errors) < 50
    first = errors[0]
    assert first["rule"] == "json_schema"
    assert first["field"] == "config." + "k" * (MAX_PROBLEM_TEXT - len("config.")) + "…"
    assert first["pointer"] == "/config/" + "k" * (MAX_PROBLEM_TEXT - len("/config/")) + "…"
    assert len(problem["detail"]) <= 4 * MAX_PROBLEM_TEXT + 1
    assert "k" * (MAX_PROBLEM_TEXT + 1) not in problem["detail"]


def test_a_long_unknown_field_is_shortened(client: httpx.Client) -> None:
    response = client.post("/api/v1/applications", json={"name": "n", LONG_KEY: 1})

    problem = assert_problem(response, 422, "extra_forbidden")
    assert len(response.content) < 8 * MAX_PROBLEM_TEXT
    assert problem["errors"][0]["field"] == "k" * MAX_PROBLEM_TEXT + "…"
    assert "errors_omitted" not in problem
