"""A document's size as PostgreSQL stores and writes it back: numbers are written out in full."""

from __future__ import annotations

import json

import httpx
import pytest
from psycopg2.extras import Json

from api.v1.applications_test import JSON_HEADERS, assert_problem, create_application
from database.pool import connect
from models.json_document import find_document_problems, stored_number_growth

NUMBERS = [1e308, 1e-300, -1.5e-300, 1.5e-05, 1.2345e20, -2.5e16, 1e16, 0.0001, 123.5, 1e-5]


def test_the_growth_of_numbers_is_what_postgresql_writes(database_url: str) -> None:
    connection = connect(database_url)
    try:
        with connection.cursor() as cursor:
            for number in NUMBERS:
                cursor.execute("SELECT %(n)s::jsonb::text", {"n": Json(number)})
                row = cursor.fetchone()
                assert row is not None
                assert len(row[0]) == len(json.dumps(number)) + stored_number_growth(number), (
                    number,
                    row[0],
                )
    finally:
        connection.close()


def test_a_document_whose_numbers_grow_past_the_limit_is_refused() -> None:
    grows = {"n": [1e308] * 10}  # 3,090 characters once stored
    problems = find_document_problems(grows, max_depth=32, max_stored_bytes=3000)
    assert [(problem.pointer, problem.rule) for problem in problems] == [
        ("", "document_too_large_when_stored")
    ]
    assert "MAX_BODY_BYTES (3000)" in problems[0].message
    assert "numbers out in full" in problems[0].message
    assert find_document_problems(grows, max_depth=32, max_stored_bytes=4000) == []
    assert find_document_problems(grows, max_depth=32) == []


@pytest.mark.parametrize("field", ["config", "schema"])
def test_a_configuration_too_large_when_stored_is_a_422(client: httpx.Client, field: str) -> None:
    application = create_application(client)
    huge = {"n": [1e308] * 140_000}  # 980 KB sent, 43 MB written back
    body = {"application_id": application["id"], "name": "n", "config": {}, field: huge}
    if field == "schema":
        body["schema"] = {"type": "object", "default": huge}

    compact = json.dumps(body, separators=(",", ":"))
    response = client.post("/api/v1/configurations", content=compact, headers=JSON_HEADERS)

    problem = assert_problem(response, 422, "document_too_large_when_stored")
    assert problem["errors"][0]["pointer"] == f"/{field}"
    assert "PostgreSQL writes numbers out in full" in problem["errors"][0]["message"]


def test_a_few_large_numbers_are_stored(client: httpx.Client) -> None:
    application = create_application(client)
    body = {"application_id": application["id"], "name": "n", "config": {"n": [1e308] * 100}}

    response = client.post("/api/v1/configurations", json=body)

    assert response.status_code == 201, response.text
    assert response.json()["config"] == {"n": [10**308] * 100}
