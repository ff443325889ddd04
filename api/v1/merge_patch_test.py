"""PATCH with a JSON merge patch (RFC 7396) over real HTTP, and the database after it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from api.v1.applications_test import JSON_HEADERS, assert_problem, create_application
from api.v1.configurations_test import create_configuration, stored_configuration
from api.v1.request_bodies import parse_merge_patch
from api.v1.revisions_test import (
    MERGE_PATCH_HEADERS,
    merge_patch,
    stored_revision_number,
    stored_revisions,
    url,
)
from database.pool import Database
from services.errors import FieldProblem, InvalidRequest

SCHEMA = {"type": "object", "properties": {"d": {"type": "integer"}}}


@pytest.fixture
def application(client: httpx.Client) -> dict[str, Any]:
    return create_application(client)


@pytest.fixture
def configuration(client: httpx.Client, application: dict[str, Any]) -> dict[str, Any]:
    return create_configuration(
        client,
        application["id"],
        comments="notes",
        config={"a": {"b": 1, "c": 2}, "d": 3, "list": [1, 2]},
        schema=SCHEMA,
    )


def assert_unchanged(database: Database, configuration: dict[str, Any]) -> None:
    assert stored_configuration(database, configuration["id"]) == (
        configuration["application_id"],
        configuration["name"],
        configuration["comments"],
        configuration["config"],
    )
    assert stored_revision_number(database, configuration["id"]) == 1
    assert len(stored_revisions(database, configuration["id"])) == 1


def test_patch_merges_config_members(
    client: httpx.Client, database: Database, configuration: dict[str, Any]
) -> None:
    response = merge_patch(
        client,
        configuration["id"],
        {"config": {"a": {"b": 10, "new": {"x": None, "y": True}}, "list": [3]}},
    )

    assert response.status_code == 200
    assert response.headers["etag"] == '"2"'
    body = response.json()
    expected = {"a": {"b": 10, "c": 2, "new": {"y": True}}, "d": 3, "list": [3]}
    assert (body["name"], body["comments"], body["config"], body["schema"], body["revision"]) == (
        configuration["name"],
        "notes",
        expected,
        SCHEMA,
        2,
    )
    assert stored_configuration(database, configuration["id"]) == (
        configuration["application_id"],
        configuration["name"],
        "notes",
        expected,
    )


def test_null_removes_a_config_member(
    client: httpx.Client, database: Database, configuration: dict[str, Any]
) -> None:
    response = merge_patch(client, configuration["id"], {"config": {"a": {"c": None}, "d": None}})

    assert response.status_code == 200
    assert response.json()["config"] == {"a": {"b": 1}, "list": [1, 2]}
    assert stored_revisions(database, configuration["id"])[-1][3] == {"a": {"b": 1}, "list": [1, 2]}


def test_comments_null_clears_them(
    client: httpx.Client, database: Database, configuration: dict[str, Any]
) -> None:
    response = merge_patch(client, configuration["id"], {"comments": None})

    assert (response.status_code, response.json()["comments"]) == (200, None)
    stored = stored_configuration(database, configuration["id"])
    assert stored is not None
    assert stored[2] is None
    assert stored_revisions(database, configuration["id"])[-1][:3] == (
        2,
        configuration["name"],
        None,
    )


def test_schema_null_removes_it(
    client: httpx.Client, database: Database, configuration: dict[str, Any]
) -> None:
    response = merge_patch(client, configuration["id"], {"schema": None})

    assert (response.status_code, response.json()["schema"]) == (200, None)
    assert [row[4] for row in stored_revisions(database, configuration["id"])] == [SCHEMA, None]
    # Without the schema, a config it forbade is accepted.
    assert merge_patch(client, configuration["id"], {"config": {"d": "x"}}).status_code == 200


def test_a_schema_member_merges_into_the_schema(
    client: httpx.Client, configuration: dict[str, Any]
) -> None:
    response = merge_patch(client, configuration["id"], {"schema": {"required": ["d"]}})
    assert response.status_code == 200
    assert response.json()["schema"] == {**SCHEMA, "required": ["d"]}


def test_name_can_be_patched(client: httpx.Client, configuration: dict[str, Any]) -> None:
    response = merge_patch(client, configuration["id"], {"name": "renamed"})
    assert (response.status_code, response.json()["name"]) == (200, "renamed")


@pytest.mark.parametrize(
    ("patch", "pointer", "rule"),
    [
        ({"name": None}, "/name", "missing"),
        ({"config": None}, "/config", "missing"),
        ({"name": ""}, "/name", "string_too_short"),
        ({"name": 5}, "/name", "string_type"),
        ({"config": [1]}, "/config", "dict_type"),
        ({"config": "text"}, "/config", "dict_type"),
        ({"schema": [1]}, "/schema", "dict_type"),
        ({"comments": "x" * 1025}, "/comments", "string_too_long"),
        ({"unknown": 1}, "/unknown", "extra_forbidden"),
        ({"json_schema": {}}, "/json_schema", "extra_forbidden"),
        ({"id": "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"}, "/id", "extra_forbidden"),
        ({"message": 5}, "/message", "string_type"),
        ({"message": "x" * 1025}, "/message", "string_too_long"),
    ],
)
def test_a_patch_with_a_bad_result_is_422_and_changes_nothing(
    client: httpx.Client,
    database: Database,
    configuration: dict[str, Any],
    patch: dict[str, Any],
    pointer: str,
    rule: str,
) -> None:
    problem = assert_problem(merge_patch(client, configuration["id"], patch), 422, rule)

    assert problem["errors"][0]["pointer"] == pointer
    assert problem["errors"][0]["location"] == "body"
    assert_unchanged(database, configuration)


@pytest.mark.parametrize("patch", [[], [{"config": {}}], "text", 1, True])
def test_a_patch_that_is_not_an_object_is_422(
    client: httpx.Client, database: Database, configuration: dict[str, Any], patch: Any
) -> None:
    # The route's body type refuses it before the parser sees it (see the next test).
    problem = assert_problem(merge_patch(client, configuration["id"], patch), 422, "dict_type")
    assert (problem["errors"][0]["location"], problem["errors"][0]["pointer"]) == ("body", "")
    assert_unchanged(database, configuration)


@pytest.mark.parametrize("patch", [[], "text", 1, None])
def test_the_parser_refuses_a_patch_that_is_not_an_object(
    database: Database, configuration: dict[str, Any], patch: Any
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_merge_patch(patch, max_json_depth=32)

    assert raised.value.problems == [
        FieldProblem(
            field="",
            rule="merge_patch_object",
            message="a merge patch of a configuration must be a JSON object",
            pointer="",
        )
    ]
    assert_unchanged(database, configuration)


@pytest.mark.parametrize(
    ("content_type", "shown"),
    [
        ("application/json", "'application/json'"),
        ("application/json-patch+json", "'application/json-patch+json'"),
        ("text/plain", "'text/plain'"),
        (None, "'no Content-Type header'"),
    ],
)
def test_other_content_types_are_415(
    client: httpx.Client,
    database: Database,
    configuration: dict[str, Any],
    content_type: str | None,
    shown: str,
) -> None:
    request = client.build_request(
        "PATCH", url(configuration["id"]), content=json.dumps({"config": {"d": 4}})
    )
    request.headers.pop("content-type", None)
    if content_type is not None:
        request.headers["content-type"] = content_type

    problem = assert_problem(client.send(request), 415)

    assert problem["detail"] == (
        f"send the patch as application/merge-patch+json (RFC 7396); got {shown}"
    )
    assert_unchanged(database, configuration)


def test_the_media_type_may_carry_parameters_and_any_case(
    client: httpx.Client, configuration: dict[str, Any]
) -> None:
    response = client.patch(
        url(configuration["id"]),
        content=json.dumps({"config": {"d": 4}}),
        headers={"content-type": "Application/Merge-Patch+JSON; charset=utf-8"},
    )
    assert (response.status_code, response.json()["config"]["d"]) == (200, 4)


def test_malformed_json_is_400(
    client: httpx.Client, database: Database, configuration: dict[str, Any]
) -> None:
    response = client.patch(
        url(configuration["id"]), content='{"config": ', headers=MERGE_PATCH_HEADERS
    )
    assert_problem(response, 400)
    assert_unchanged(database, configuration)


def test_the_depth_limit_applies_to_the_patch(
    client: httpx.Client, database: Database, configuration: dict[str, Any]
) -> None:
    deep: dict[str, Any] = {}
    for _ in range(40):
        deep = {"d": deep}

    problem = assert_problem(
        merge_patch(client, configuration["id"], {"config": deep}), 422, "nesting_too_deep"
    )

    assert problem["errors"][0]["pointer"] == "/config" + "/d" * 32
    assert_unchanged(database, configuration)


def test_a_config_at_the_depth_limit_can_be_patched_in(
    client: httpx.Client, configuration: dict[str, Any]
) -> None:
    # The same document PUT accepts (nested exactly MAX_JSON_DEPTH levels) is a valid patch.
    deep: dict[str, Any] = {"leaf": True}
    for _ in range(31):
        deep = {"d": deep}

    response = merge_patch(client, configuration["id"], {"config": {"nest": deep["d"]}})

    assert response.status_code == 200, response.text
    assert response.json()["config"]["nest"] == deep["d"]


def test_a_top_level_message_is_recorded_not_patched(
    client: httpx.Client, database: Database, configuration: dict[str, Any]
) -> None:
    response = merge_patch(client, configuration["id"], {"config": {"d": 4}, "message": "raise d"})

    assert response.status_code == 200
    assert "message" not in response.json()
    assert "message" not in response.json()["config"]
    assert stored_revisions(database, configuration["id"])[-1][5] == "raise d"
    assert client.get(url(configuration["id"], "/revisions/2")).json()["message"] == "raise d"


def test_a_config_member_named_message_is_patched(
    client: httpx.Client, configuration: dict[str, Any]
) -> None:
    response = merge_patch(client, configuration["id"], {"config": {"message": "hello"}})
    assert response.json()["config"]["message"] == "hello"


def test_a_patch_breaking_the_schema_is_422_and_changes_nothing(
    client: httpx.Client, database: Database, configuration: dict[str, Any]
) -> None:
    problem = assert_problem(
        merge_patch(client, configuration["id"], {"config": {"d": "three"}}), 422, "json_schema"
    )
    assert problem["errors"][0]["pointer"] == "/config/d"
    assert_unchanged(database, configuration)


def test_a_patch_renaming_to_a_taken_name_is_409(
    client: httpx.Client, database: Database, configuration: dict[str, Any]
) -> None:
    other = create_configuration(client, configuration["application_id"])
    problem = assert_problem(merge_patch(client, configuration["id"], {"name": other["name"]}), 409)
    assert problem["detail"] == (
        f"application {configuration['application_id']} already has a configuration named "
        f"{other['name']!r}"
    )
    assert_unchanged(database, configuration)


def test_if_match_is_honoured(
    client: httpx.Client, database: Database, configuration: dict[str, Any]
) -> None:
    stale = merge_patch(client, configuration["id"], {"config": {"d": 4}}, {"if-match": '"2"'})
    current = merge_patch(client, configuration["id"], {"config": {"d": 4}}, {"if-match": '"1"'})
    again = merge_patch(client, configuration["id"], {"config": {"d": 5}}, {"if-match": '"1"'})

    assert stale.status_code == 412
    assert stale.json()["current_etag"] == '"1"'
    assert (current.status_code, current.headers["etag"]) == (200, '"2"')
    assert again.status_code == 412
    assert again.json()["current_revision"] == 2
    assert [row[3]["d"] for row in stored_revisions(database, configuration["id"])] == [3, 4]


def test_patch_of_an_unknown_configuration_is_404(client: httpx.Client) -> None:
    unknown = "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"
    problem = assert_problem(merge_patch(client, unknown, {"config": {}}), 404)
    assert problem["detail"] == f"configuration {unknown} does not exist"


def test_json_content_type_still_works_for_put(
    client: httpx.Client, configuration: dict[str, Any]
) -> None:
    response = client.put(
        url(configuration["id"]), content=json.dumps({"comments": "x"}), headers=JSON_HEADERS
    )
    assert (response.status_code, response.json()["comments"]) == (200, "x")
