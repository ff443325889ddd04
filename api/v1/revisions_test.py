"""A configuration's history over real HTTP: revisions, diffs and restores, and the rows kept."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonpatch
import pytest

from api.v1.applications_test import assert_problem, create_application
from api.v1.configurations_test import UNKNOWN_ID, create_configuration
from database.pool import Database

MERGE_PATCH_HEADERS = {"content-type": "application/merge-patch+json"}
REVISION_KEYS = {
    "configuration_id",
    "revision",
    "name",
    "comments",
    "config",
    "schema",
    "secrets",
    "message",
    "restored_from",
    "created_at",
}


def url(configuration_id: str, suffix: str = "") -> str:
    return f"/api/v1/configurations/{configuration_id}{suffix}"


def merge_patch(
    client: httpx.Client,
    configuration_id: str,
    patch: Any,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return client.patch(
        url(configuration_id),
        content=json.dumps(patch),
        headers={**MERGE_PATCH_HEADERS, **(headers or {})},
    )


def canonical(document: Any) -> str:
    """JSON text that tells 1 from true and 1 from 1.0, and ignores member order."""
    return json.dumps(document, sort_keys=True)


def stored_revisions(database: Database, configuration_id: str) -> list[tuple[Any, ...]]:
    """(revision, name, comments, config, schema, message, restored_from), oldest first."""
    with database.connection() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT revision, name, comments, config, schema, message, restored_from "
            "FROM configuration_revisions WHERE configuration_id = %(id)s ORDER BY revision",
            {"id": configuration_id},
        )
        return list(cursor.fetchall())


def stored_revision_number(database: Database, configuration_id: str) -> int | None:
    with database.connection() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT revision FROM configurations WHERE id = %(id)s", {"id": configuration_id}
        )
        row = cursor.fetchone()
        return None if row is None else int(row[0])


@pytest.fixture
def application(client: httpx.Client) -> dict[str, Any]:
    return create_application(client)


def build_history(client: httpx.Client, application_id: str) -> dict[str, Any]:
    """Revision 1 by create, 2 by PUT, 3 by PATCH, 4 and 5 by restores."""
    created = create_configuration(
        client, application_id, comments="c1", config={"a": 1}, message="first"
    )
    configuration_id = created["id"]
    put = client.put(url(configuration_id), json={"config": {"a": 2}, "message": "second"})
    patched = merge_patch(client, configuration_id, {"comments": "c3", "message": "third"})
    restored = client.post(url(configuration_id, "/revisions/1/restore"), json={"message": "back"})
    restored_again = client.post(url(configuration_id, "/revisions/2/restore"))
    responses = (put, patched, restored, restored_again)
    assert [response.status_code for response in responses] == [200] * 4
    assert [response.headers["etag"] for response in responses] == ['"2"', '"3"', '"4"', '"5"']
    assert [response.json()["revision"] for response in responses] == [2, 3, 4, 5]
    return created


def test_create_returns_revision_1_and_its_etag(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    response = client.post(
        "/api/v1/configurations",
        json={
            "application_id": application["id"],
            "name": "production",
            "config": {"a": 1},
            "message": "first",
        },
    )

    assert response.status_code == 201
    assert response.headers["etag"] == '"1"'
    body = response.json()
    assert (body["revision"], body["schema"]) == (1, None)
    assert stored_revisions(database, body["id"]) == [
        (1, "production", None, {"a": 1}, None, "first", None)
    ]


def test_history_after_create_put_patch_and_restores(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    created = build_history(client, application["id"])
    name = created["name"]

    response = client.get(url(created["id"], "/revisions"))

    assert response.status_code == 200
    assert "link" not in response.headers
    listed = response.json()
    assert [set(item) for item in listed] == [REVISION_KEYS] * 5
    assert [
        (
            item["configuration_id"],
            item["revision"],
            item["name"],
            item["comments"],
            item["config"],
            item["schema"],
            item["message"],
            item["restored_from"],
        )
        for item in listed
    ] == [
        (created["id"], 5, name, "c1", {"a": 2}, None, "restore of revision 2", 2),
        (created["id"], 4, name, "c1", {"a": 1}, None, "back", 1),
        (created["id"], 3, name, "c3", {"a": 2}, None, "third", None),
        (created["id"], 2, name, "c1", {"a": 2}, None, "second", None),
        (created["id"], 1, name, "c1", {"a": 1}, None, "first", None),
    ]
    assert [item["created_at"] for item in listed] == sorted(
        (item["created_at"] for item in listed), reverse=True
    )
    current = client.get(url(created["id"])).json()
    assert (current["revision"], current["comments"], current["config"]) == (5, "c1", {"a": 2})
    assert listed[0]["created_at"] == current["updated_at"]
    assert listed[-1]["created_at"] == created["created_at"]
    assert stored_revisions(database, created["id"]) == [
        (1, name, "c1", {"a": 1}, None, "first", None),
        (2, name, "c1", {"a": 2}, None, "second", None),
        (3, name, "c3", {"a": 2}, None, "third", None),
        (4, name, "c1", {"a": 1}, None, "back", 1),
        (5, name, "c1", {"a": 2}, None, "restore of revision 2", 2),
    ]


def test_revisions_page_newest_first_following_the_link(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    created = create_configuration(client, application["id"], config={"n": 1})
    for number in range(2, 6):
        assert client.put(url(created["id"]), json={"config": {"n": number}}).status_code == 200

    first = client.get(url(created["id"], "/revisions"), params={"limit": 2})
    second = client.get(first.links["next"]["url"])
    third = client.get(second.links["next"]["url"])

    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 200]
    assert first.links["next"]["url"] == str(client.base_url).rstrip("/") + url(
        created["id"], "/revisions?after=4&limit=2"
    )
    assert [item["revision"] for item in first.json()] == [5, 4]
    assert [item["revision"] for item in second.json()] == [3, 2]
    assert [item["revision"] for item in third.json()] == [1]
    assert [item["config"] for item in third.json()] == [{"n": 1}]
    assert "link" not in third.headers


def test_a_full_last_page_has_no_link(client: httpx.Client, application: dict[str, Any]) -> None:
    created = create_configuration(client, application["id"])
    client.put(url(created["id"]), json={"config": {"changed": True}})

    response = client.get(url(created["id"], "/revisions"), params={"limit": 2})

    assert [item["revision"] for item in response.json()] == [2, 1]
    assert "link" not in response.headers


def test_get_one_revision_with_its_etag_and_304(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    created = create_configuration(
        client, application["id"], comments="c", config={"a": 1}, message="m"
    )
    client.put(url(created["id"]), json={"config": {"a": 2}})

    response = client.get(url(created["id"].lower(), "/revisions/1"))
    not_modified = client.get(url(created["id"], "/revisions/1"), headers={"if-none-match": '"1"'})
    other_tag = client.get(url(created["id"], "/revisions/1"), headers={"if-none-match": '"2"'})

    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json() == {
        "configuration_id": created["id"],
        "revision": 1,
        "name": created["name"],
        "comments": "c",
        "config": {"a": 1},
        "schema": None,
        "secrets": [],
        "message": "m",
        "restored_from": None,
        "created_at": created["created_at"],
    }
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert not_modified.headers["etag"] == '"1"'
    assert other_tag.status_code == 200
    assert other_tag.json() == response.json()


def test_an_unknown_revision_is_404(client: httpx.Client, application: dict[str, Any]) -> None:
    created = create_configuration(client, application["id"])
    for response in (
        client.get(url(created["id"], "/revisions/2")),
        client.get(url(created["id"], "/diff"), params={"from": 1, "to": 2}),
        client.get(url(created["id"], "/diff"), params={"from": 2, "to": 1}),
        client.post(url(created["id"], "/revisions/2/restore")),
    ):
        problem = assert_problem(response, 404)
        assert problem["detail"] == f"configuration {created['id']} has no revision 2"


def test_an_unknown_configuration_is_404_on_every_history_route(client: httpx.Client) -> None:
    for response in (
        client.get(url(UNKNOWN_ID, "/revisions")),
        client.get(url(UNKNOWN_ID, "/revisions/1")),
        client.get(url(UNKNOWN_ID, "/diff"), params={"from": 1, "to": 1}),
        client.post(url(UNKNOWN_ID, "/revisions/1/restore")),
    ):
        problem = assert_problem(response, 404)
        assert problem["detail"] == f"configuration {UNKNOWN_ID} does not exist"


@pytest.mark.parametrize(
    ("method", "suffix", "field", "rule"),
    [
        ("GET", "/revisions/0", "revision", "greater_than_equal"),
        ("GET", f"/revisions/{2**31}", "revision", "less_than_equal"),
        ("POST", "/revisions/0/restore", "revision", "greater_than_equal"),
        ("POST", f"/revisions/{2**31}/restore", "revision", "less_than_equal"),
        ("GET", "/diff?from=0&to=1", "from", "greater_than_equal"),
        ("GET", f"/diff?from=1&to={2**31}", "to", "less_than_equal"),
        ("GET", "/diff?from=1", "to", "missing"),
        ("GET", "/revisions?after=0", "after", "greater_than_equal"),
        ("GET", f"/revisions?after={2**31}", "after", "less_than_equal"),
        ("GET", "/revisions?limit=101", "limit", "less_than_equal"),
    ],
)
def test_out_of_range_revision_numbers_are_422(
    client: httpx.Client,
    database: Database,
    application: dict[str, Any],
    method: str,
    suffix: str,
    field: str,
    rule: str,
) -> None:
    created = create_configuration(client, application["id"])

    problem = assert_problem(client.request(method, url(created["id"], suffix)), 422, rule)

    assert problem["errors"][0]["field"] == field
    assert stored_revision_number(database, created["id"]) == 1
    assert len(stored_revisions(database, created["id"])) == 1


def test_the_largest_revision_number_is_a_404_not_a_422(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    created = create_configuration(client, application["id"])
    problem = assert_problem(client.get(url(created["id"], f"/revisions/{2**31 - 1}")), 404)
    assert problem["detail"] == f"configuration {created['id']} has no revision {2**31 - 1}"


def write(client: httpx.Client, route: str, configuration_id: str, message: str) -> httpx.Response:
    if route == "PUT":
        return client.put(url(configuration_id), json={"config": {"b": 1}, "message": message})
    if route == "PATCH":
        return merge_patch(client, configuration_id, {"config": {"b": 1}, "message": message})
    return client.post(url(configuration_id, "/revisions/1/restore"), json={"message": message})


@pytest.mark.parametrize("route", ["PUT", "PATCH", "restore"])
@pytest.mark.parametrize(
    ("message", "rule"), [("x" * 1025, "string_too_long"), ("a\u0000b", "text_nul")]
)
def test_a_bad_message_is_422_and_writes_nothing(
    client: httpx.Client,
    database: Database,
    application: dict[str, Any],
    route: str,
    message: str,
    rule: str,
) -> None:
    created = create_configuration(client, application["id"], config={"a": 1})

    problem = assert_problem(write(client, route, created["id"], message), 422, rule)

    assert problem["errors"][0]["pointer"] == "/message"
    assert stored_revision_number(database, created["id"]) == 1
    assert [row[0] for row in stored_revisions(database, created["id"])] == [1]


@pytest.mark.parametrize(
    ("message", "rule"), [("x" * 1025, "string_too_long"), ("\u0000", "text_nul")]
)
def test_a_bad_message_on_create_is_422(
    client: httpx.Client, application: dict[str, Any], message: str, rule: str
) -> None:
    response = client.post(
        "/api/v1/configurations",
        json={"application_id": application["id"], "name": "x", "config": {}, "message": message},
    )
    problem = assert_problem(response, 422, rule)
    assert problem["errors"][0]["pointer"] == "/message"
    listed = client.get(f"/api/v1/applications/{application['id']}/configurations")
    assert listed.json() == []


@pytest.mark.parametrize("route", ["PUT", "PATCH", "restore"])
def test_a_message_of_1024_characters_is_kept(
    client: httpx.Client, database: Database, application: dict[str, Any], route: str
) -> None:
    created = create_configuration(client, application["id"], config={"a": 1})
    message = "é" * 1024

    response = write(client, route, created["id"], message)

    assert response.status_code == 200
    assert stored_revisions(database, created["id"])[-1][5] == message
    assert client.get(url(created["id"], "/revisions/2")).json()["message"] == message


def test_writes_that_change_nothing_make_no_revision(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    created = create_configuration(
        client, application["id"], comments="c", config={"a": [1, {"b": None}]}
    )
    same = {"name": created["name"], "comments": "c", "config": {"a": [1, {"b": None}]}}

    responses = [
        client.put(url(created["id"]), json={**same, "schema": None, "message": "no change"}),
        client.put(url(created["id"]), json={}),
        merge_patch(client, created["id"], {}),
        merge_patch(client, created["id"], {"message": "only a message", "schema": None}),
        merge_patch(client, created["id"], {"config": {"a": [1, {"b": None}]}}),
    ]

    assert [response.status_code for response in responses] == [200] * 5
    assert [response.headers["etag"] for response in responses] == ['"1"'] * 5
    assert [response.json() for response in responses] == [created] * 5
    assert [row[0] for row in stored_revisions(database, created["id"])] == [1]


DIFF_DOCUMENTS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"a": 1}, {"a": 2}),
    ({"a": 1}, {"a": True}),
    ({"a": 0}, {"a": False}),
    ({"a": 1}, {"a": 1.5}),
    ({"keep": 1, "gone": {"x": [1, 2]}}, {"keep": 1, "new": None}),
    ({"list": [1, 2, 3, 4]}, {"list": [4, 3, 2, 1, 0]}),
    ({"list": [{"id": 1}, {"id": 2}, {"id": 3}]}, {"list": [{"id": 3}, {"id": 1}]}),
    ({"a/b": {"c~d": 1}, "": 0}, {"a/b": {"c~d": 2, "e": []}, "": [0]}),
    ({"deep": {"x": {"y": {"z": "old"}}}}, {"deep": {"x": {"y": {"z": "new", "w": {}}}}}),
    ({"same": "document"}, {"same": "document"}),
    ({}, {"everything": ["is", {"new": 1}]}),
]


@pytest.mark.parametrize(("old", "new"), DIFF_DOCUMENTS)
def test_diff_applied_to_revision_n_gives_revision_m_both_ways(
    client: httpx.Client, application: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
) -> None:
    created = create_configuration(client, application["id"], config=old)
    client.put(url(created["id"]), json={"config": {"between": True}})
    client.put(url(created["id"]), json={"config": new})
    configs = {
        number: client.get(url(created["id"], f"/revisions/{number}")).json()["config"]
        for number in (1, 2, 3)
    }

    for source, target in ((1, 3), (3, 1), (1, 2), (2, 3), (2, 2)):
        response = client.get(url(created["id"], "/diff"), params={"from": source, "to": target})
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json-patch+json"
        patched = jsonpatch.apply_patch(configs[source], response.json())
        assert canonical(patched) == canonical(configs[target]), (source, target)
    assert canonical(configs[1]) == canonical(old)
    assert canonical(configs[3]) == canonical(new)


def test_diff_of_a_revision_with_itself_is_empty(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    created = create_configuration(client, application["id"], config={"a": [1, {"b": 2}]})
    response = client.get(url(created["id"], "/diff"), params={"from": 1, "to": 1})
    assert (response.status_code, response.json()) == (200, [])


def test_diff_is_the_exact_json_patch(client: httpx.Client, application: dict[str, Any]) -> None:
    created = create_configuration(client, application["id"], config={"a": 1, "b": 2})
    client.put(url(created["id"]), json={"config": {"a": 3, "c": 4}})

    response = client.get(url(created["id"], "/diff"), params={"from": 1, "to": 2})

    assert sorted(response.json(), key=lambda operation: operation["path"]) == [
        {"op": "replace", "path": "/a", "value": 3},
        {"op": "remove", "path": "/b"},
        {"op": "add", "path": "/c", "value": 4},
    ]


def test_restore_keeps_the_name_and_takes_the_rest_from_the_revision(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    first_schema = {"required": ["a"]}
    created = create_configuration(
        client,
        application["id"],
        name="original",
        comments="old comments",
        config={"a": 1},
        schema=first_schema,
    )
    changed = client.put(
        url(created["id"]),
        json={"name": "renamed", "comments": None, "config": {"b": 2}, "schema": None},
    )
    assert changed.status_code == 200

    response = client.post(url(created["id"], "/revisions/1/restore"))

    assert response.status_code == 200
    assert response.headers["etag"] == '"3"'
    body = response.json()
    assert (body["name"], body["comments"], body["config"], body["schema"], body["revision"]) == (
        "renamed",
        "old comments",
        {"a": 1},
        first_schema,
        3,
    )
    assert body["updated_at"] > changed.json()["updated_at"]
    assert client.get(url(created["id"])).json() == body
    assert stored_revisions(database, created["id"]) == [
        (1, "original", "old comments", {"a": 1}, first_schema, None, None),
        (2, "renamed", None, {"b": 2}, None, None, None),
        (3, "renamed", "old comments", {"a": 1}, first_schema, "restore of revision 1", 1),
    ]


def test_restoring_the_current_revision_still_adds_one(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    created = create_configuration(client, application["id"], config={"a": 1})

    first = client.post(url(created["id"], "/revisions/1/restore"), json={})
    second = client.post(url(created["id"], "/revisions/2/restore"), json={"message": None})

    assert [first.status_code, second.status_code] == [200, 200]
    assert [first.json()["revision"], second.json()["revision"]] == [2, 3]
    assert [row[1:] for row in stored_revisions(database, created["id"])] == [
        (created["name"], None, {"a": 1}, None, None, None),
        (created["name"], None, {"a": 1}, None, "restore of revision 1", 1),
        (created["name"], None, {"a": 1}, None, "restore of revision 2", 2),
    ]


def test_a_restore_body_with_an_unknown_member_is_422(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    created = create_configuration(client, application["id"])
    response = client.post(url(created["id"], "/revisions/1/restore"), json={"mesage": "typo"})
    problem = assert_problem(response, 422, "extra_forbidden")
    assert problem["errors"][0]["pointer"] == "/mesage"
    assert len(stored_revisions(database, created["id"])) == 1


def test_deleting_a_configuration_deletes_its_revisions(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    created = build_history(client, application["id"])
    kept = create_configuration(client, application["id"])
    assert len(stored_revisions(database, created["id"])) == 5

    response = client.delete(url(created["id"]))

    assert response.status_code == 204
    assert stored_revisions(database, created["id"]) == []
    assert stored_revision_number(database, created["id"]) is None
    assert len(stored_revisions(database, kept["id"])) == 1
    assert_problem(client.get(url(created["id"], "/revisions")), 404)


def test_deleting_an_application_deletes_its_configurations_revisions(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    created = build_history(client, application["id"])

    response = client.delete(f"/api/v1/applications/{application['id']}")

    assert response.status_code == 204
    assert stored_revisions(database, created["id"]) == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_restore_body_that_is_not_json_is_415(
    client: httpx.Client, application: dict[str, Any], content_type: str
) -> None:
    created = create_configuration(client, application["id"])
    response = client.post(
        url(created["id"], "/revisions/1/restore"),
        content=b'{"message": "x"}',
        headers={"content-type": content_type},
    )
    assert_problem(response, 415)
    assert client.get(url(created["id"])).json()["revision"] == 1


def test_a_restore_without_a_body_needs_no_content_type(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    created = create_configuration(client, application["id"])
    response = client.post(url(created["id"], "/revisions/1/restore"))
    assert response.status_code == 200
    assert response.json()["revision"] == 2
