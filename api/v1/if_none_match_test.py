"""If-None-Match on writes (RFC 9110 §13.1.2): `*` fails when the resource exists, an ETag list
fails when it names the current ETag; a failed condition is a 412 and nothing is written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.v1.applications_test import assert_problem, create_application, stored_application
from api.v1.conditional_requests_test import (
    APPLICATION_WRITES,
    CONFIGURATION_WRITES,
    PRECONDITION_FAILED,
    at,
    at_revision_2,
    precondition_failed,
)
from api.v1.configurations_test import UNKNOWN_ID, stored_configuration
from api.v1.revisions_test import stored_revision_number, stored_revisions, url
from database.pool import Database

# Each names the current ETag "2" of the resource, or is *.
FAILING = ["*", '"2"', '"7", "2"', 'W/"2"']


@pytest.fixture
def application(client: httpx.Client) -> dict[str, Any]:
    return create_application(client)


def excluded(
    response: httpx.Response, resource: str, resource_id: str, revision: int, etag: str
) -> None:
    """The exact 412 problem of a write whose If-None-Match names the current ETag."""
    assert response.status_code == 412, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["etag"] == etag
    assert response.json() == {
        "type": PRECONDITION_FAILED,
        "title": "Precondition failed",
        "status": 412,
        "detail": f"{at(resource, resource_id, revision, etag)}, which the If-None-Match "
        "header excludes (it names the current ETag, or is * and the resource exists); nothing "
        "was written",
        "instance": response.request.url.path,
        "current_revision": revision,
        "current_etag": etag,
        "request_id": response.headers["x-request-id"],
    }


def assert_configuration_unchanged(database: Database, configuration_id: str) -> None:
    assert stored_revision_number(database, configuration_id) == 2
    assert [row[3] for row in stored_revisions(database, configuration_id)] == [
        {"n": 1},
        {"n": 2},
    ]


@pytest.mark.parametrize("route", CONFIGURATION_WRITES)
@pytest.mark.parametrize("if_none_match", FAILING)
def test_configuration_writes_whose_if_none_match_names_the_resource_are_412(
    client: httpx.Client,
    database: Database,
    application: dict[str, Any],
    route: str,
    if_none_match: str,
) -> None:
    configuration = at_revision_2(client, application["id"])

    response = CONFIGURATION_WRITES[route](
        client, configuration["id"], {"if-none-match": if_none_match}
    )

    excluded(response, "configuration", configuration["id"], 2, '"2"')
    assert_configuration_unchanged(database, configuration["id"])
    assert client.get(url(configuration["id"])).headers["etag"] == '"2"'


@pytest.mark.parametrize("route", APPLICATION_WRITES)
@pytest.mark.parametrize("if_none_match", FAILING)
def test_application_writes_whose_if_none_match_names_the_resource_are_412(
    client: httpx.Client, database: Database, route: str, if_none_match: str
) -> None:
    application = create_application(client, comments="before")
    changed = client.put(f"/api/v1/applications/{application['id']}", json={"comments": "now"})
    assert (changed.status_code, changed.headers["etag"]) == (200, '"2"')

    response = APPLICATION_WRITES[route](
        client, application["id"], {"if-none-match": if_none_match}
    )

    excluded(response, "application", application["id"], 2, '"2"')
    stored = stored_application(database, application["id"])
    assert stored is not None
    assert stored[:2] == (application["name"], "now")


@pytest.mark.parametrize("route", CONFIGURATION_WRITES)
@pytest.mark.parametrize("if_none_match", ['"1"', '"1", W/"3"', '"02"', "not a tag"])
def test_configuration_writes_whose_if_none_match_names_other_etags_succeed(
    client: httpx.Client,
    database: Database,
    application: dict[str, Any],
    route: str,
    if_none_match: str,
) -> None:
    configuration = at_revision_2(client, application["id"])

    response = CONFIGURATION_WRITES[route](
        client, configuration["id"], {"if-none-match": if_none_match}
    )

    if route == "DELETE":
        assert (response.status_code, response.content) == (204, b"")
        assert stored_configuration(database, configuration["id"]) is None
    else:
        assert (response.status_code, response.headers["etag"]) == (200, '"3"')
        assert stored_revision_number(database, configuration["id"]) == 3


@pytest.mark.parametrize("route", APPLICATION_WRITES)
def test_application_writes_whose_if_none_match_names_another_etag_succeed(
    client: httpx.Client, database: Database, route: str
) -> None:
    application = create_application(client)

    response = APPLICATION_WRITES[route](client, application["id"], {"if-none-match": '"9"'})

    if route == "DELETE":
        assert response.status_code == 204
        assert stored_application(database, application["id"]) is None
    else:
        assert (response.status_code, response.headers["etag"]) == (200, '"2"')
        assert response.json()["comments"] == "written"


@pytest.mark.parametrize("route", CONFIGURATION_WRITES)
def test_if_match_is_checked_first_then_if_none_match(
    client: httpx.Client, database: Database, application: dict[str, Any], route: str
) -> None:
    configuration = at_revision_2(client, application["id"])
    write = CONFIGURATION_WRITES[route]

    stale = write(client, configuration["id"], {"if-match": '"1"', "if-none-match": "*"})
    both = write(client, configuration["id"], {"if-match": '"2"', "if-none-match": '"2"'})

    precondition_failed(stale, "configuration", configuration["id"], 2, '"2"')
    excluded(both, "configuration", configuration["id"], 2, '"2"')
    assert_configuration_unchanged(database, configuration["id"])
    passing = write(client, configuration["id"], {"if-match": '"2"', "if-none-match": '"1"'})
    assert passing.status_code in {200, 204}


def test_if_none_match_star_on_an_unknown_configuration_is_404(client: httpx.Client) -> None:
    for route in CONFIGURATION_WRITES.values():
        response = route(client, UNKNOWN_ID, {"if-none-match": "*"})
        assert assert_problem(response, 404)["detail"] == (
            f"configuration {UNKNOWN_ID} does not exist"
        )


def test_the_write_routes_declare_if_none_match(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    writes = [
        paths["/api/v1/configurations/{configuration_id}"]["put"],
        paths["/api/v1/configurations/{configuration_id}"]["patch"],
        paths["/api/v1/configurations/{configuration_id}"]["delete"],
        paths["/api/v1/configurations/{configuration_id}/revisions/{revision}/restore"]["post"],
        paths["/api/v1/applications/{application_id}"]["put"],
        paths["/api/v1/applications/{application_id}"]["delete"],
    ]
    for operation in writes:
        headers = {
            parameter["name"]: parameter
            for parameter in operation["parameters"]
            if parameter["in"] == "header"
        }
        assert set(headers) == {"if-match", "if-none-match"}, operation["summary"]
        assert headers["if-none-match"]["description"].startswith(
            "Only write if the resource's ETag is none of these"
        )
