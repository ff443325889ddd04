"""Applications over real HTTP, checking responses and the database state after them."""

from __future__ import annotations

import json
import re
import secrets
import threading
from datetime import datetime
from typing import Any

import httpx
import pytest

from database.pool import Database

PROBLEM = "application/problem+json"
JSON_HEADERS = {"content-type": "application/json"}
ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")


def unique_name(prefix: str = "app") -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def create_application(client: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("name", unique_name())
    response = client.post("/api/v1/applications", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def stored_application(database: Database, application_id: str) -> tuple[Any, ...] | None:
    with database.connection() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, comments, created_at, updated_at FROM applications WHERE id = %(id)s",
            {"id": application_id},
        )
        row: tuple[Any, ...] | None = cursor.fetchone()
        return row


def assert_problem(
    response: httpx.Response, status: int, rule: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["instance"] == response.request.url.path
    assert set(problem) >= {"type", "title", "status", "detail", "instance"}
    if rule is not None:
        assert [error["rule"] for error in problem["errors"]] == [rule]
    return problem


def test_create_returns_201_location_and_stores_the_application(
    client: httpx.Client, database: Database
) -> None:
    name = unique_name()
    response = client.post(
        "/api/v1/applications", json={"name": name, "comments": "Owned by payments"}
    )

    assert response.status_code == 201
    body = response.json()
    assert ULID.fullmatch(body["id"])
    assert response.headers["location"] == f"/api/v1/applications/{body['id']}"
    assert body["name"] == name
    assert body["comments"] == "Owned by payments"
    assert body["configuration_ids"] == []
    created_at = datetime.fromisoformat(body["created_at"])
    assert created_at.utcoffset() is not None
    assert body["created_at"] == body["updated_at"]
    stored = stored_application(database, body["id"])
    assert stored is not None
    assert stored[:2] == (name, "Owned by payments")


def test_create_without_comments_stores_null(client: httpx.Client, database: Database) -> None:
    body = create_application(client)
    assert body["comments"] is None
    stored = stored_application(database, body["id"])
    assert stored is not None
    assert stored[1] is None


def test_create_with_a_taken_name_is_409(client: httpx.Client) -> None:
    name = unique_name()
    create_application(client, name=name)

    problem = assert_problem(client.post("/api/v1/applications", json={"name": name}), 409)

    assert problem["type"] == "urn:config-service:problem:conflict"
    assert problem["detail"] == f"an application named {name!r} already exists"


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"name": ""}, "name", "string_too_short"),
        ({"name": "x" * 257}, "name", "string_too_long"),
        ({"name": " leading"}, "name", "name_format"),
        ({"name": "trailing\u3000"}, "name", "name_format"),
        ({"name": "tab\tinside"}, "name", "name_format"),
        ({"name": "nul\u0000inside"}, "name", "name_format"),
        ({"name": 123}, "name", "string_type"),
        ({"name": None}, "name", "string_type"),
        ({}, "name", "missing"),
        ({"name": "ok", "comments": "x" * 1025}, "comments", "string_too_long"),
        ({"name": "ok", "comments": "a\u0000b"}, "comments", "text_nul"),
        ({"name": "ok", "comments": "\ud800"}, "comments", "string_unicode"),
        ({"name": "ok", "comment": "typo"}, "comment", "extra_forbidden"),
        ({"name": "ok", "id": "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"}, "id", "extra_forbidden"),
    ],
)
def test_create_rejects_invalid_bodies_naming_field_and_rule(
    client: httpx.Client, body: dict[str, Any], field: str, rule: str
) -> None:
    # json.dumps escapes non-ASCII, so a lone surrogate travels as "\\ud800", as fuzzers send it.
    response = client.post("/api/v1/applications", content=json.dumps(body), headers=JSON_HEADERS)

    problem = assert_problem(response, 422, rule)
    assert problem["type"] == "urn:config-service:problem:validation-error"
    assert problem["errors"][0]["field"] == field
    assert problem["errors"][0]["location"] == "body"
    assert problem["errors"][0]["pointer"] == f"/{field}"
    assert field in problem["detail"]


def test_unknown_field_message_names_the_field(client: httpx.Client) -> None:
    response = client.post("/api/v1/applications", json={"name": "x", "comment": "typo"})
    problem = assert_problem(response, 422, "extra_forbidden")
    assert problem["errors"][0]["message"] == (
        "unknown field 'comment': it is not part of this request's schema"
    )


