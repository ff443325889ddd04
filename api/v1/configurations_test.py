"""Configurations over real HTTP, checking responses and the database state after them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from api.v1.applications_test import (
    JSON_HEADERS,
    ULID,
    assert_problem,
    create_application,
    unique_name,
)
from database.pool import Database

UNKNOWN_ID = "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"


def create_configuration(client: httpx.Client, application_id: str, **body: Any) -> dict[str, Any]:
    body.setdefault("name", unique_name("config"))
    body.setdefault("config", {"key": "value"})
    response = client.post(
        "/api/v1/configurations", json={"application_id": application_id, **body}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def stored_configuration(database: Database, configuration_id: str) -> tuple[Any, ...] | None:
    with database.connection() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT application_id, name, comments, config FROM configurations WHERE id = %(id)s",
            {"id": configuration_id},
        )
        row: tuple[Any, ...] | None = cursor.fetchone()
        return row


@pytest.fixture
def application(client: httpx.Client) -> dict[str, Any]:
    return create_application(client)


def post_raw(client: httpx.Client, body: str) -> httpx.Response:
    return client.post("/api/v1/configurations", content=body, headers=JSON_HEADERS)


def test_create_returns_201_location_and_stores_the_document(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    document = {"database": {"pool": 20, "timeout": 2.5}, "flags": [True, None, "x"]}
    response = client.post(
        "/api/v1/configurations",
        json={
            "application_id": application["id"].lower(),
            "name": "production",
            "comments": "EU",
            "config": document,
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert ULID.fullmatch(body["id"])
    assert response.headers["location"] == f"/api/v1/configurations/{body['id']}"
    assert body["application_id"] == application["id"]
    assert (body["name"], body["comments"], body["config"]) == ("production", "EU", document)
    assert body["created_at"] == body["updated_at"]
    assert stored_configuration(database, body["id"]) == (
        application["id"],
        "production",
        "EU",
        document,
    )


def test_get_returns_the_configuration(client: httpx.Client, application: dict[str, Any]) -> None:
    created = create_configuration(client, application["id"])
    response = client.get(f"/api/v1/configurations/{created['id'].lower()}")
    assert response.status_code == 200
    assert response.json() == created


def test_unknown_application_id_is_422_naming_the_field(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/configurations",
        json={"application_id": UNKNOWN_ID, "name": "x", "config": {}},
    )
    problem = assert_problem(response, 422, "application_exists")
    assert problem["errors"][0]["field"] == "application_id"
    assert problem["errors"][0]["message"] == f"application {UNKNOWN_ID} does not exist"


def test_a_name_is_unique_within_its_application_only(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    create_configuration(client, application["id"], name="shared")
    other = create_application(client)

    duplicate = client.post(
        "/api/v1/configurations",
        json={"application_id": application["id"], "name": "shared", "config": {}},
    )
    elsewhere = client.post(
        "/api/v1/configurations",
        json={"application_id": other["id"], "name": "shared", "config": {}},
    )

    problem = assert_problem(duplicate, 409)
    assert problem["detail"] == (
        f"application {application['id']} already has a configuration named 'shared'"
    )
    assert elsewhere.status_code == 201


@pytest.mark.parametrize(
    ("config", "rule"),
    [
        ([1, 2], "dict_type"),
        ("text", "dict_type"),
        (None, "dict_type"),
        (42, "dict_type"),
    ],
)
def test_config_must_be_a_json_object(
    client: httpx.Client, application: dict[str, Any], config: Any, rule: str
) -> None:
    response = client.post(
        "/api/v1/configurations",
        json={"application_id": application["id"], "name": "x", "config": config},
    )
    problem = assert_problem(response, 422, rule)
    assert problem["errors"][0]["field"] == "config"


@pytest.mark.parametrize(
    ("config_json", "pointer", "rule"),
    [
        ('{"a": "nul\\u0000here"}', "/config/a", "text_nul"),
        ('{"a": {"k\\u0000ey": 1}}', "/config/a/k\u0000ey", "text_nul"),
        ('{"list": [1, "\\ud83d"]}', "/config/list/1", "unicode_surrogate"),
        ('{"big": 1e400}', "/config/big", "number_out_of_range"),
        ('{"a/b": {"c~d": -1e999}}', "/config/a~1b/c~0d", "number_out_of_range"),
    ],
)
def test_documents_postgres_cannot_store_are_422_with_a_pointer(
    client: httpx.Client,
    database: Database,
    application: dict[str, Any],
    config_json: str,
    pointer: str,
    rule: str,
) -> None:
    name = unique_name()
    body = f'{{"application_id": "{application["id"]}", "name": "{name}", "config": {config_json}}}'

    problem = assert_problem(post_raw(client, body), 422, rule)

    assert problem["errors"][0]["pointer"] == pointer
    listed = client.get(f"/api/v1/applications/{application['id']}").json()
    assert listed["configuration_ids"] == []


def test_a_surrogate_in_a_key_is_422(client: httpx.Client, application: dict[str, Any]) -> None:
    body = f'{{"application_id": "{application["id"]}", "name": "x", "config": {{"\\udc00": 1}}}}'
    problem = assert_problem(post_raw(client, body), 422, "unicode_surrogate")
    assert problem["errors"][0]["location"] == "body"


def test_nesting_deeper_than_the_limit_is_422(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    deep: dict[str, Any] = {}
    for _ in range(40):
        deep = {"d": deep}
    response = client.post(
        "/api/v1/configurations",
        json={"application_id": application["id"], "name": "deep", "config": deep},
    )
    problem = assert_problem(response, 422, "nesting_too_deep")
    assert problem["errors"][0]["pointer"] == "/config" + "/d" * 32


def test_nesting_at_the_limit_is_stored(client: httpx.Client, application: dict[str, Any]) -> None:
    deep: dict[str, Any] = {"leaf": True}
    for _ in range(31):
        deep = {"d": deep}
    created = create_configuration(client, application["id"], config=deep)
    assert client.get(f"/api/v1/configurations/{created['id']}").json()["config"] == deep


def test_absurdly_deep_json_is_a_4xx_not_a_crash(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    depth = 100_000
    body = (
        f'{{"application_id": "{application["id"]}", "name": "x", "config": '
        + '{"a": ' * depth
        + "1"
        + "}" * depth
        + "}"
    )
    response = post_raw(client, body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["rule"] for error in response.json()["errors"]] == ["nesting_too_deep"]


def test_documents_round_trip_unchanged(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    document = {
        "": "empty key",
        "unicode": "zaż\u00f3\u0142\u0107 \U0001f680 \u202e \u0301",
        "big": 123456789012345678901234567890,
        "negative": -9007199254740993,
        "small": 5e-324,
        "float": 0.1,
        "nested": {"list": [[], {}, [{"x": None}]]},
        "bools": [True, False],
    }
    created = create_configuration(client, application["id"], config=document)

    fetched = client.get(f"/api/v1/configurations/{created['id']}").json()

    assert fetched["config"] == document
    assert json.dumps(fetched["config"], sort_keys=True) == json.dumps(document, sort_keys=True)
    stored = stored_configuration(database, created["id"])
    assert stored is not None
    assert stored[3] == document


def test_update_changes_only_given_fields(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    created = create_configuration(client, application["id"], comments="keep", config={"a": 1})

    response = client.put(f"/api/v1/configurations/{created['id']}", json={"config": {"b": 2}})

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["comments"], body["config"]) == (
        created["name"],
        "keep",
        {"b": 2},
    )
    assert body["created_at"] == created["created_at"]
    assert body["updated_at"] > created["updated_at"]
    assert stored_configuration(database, created["id"]) == (
        application["id"],
        created["name"],
        "keep",
        {"b": 2},
    )


def test_update_from_1_to_true_is_a_change(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    created = create_configuration(client, application["id"], config={"flag": 1})
    response = client.put(
        f"/api/v1/configurations/{created['id']}", json={"config": {"flag": True}}
    )
    assert response.json()["config"] == {"flag": True}
    assert response.json()["updated_at"] > created["updated_at"]


def test_update_with_null_comments_clears_them(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    created = create_configuration(client, application["id"], comments="x")
    response = client.put(f"/api/v1/configurations/{created['id']}", json={"comments": None})
    assert response.status_code == 200
    assert response.json()["comments"] is None
    assert response.json()["config"] == created["config"]


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"name": None}, "name", "string_type"),
        ({"config": None}, "config", "dict_type"),
        ({"config": []}, "config", "dict_type"),
        ({"application_id": UNKNOWN_ID}, "application_id", "extra_forbidden"),
        ({"name": "x" * 257}, "name", "string_too_long"),
    ],
)
def test_update_rejects_invalid_bodies(
    client: httpx.Client,
    application: dict[str, Any],
    body: dict[str, Any],
    field: str,
    rule: str,
) -> None:
    created = create_configuration(client, application["id"])
    response = client.put(f"/api/v1/configurations/{created['id']}", json=body)
    problem = assert_problem(response, 422, rule)
    assert problem["errors"][0]["field"] == field


def test_update_validates_the_document(client: httpx.Client, application: dict[str, Any]) -> None:
    created = create_configuration(client, application["id"])
    response = client.put(
        f"/api/v1/configurations/{created['id']}",
        content='{"config": {"x": "\\u0000"}}',
        headers=JSON_HEADERS,
    )
    assert_problem(response, 422, "text_nul")


def test_rename_to_a_taken_name_is_409(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    first = create_configuration(client, application["id"])
    second = create_configuration(client, application["id"])

    response = client.put(f"/api/v1/configurations/{second['id']}", json={"name": first["name"]})

    assert_problem(response, 409)
    stored = stored_configuration(database, second["id"])
    assert stored is not None
    assert stored[1] == second["name"]


def test_unknown_configuration_is_404_for_every_method(client: httpx.Client) -> None:
    url = f"/api/v1/configurations/{UNKNOWN_ID}"
    for response in (client.get(url), client.put(url, json={}), client.delete(url)):
        problem = assert_problem(response, 404)
        assert problem["detail"] == f"configuration {UNKNOWN_ID} does not exist"


def test_malformed_configuration_id_is_422(client: httpx.Client) -> None:
    problem = assert_problem(client.get("/api/v1/configurations/IIIIIIIIIIIIIIIIIIIIIIIIII"), 422)
    assert problem["errors"][0]["rule"] == "ulid_format"
    assert problem["errors"][0]["field"] == "configuration_id"


def test_delete_removes_the_configuration(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    created = create_configuration(client, application["id"])

    response = client.delete(f"/api/v1/configurations/{created['id']}")

    assert response.status_code == 204
    assert stored_configuration(database, created["id"]) is None
    assert client.get(f"/api/v1/applications/{application['id']}").json()["configuration_ids"] == []


def test_listing_an_applications_configurations_pages_in_order(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    created = [create_configuration(client, application["id"]) for _ in range(5)]

    first = client.get(f"/api/v1/applications/{application['id']}/configurations?limit=3")
    second = client.get(first.links["next"]["url"])

    assert first.status_code == second.status_code == 200
    assert first.json() == created[:3]
    assert second.json() == created[3:]
    assert "link" not in second.headers


def test_listing_configurations_of_an_unknown_application_is_404(client: httpx.Client) -> None:
    assert_problem(client.get(f"/api/v1/applications/{UNKNOWN_ID}/configurations"), 404)


def test_listing_an_application_without_configurations_is_empty(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    response = client.get(f"/api/v1/applications/{application['id']}/configurations")
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(
    ("query", "rule"), [("limit=101", "less_than_equal"), ("after=x", "ulid_format")]
)
def test_listing_configurations_rejects_bad_queries(
    client: httpx.Client, application: dict[str, Any], query: str, rule: str
) -> None:
    response = client.get(f"/api/v1/applications/{application['id']}/configurations?{query}")
    assert_problem(response, 422, rule)
