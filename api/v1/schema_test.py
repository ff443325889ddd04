"""A JSON Schema per configuration over real HTTP: every write of config is checked against it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from api.v1.applications_test import assert_problem, create_application, unique_name
from api.v1.configurations_test import create_configuration, stored_configuration
from api.v1.revisions_test import merge_patch, stored_revision_number, stored_revisions, url
from database.pool import Database

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["port"],
    "properties": {
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "host": {"type": "string", "format": "ipv4"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}


@pytest.fixture
def application(client: httpx.Client) -> dict[str, Any]:
    return create_application(client)


def stored_schema(database: Database, configuration_id: str) -> Any:
    with database.connection() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT schema FROM configurations WHERE id = %(id)s", {"id": configuration_id}
        )
        row = cursor.fetchone()
        assert row is not None
        return row[0]


def configuration_names(client: httpx.Client, application_id: str) -> list[str]:
    response = client.get(f"/api/v1/applications/{application_id}/configurations")
    return [item["name"] for item in response.json()]


def create(client: httpx.Client, application_id: str, **body: Any) -> httpx.Response:
    body.setdefault("name", unique_name("config"))
    return client.post("/api/v1/configurations", json={"application_id": application_id, **body})


def assert_unchanged(
    database: Database, configuration: dict[str, Any], schema: dict[str, Any] | None
) -> None:
    assert stored_configuration(database, configuration["id"]) == (
        configuration["application_id"],
        configuration["name"],
        configuration["comments"],
        configuration["config"],
    )
    assert stored_schema(database, configuration["id"]) == schema
    assert stored_revision_number(database, configuration["id"]) == configuration["revision"]
    assert len(stored_revisions(database, configuration["id"])) == configuration["revision"]


def test_create_with_a_schema_and_a_valid_config_is_201(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    response = create(
        client, application["id"], config={"port": 80, "host": "10.0.0.1"}, schema=SCHEMA
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["config"], body["schema"], body["revision"]) == (
        {"port": 80, "host": "10.0.0.1"},
        SCHEMA,
        1,
    )
    assert stored_schema(database, body["id"]) == SCHEMA
    assert stored_revisions(database, body["id"])[0][4] == SCHEMA
    assert client.get(url(body["id"])).json()["schema"] == SCHEMA


def test_create_with_a_config_breaking_the_schema_lists_every_error(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    config = {"port": 0, "host": "300.1.1.1", "tags": ["a", 2, None], "extra": True}

    response = create(client, application["id"], name="broken", config=config, schema=SCHEMA)

    problem = assert_problem(response, 422)
    assert problem["type"] == "urn:config-service:problem:validation-error"
    assert [
        (error["location"], error["field"], error["rule"], error["pointer"], error["message"])
        for error in problem["errors"]
    ] == [
        (
            "body",
            "config",
            "json_schema",
            "/config",
            "Additional properties are not allowed ('extra' was unexpected) "
            "(schema rule /additionalProperties)",
        ),
        (
            "body",
            "config.host",
            "json_schema",
            "/config/host",
            "'300.1.1.1' is not a 'ipv4' (schema rule /properties/host/format)",
        ),
        (
            "body",
            "config.port",
            "json_schema",
            "/config/port",
            "0 is less than the minimum of 1 (schema rule /properties/port/minimum)",
        ),
        (
            "body",
            "config.tags.1",
            "json_schema",
            "/config/tags/1",
            "2 is not of type 'string' (schema rule /properties/tags/items/type)",
        ),
        (
            "body",
            "config.tags.2",
            "json_schema",
            "/config/tags/2",
            "None is not of type 'string' (schema rule /properties/tags/items/type)",
        ),
    ]
    assert problem["detail"].endswith(" (and 2 more)")
    assert configuration_names(client, application["id"]) == []


def test_put_of_a_config_breaking_the_stored_schema_is_422_and_changes_nothing(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    configuration = create_configuration(
        client, application["id"], config={"port": 80}, schema=SCHEMA
    )

    response = client.put(url(configuration["id"]), json={"config": {"port": "eighty"}})

    problem = assert_problem(response, 422, "json_schema")
    assert problem["errors"][0]["pointer"] == "/config/port"
    assert problem["errors"][0]["message"] == (
        "'eighty' is not of type 'integer' (schema rule /properties/port/type)"
    )
    assert_unchanged(database, configuration, SCHEMA)


def test_a_put_that_leaves_config_out_is_still_checked_against_a_new_schema(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    configuration = create_configuration(client, application["id"], config={"port": "80"})

    response = client.put(url(configuration["id"]), json={"schema": SCHEMA})

    problem = assert_problem(response, 422, "json_schema")
    assert problem["errors"][0]["pointer"] == "/config/port"
    assert_unchanged(database, configuration, None)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_setting_a_schema_the_current_config_breaks_is_422_and_changes_nothing(
    client: httpx.Client, database: Database, application: dict[str, Any], method: str
) -> None:
    old_schema = {"type": "object"}
    configuration = create_configuration(
        client, application["id"], config={"host": "x", "port": 1}, schema=old_schema
    )
    new_schema = {"properties": {"host": {"format": "ipv4"}, "port": {"minimum": 2}}}

    if method == "PUT":
        response = client.put(url(configuration["id"]), json={"schema": new_schema})
    else:
        response = merge_patch(client, configuration["id"], {"schema": new_schema})

    problem = assert_problem(response, 422)
    assert [(error["rule"], error["pointer"]) for error in problem["errors"]] == [
        ("json_schema", "/config/host"),
        ("json_schema", "/config/port"),
    ]
    assert_unchanged(database, configuration, old_schema)


def test_changing_schema_and_config_together_to_a_consistent_pair_works(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    configuration = create_configuration(
        client, application["id"], config={"port": 80}, schema=SCHEMA
    )
    new_schema = {"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}}

    response = client.put(
        url(configuration["id"]),
        json={"config": {"url": "https://example.com"}, "schema": new_schema, "message": "move"},
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["config"], body["schema"], body["revision"]) == (
        {"url": "https://example.com"},
        new_schema,
        2,
    )
    assert stored_schema(database, configuration["id"]) == new_schema
    assert [row[3:6] for row in stored_revisions(database, configuration["id"])] == [
        ({"port": 80}, SCHEMA, None),
        ({"url": "https://example.com"}, new_schema, "move"),
    ]


def test_a_config_satisfying_the_schema_is_written(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    configuration = create_configuration(
        client, application["id"], config={"port": 80}, schema=SCHEMA
    )
    response = merge_patch(client, configuration["id"], {"config": {"tags": ["a"], "port": 81}})
    assert (response.status_code, response.json()["config"]) == (
        200,
        {"port": 81, "tags": ["a"]},
    )


@pytest.mark.parametrize(
    ("schema", "pointer", "rule"),
    [
        ({"type": "strange"}, "/schema/type", "json_schema_invalid"),
        (
            {"properties": {"a": {"minimum": "1"}}},
            "/schema/properties/a/minimum",
            "json_schema_invalid",
        ),
        ({"pattern": "("}, "/schema/pattern", "json_schema_pattern_unsupported"),
        (
            {"properties": {"x": {"pattern": "(a)\\1"}}},
            "/schema/properties/x/pattern",
            "json_schema_pattern_unsupported",
        ),
        (
            {"$defs": {"d": {"pattern": "a(?=b)"}}},
            "/schema/$defs/d/pattern",
            "json_schema_pattern_unsupported",
        ),
        (
            {"patternProperties": {"(?<!a)b": {}}},
            "/schema/patternProperties/(?<!a)b",
            "json_schema_pattern_unsupported",
        ),
        (
            {"allOf": [{"items": {"type": "integer"}}] * 20_000},
            "/schema",
            "json_schema_too_expensive",
        ),
        ({"$ref": "#/$defs/missing"}, "/schema", "json_schema_unresolvable_ref"),
        ({"$ref": "#"}, "/schema", "json_schema_recursive_ref"),
        ({"allOf": [{"$ref": "#"}]}, "/schema", "json_schema_recursive_ref"),
        ([{"type": "object"}], "/schema", "dict_type"),
        (True, "/schema", "dict_type"),
    ],
)
def test_a_schema_that_cannot_be_used_is_422(
    client: httpx.Client, application: dict[str, Any], schema: Any, pointer: str, rule: str
) -> None:
    problem = assert_problem(create(client, application["id"], config={}, schema=schema), 422, rule)
    assert problem["errors"][0]["pointer"] == pointer
    assert configuration_names(client, application["id"]) == []


def test_an_invalid_schema_is_refused_on_put_and_nothing_changes(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    configuration = create_configuration(client, application["id"], config={"a": 1})

    response = client.put(url(configuration["id"]), json={"schema": {"required": "a"}})

    problem = assert_problem(response, 422, "json_schema_invalid")
    assert problem["errors"][0]["message"] == (
        "not a valid JSON Schema (2020-12): 'a' is not of type 'array'"
    )
    assert_unchanged(database, configuration, None)


class RecordingHandler(BaseHTTPRequestHandler):
    requests: list[str] = []  # noqa: RUF012 -- shared by the server's handler instances

    def do_GET(self) -> None:
        RecordingHandler.requests.append(self.path)
        body = b'{"type": "object"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/schema+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def schema_host() -> Iterator[str]:
    """An HTTP server that would serve any schema, and records every request it gets."""
    RecordingHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_recording_server_records(schema_host: str) -> None:
    """The check below means something only if a fetch would have been seen."""
    assert httpx.get(f"{schema_host}/probe.json").json() == {"type": "object"}
    assert RecordingHandler.requests == ["/probe.json"]


@pytest.mark.parametrize(
    "reference", ["{host}/remote.json", "{host}/remote.json#/x", "relative.json", "//evil/x"]
)
def test_a_remote_ref_is_422_and_nothing_is_fetched(
    client: httpx.Client, application: dict[str, Any], schema_host: str, reference: str
) -> None:
    schema = {
        "$id": f"{schema_host}/root.json",
        "properties": {"a": {"$ref": reference.format(host=schema_host)}},
    }

    response = create(client, application["id"], config={"a": 1}, schema=schema)

    problem = assert_problem(response, 422, "json_schema_remote_ref")
    assert problem["errors"][0]["pointer"] == "/schema/properties/a/$ref"
    assert problem["errors"][0]["message"] == (
        "only local references (starting with #) are allowed; "
        f"got {reference.format(host=schema_host)!r}"
    )
    assert RecordingHandler.requests == []
    assert configuration_names(client, application["id"]) == []


def test_a_remote_dynamic_ref_is_422(
    client: httpx.Client, application: dict[str, Any], schema_host: str
) -> None:
    schema = {"$defs": {"a": {"$dynamicRef": f"{schema_host}/meta.json#meta"}}}
    problem = assert_problem(
        create(client, application["id"], config={}, schema=schema), 422, "json_schema_remote_ref"
    )
    assert problem["errors"][0]["pointer"] == "/schema/$defs/a/$dynamicRef"
    assert RecordingHandler.requests == []


def test_a_local_ref_under_a_remote_id_is_resolved_locally(
    client: httpx.Client, application: dict[str, Any], schema_host: str
) -> None:
    schema = {
        "$id": f"{schema_host}/root.json",
        "properties": {"a": {"$ref": "#/$defs/port"}, "b": {"$ref": "#/$defs/missing"}},
        "$defs": {"port": {"type": "integer"}},
    }

    valid = create(client, application["id"], config={"a": 1}, schema=schema)
    invalid = create(client, application["id"], config={"a": "x"}, schema=schema)
    unresolvable = create(client, application["id"], config={"b": 1}, schema=schema)

    assert valid.status_code == 201
    assert_problem(invalid, 422, "json_schema")
    assert_problem(unresolvable, 422, "json_schema_unresolvable_ref")
    assert RecordingHandler.requests == []


def test_a_backtracking_pattern_answers_at_once_with_422(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    schema = {"properties": {"x": {"type": "string", "pattern": "^(a+)+$"}}}
    configuration = create_configuration(client, application["id"], config={}, schema=schema)

    response = client.put(url(configuration["id"]), json={"config": {"x": "a" * 39 + "!"}})

    problem = assert_problem(response, 422, "json_schema")
    assert problem["errors"][0]["pointer"] == "/config/x"
    assert problem["errors"][0]["message"] == (
        f"'{'a' * 39}!' does not match '^(a+)+$' (schema rule /properties/x/pattern)"
    )


def test_a_huge_integer_under_multiple_of_a_fraction_is_checked_exactly(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    schema = {"properties": {"n": {"multipleOf": 0.5}, "m": {"multipleOf": 0.3}}}
    configuration = create_configuration(client, application["id"], config={}, schema=schema)
    big = 10**399

    accepted = client.put(url(configuration["id"]), json={"config": {"n": big, "m": 3 * big}})
    refused = client.put(url(configuration["id"]), json={"config": {"m": big + 1}})

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["config"] == {"n": big, "m": 3 * big}
    problem = assert_problem(refused, 422, "json_schema")
    assert problem["errors"][0]["pointer"] == "/config/m"
    assert problem["errors"][0]["message"].startswith(f"{big + 1}"[:200])


def test_unique_items_on_many_objects_uses_json_equality(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    schema = {"properties": {"items": {"uniqueItems": True}}}
    configuration = create_configuration(client, application["id"], config={}, schema=schema)
    distinct = [{"i": index, "flag": index % 2 == 0} for index in range(20_000)]

    accepted = client.put(url(configuration["id"]), json={"config": {"items": distinct}})
    refused = client.put(
        url(configuration["id"]), json={"config": {"items": [*distinct, {"flag": True, "i": 0.0}]}}
    )

    assert accepted.status_code == 200, accepted.text
    problem = assert_problem(refused, 422, "json_schema")
    assert problem["errors"][0]["pointer"] == "/config/items"
    assert problem["errors"][0]["message"].startswith("[{'i': 0, 'flag': True}, ")