def test_a_body_that_is_not_an_object_is_422(client: httpx.Client) -> None:
    response = client.post("/api/v1/applications", json=["name"])
    problem = assert_problem(response, 422, "model_attributes_type")
    assert problem["errors"][0]["location"] == "body"


def test_malformed_json_is_400(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/applications",
        content=b'{"name": "x",',
        headers={"content-type": "application/json"},
    )
    problem = assert_problem(response, 400, "json_invalid")
    assert problem["type"] == "urn:config-service:problem:malformed-json"
    assert problem["detail"].startswith("the body is not valid JSON: ")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_not_sent_as_json_is_415(client: httpx.Client, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/api/v1/applications", content=b'{"name": "x"}', headers=headers)
    problem = assert_problem(response, 415)
    assert problem["detail"].startswith("send the body as application/json")


def test_a_body_over_the_limit_is_413(client: httpx.Client) -> None:
    oversized = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.post(
        "/api/v1/applications", content=oversized, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


def test_a_chunked_body_over_the_limit_is_413(client: httpx.Client) -> None:
    def chunks() -> Any:
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 32768
        yield b'"}'

    response = client.post(
        "/api/v1/applications", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


def test_get_returns_configuration_ids_oldest_first(client: httpx.Client) -> None:
    application = create_application(client)
    configuration_ids = []
    for index in range(3):
        response = client.post(
            "/api/v1/configurations",
            json={"application_id": application["id"], "name": f"c{index}", "config": {}},
        )
        configuration_ids.append(response.json()["id"])

    response = client.get(f"/api/v1/applications/{application['id']}")

    assert response.status_code == 200
    assert response.json()["configuration_ids"] == configuration_ids
    assert response.json()["name"] == application["name"]


def test_a_lowercase_id_means_the_same_application(client: httpx.Client) -> None:
    application = create_application(client)
    response = client.get(f"/api/v1/applications/{application['id'].lower()}")
    assert response.status_code == 200
    assert response.json()["id"] == application["id"]


@pytest.mark.parametrize(
    "bad_id",
    [
        "01JQ3V6KX8Q7M4Z2W9R5T1N0B",  # 25 characters
        "01JQ3V6KX8Q7M4Z2W9R5T1N0BCD",  # 27 characters
        "01JQ3V6KX8Q7M4Z2W9R5T1N0BU",  # U is not Crockford base32
        "81JQ3V6KX8Q7M4Z2W9R5T1N0BC",  # overflows 128 bits
        "not-a-ulid",
    ],
)
def test_a_malformed_id_is_422(client: httpx.Client, bad_id: str) -> None:
    problem = assert_problem(client.get(f"/api/v1/applications/{bad_id}"), 422, "ulid_format")
    assert problem["errors"][0]["location"] == "path"
    assert problem["errors"][0]["field"] == "application_id"
    assert "pointer" not in problem["errors"][0]


def test_an_unknown_id_is_404(client: httpx.Client) -> None:
    problem = assert_problem(client.get("/api/v1/applications/01JQ3V6KX8Q7M4Z2W9R5T1N0BC"), 404)
    assert problem["detail"] == "application 01JQ3V6KX8Q7M4Z2W9R5T1N0BC does not exist"


def test_update_changes_only_given_fields(client: httpx.Client, database: Database) -> None:
    application = create_application(client, comments="before")
    new_name = unique_name("renamed")

    response = client.put(f"/api/v1/applications/{application['id']}", json={"name": new_name})

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["comments"]) == (new_name, "before")
    assert body["created_at"] == application["created_at"]
    assert body["updated_at"] > application["updated_at"]
    stored = stored_application(database, application["id"])
    assert stored is not None
    assert stored[:2] == (new_name, "before")


def test_update_with_null_comments_clears_them(client: httpx.Client, database: Database) -> None:
    application = create_application(client, comments="to be cleared")

    response = client.put(f"/api/v1/applications/{application['id']}", json={"comments": None})

    assert response.status_code == 200
    assert response.json()["comments"] is None
    assert response.json()["name"] == application["name"]
    stored = stored_application(database, application["id"])
    assert stored is not None
    assert stored[1] is None


def test_an_update_that_changes_nothing_keeps_updated_at(client: httpx.Client) -> None:
    application = create_application(client)
    response = client.put(
        f"/api/v1/applications/{application['id']}", json={"name": application["name"]}
    )
    assert response.status_code == 200
    assert response.json()["updated_at"] == application["updated_at"]


def test_update_with_null_name_is_422(client: httpx.Client) -> None:
    application = create_application(client)
    response = client.put(f"/api/v1/applications/{application['id']}", json={"name": None})
    assert_problem(response, 422, "string_type")


def test_rename_to_a_taken_name_is_409(client: httpx.Client, database: Database) -> None:
    first = create_application(client)
    second = create_application(client)

    response = client.put(f"/api/v1/applications/{second['id']}", json={"name": first["name"]})

    problem = assert_problem(response, 409)
    assert first["name"] in problem["detail"]
    stored = stored_application(database, second["id"])
    assert stored is not None
    assert stored[0] == second["name"]


def test_update_of_an_unknown_application_is_404(client: httpx.Client) -> None:
    response = client.put("/api/v1/applications/01JQ3V6KX8Q7M4Z2W9R5T1N0BC", json={"comments": "x"})
    assert_problem(response, 404)


def test_delete_removes_the_application_and_its_configurations(
    client: httpx.Client, database: Database
) -> None:
    application = create_application(client)
    configuration = client.post(
        "/api/v1/configurations",
        json={"application_id": application["id"], "name": "prod", "config": {"a": 1}},
    ).json()

    response = client.delete(f"/api/v1/applications/{application['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert stored_application(database, application["id"]) is None
    assert client.get(f"/api/v1/configurations/{configuration['id']}").status_code == 404
    assert_problem(client.delete(f"/api/v1/applications/{application['id']}"), 404)


def test_list_pages_follow_the_link_header_in_creation_order(client: httpx.Client) -> None:
    anchor = create_application(client)
    created = [create_application(client)["id"] for _ in range(5)]

    seen: list[str] = []
    url: str | None = f"/api/v1/applications?limit=2&after={anchor['id']}"
    pages = 0
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200
        seen.extend(item["id"] for item in response.json())
        pages += 1
        next_link = response.links.get("next")
        url = next_link["url"] if next_link else None
        if url is not None:
            assert url.startswith("http://127.0.0.1:")

    assert seen[:5] == created
    assert pages == 3


def test_list_without_more_items_has_no_link(client: httpx.Client) -> None:
    application = create_application(client)
    response = client.get(f"/api/v1/applications?name={application['name']}")
    assert response.status_code == 200
    assert [item["id"] for item in response.json()] == [application["id"]]
    assert "link" not in response.headers
    assert set(response.json()[0]) == {
        "id",
        "name",
        "comments",
        "revision",
        "created_at",
        "updated_at",
    }


def test_list_filter_by_unknown_name_is_empty(client: httpx.Client) -> None:
    response = client.get("/api/v1/applications", params={"name": unique_name("absent")})
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(
    ("query", "field", "rule"),
    [
        ("limit=0", "limit", "greater_than_equal"),
        ("limit=1001", "limit", "less_than_equal"),
        ("limit=ten", "limit", "int_parsing"),
        ("after=nope", "after", "ulid_format"),
        ("name=%20padded", "name", "name_format"),
    ],
)
def test_list_rejects_bad_queries(client: httpx.Client, query: str, field: str, rule: str) -> None:
    problem = assert_problem(client.get(f"/api/v1/applications?{query}"), 422, rule)
    assert problem["errors"][0]["location"] == "query"
    assert problem["errors"][0]["field"] == field


def test_concurrent_creates_of_one_name_give_one_201_and_409s(client: httpx.Client) -> None:
    name = unique_name("race")
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        with httpx.Client(base_url=str(client.base_url)) as own:
            barrier.wait()
            statuses.append(own.post("/api/v1/applications", json={"name": name}).status_code)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201] + [409] * 7
    listed = client.get("/api/v1/applications", params={"name": name}).json()
    assert len(listed) == 1


def test_concurrent_renames_to_one_name_give_one_200_and_one_409(client: httpx.Client) -> None:
    target = unique_name("target")
    applications = [create_application(client) for _ in range(4)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(applications))

    def rename(application_id: str) -> None:
        with httpx.Client(base_url=str(client.base_url)) as own:
            barrier.wait()
            response = own.put(f"/api/v1/applications/{application_id}", json={"name": target})
            statuses.append(response.status_code)

    threads = [
        threading.Thread(target=rename, args=(application["id"],)) for application in applications
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 409, 409, 409]
    assert len(client.get("/api/v1/applications", params={"name": target}).json()) == 1
