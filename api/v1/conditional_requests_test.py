"""Conditional requests over real HTTP: ETags, 304, 412 and 428, and compare-and-set under
real concurrent writers against the real database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from api.v1.applications_test import assert_problem, create_application, stored_application
from api.v1.configurations_test import UNKNOWN_ID, create_configuration, stored_configuration
from api.v1.revisions_test import merge_patch, stored_revision_number, stored_revisions, url
from conftest import LiveServerFactory, make_settings
from database.pool import Database
from testing.live_server import LiveServer

PRECONDITION_FAILED = "urn:config-service:problem:precondition-failed"

# Each write route of a configuration, sent with the given extra headers.
ConfigurationWrite = Callable[[httpx.Client, str, dict[str, str]], httpx.Response]
CONFIGURATION_WRITES: dict[str, ConfigurationWrite] = {
    "PUT": lambda client, configuration_id, headers: client.put(
        url(configuration_id), json={"config": {"written": True}}, headers=headers
    ),
    "PATCH": lambda client, configuration_id, headers: merge_patch(
        client, configuration_id, {"config": {"written": True}}, headers
    ),
    "DELETE": lambda client, configuration_id, headers: client.delete(
        url(configuration_id), headers=headers
    ),
    "restore": lambda client, configuration_id, headers: client.post(
        url(configuration_id, "/revisions/1/restore"), headers=headers
    ),
}
ApplicationWrite = Callable[[httpx.Client, str, dict[str, str]], httpx.Response]
APPLICATION_WRITES: dict[str, ApplicationWrite] = {
    "PUT": lambda client, application_id, headers: client.put(
        f"/api/v1/applications/{application_id}", json={"comments": "written"}, headers=headers
    ),
    "DELETE": lambda client, application_id, headers: client.delete(
        f"/api/v1/applications/{application_id}", headers=headers
    ),
}


@pytest.fixture
def application(client: httpx.Client) -> dict[str, Any]:
    return create_application(client)


def at_revision_2(client: httpx.Client, application_id: str) -> dict[str, Any]:
    """A configuration with two revisions: {"n": 1} then {"n": 2}."""
    created = create_configuration(client, application_id, config={"n": 1})
    response = client.put(url(created["id"]), json={"config": {"n": 2}})
    assert (response.status_code, response.headers["etag"]) == (200, '"2"')
    updated: dict[str, Any] = response.json()
    return updated


def at(resource: str, resource_id: str, revision: int, etag: str) -> str:
    """Where a 412 says the resource is: its revision, or its version when they differ (an
    application's version also counts its configurations created and deleted)."""
    if etag == f'"{revision}"':
        return f"{resource} {resource_id} is at revision {revision}"
    version = etag.strip('"')
    return f"{resource} {resource_id} is at version {version} (ETag {etag})"


IF_MATCH_FAILS = "which the If-Match header does not name; fetch it again and retry with its ETag"
IF_NONE_MATCH_FAILS = (
    "which the If-None-Match header excludes (it names the current ETag, or is * and the "
    "resource exists); nothing was written"
)


def refused(
    response: httpx.Response,
    resource: str,
    resource_id: str,
    revision: int,
    etag: str,
    reason: str = IF_MATCH_FAILS,
) -> None:
    """The exact 412 problem (body, ETag header and request id) of a write refused for
    `reason`: an If-Match that does not name the current ETag, or an If-None-Match that does."""
    assert response.status_code == 412, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["etag"] == etag
    assert response.json() == {
        "type": PRECONDITION_FAILED,
        "title": "Precondition failed",
        "status": 412,
        "detail": f"{at(resource, resource_id, revision, etag)}, {reason}",
        "instance": response.request.url.path,
        "current_revision": revision,
        "current_etag": etag,
        "request_id": response.headers["x-request-id"],
    }


# --- 304 -----------------------------------------------------------------------------------


def test_application_get_gives_304_while_the_etag_is_current(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    path = f"/api/v1/applications/{application['id']}"
    first = client.get(path)
    etag = first.headers["etag"]

    for header in (etag, f'"999", {etag}', f"W/{etag}", "*"):
        response = client.get(path, headers={"if-none-match": header})
        assert (response.status_code, response.content) == (304, b""), header
        assert response.headers["etag"] == etag
    assert first.status_code == 200
    assert etag == '"1"'
    assert client.get(path, headers={"if-none-match": '"2"'}).json() == first.json()


def test_configuration_get_gives_304_until_it_changes(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    created = create_configuration(client, application["id"], config={"n": 1})
    path = url(created["id"])

    not_modified = client.get(path, headers={"if-none-match": '"1"'})
    client.put(path, json={"config": {"n": 2}})
    modified = client.get(path, headers={"if-none-match": '"1"'})

    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert not_modified.headers["etag"] == '"1"'
    assert modified.status_code == 200
    assert modified.headers["etag"] == '"2"'
    assert modified.json()["config"] == {"n": 2}


def test_revision_get_gives_304_for_its_etag(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    configuration = at_revision_2(client, application["id"])
    path = url(configuration["id"], "/revisions/1")

    not_modified = client.get(path, headers={"if-none-match": '"1"'})
    other = client.get(path, headers={"if-none-match": '"2"'})

    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert not_modified.headers["etag"] == '"1"'
    assert (other.status_code, other.headers["etag"]) == (200, '"1"')
    assert other.json()["config"] == {"n": 1}


def test_no_op_writes_keep_the_etag(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    configuration = at_revision_2(client, application["id"])

    put = client.put(url(configuration["id"]), json={"config": {"n": 2}})
    patch = merge_patch(client, configuration["id"], {})
    revalidated = client.get(url(configuration["id"]), headers={"if-none-match": '"2"'})

    assert [put.headers["etag"], patch.headers["etag"]] == ['"2"', '"2"']
    assert put.json() == patch.json() == configuration
    assert revalidated.status_code == 304
    assert stored_revision_number(database, configuration["id"]) == 2


def test_application_etag_changes_with_its_list_of_configurations(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    path = f"/api/v1/applications/{application['id']}"
    first = client.get(path).headers["etag"]

    configuration = create_configuration(client, application["id"])
    after_create = client.get(path)
    revalidated = client.get(path, headers={"if-none-match": first})
    stale_put = client.put(path, json={"comments": "stale"}, headers={"if-match": first})
    client.delete(url(configuration["id"]))
    after_delete = client.get(path)

    assert after_create.status_code == 200
    assert after_create.json()["configuration_ids"] == [configuration["id"]]
    second = after_create.headers["etag"]
    assert second != first
    assert (revalidated.status_code, revalidated.headers["etag"]) == (200, second)
    assert revalidated.json() == after_create.json()
    refused(stale_put, "application", application["id"], 1, second)
    assert stale_put.json()["detail"].startswith(
        f'application {application["id"]} is at version 2 (ETag "2"), which the If-Match'
    )
    stored = stored_application(database, application["id"])
    assert stored is not None
    assert stored[1] is None
    assert after_delete.headers["etag"] not in {first, second}
    assert after_delete.json()["configuration_ids"] == []
    assert after_delete.json()["revision"] == 1


def test_a_failed_create_does_not_change_the_application_etag(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    create_configuration(client, application["id"], name="taken")
    path = f"/api/v1/applications/{application['id']}"
    before = client.get(path).headers["etag"]

    duplicate = client.post(
        "/api/v1/configurations",
        json={"application_id": application["id"], "name": "taken", "config": {}},
    )

    assert duplicate.status_code == 409
    assert client.get(path, headers={"if-none-match": before}).status_code == 304


# --- 412 -----------------------------------------------------------------------------------


# The conditions a write may carry, against a resource whose ETag is "2", and why each is
# refused (None: the write goes ahead). If-Match is checked first, then If-None-Match.
NAMING_THE_CURRENT_ETAG = ["*", '"2"', '"7", "2"', 'W/"2"']
CONFIGURATION_CONDITIONS: list[tuple[dict[str, str], str | None]] = [
    # A stale or malformed If-Match names nothing, so the write fails safe.
    *[
        ({"if-match": value}, IF_MATCH_FAILS)
        for value in ['"1"', 'W/"2"', '"02"', "2", "garbage", '"1", "3"', ""]
    ],
    *[({"if-none-match": value}, IF_NONE_MATCH_FAILS) for value in NAMING_THE_CURRENT_ETAG],
    ({"if-match": '"1"', "if-none-match": "*"}, IF_MATCH_FAILS),
    ({"if-match": '"2"', "if-none-match": '"2"'}, IF_NONE_MATCH_FAILS),
    *[({"if-match": value}, None) for value in ['"2"', "*", '"7", "2"', 'W/"1","2"']],
    *[({"if-none-match": value}, None) for value in ['"1"', '"1", W/"3"', '"02"', "not a tag"]],
    ({"if-match": '"2"', "if-none-match": '"1"'}, None),
]
APPLICATION_CONDITIONS: list[tuple[dict[str, str], str | None]] = [
    ({"if-match": '"1"'}, IF_MATCH_FAILS),
    *[({"if-none-match": value}, IF_NONE_MATCH_FAILS) for value in NAMING_THE_CURRENT_ETAG],
    ({"if-match": '"2"'}, None),
    ({"if-match": "*"}, None),
    ({"if-none-match": '"9"'}, None),
]


def condition_id(condition: tuple[dict[str, str], str | None]) -> str:
    headers, reason = condition
    sent = " ".join(f"{name}={value}" for name, value in headers.items())
    return f"{sent} -> {'412' if reason else 'written'}"


@pytest.mark.parametrize("route", CONFIGURATION_WRITES)
@pytest.mark.parametrize("condition", CONFIGURATION_CONDITIONS, ids=condition_id)
def test_configuration_writes_follow_their_conditions(
    client: httpx.Client,
    database: Database,
    application: dict[str, Any],
    route: str,
    condition: tuple[dict[str, str], str | None],
) -> None:
    headers, reason = condition
    configuration = at_revision_2(client, application["id"])

    response = CONFIGURATION_WRITES[route](client, configuration["id"], headers)

    if reason is not None:
        refused(response, "configuration", configuration["id"], 2, '"2"', reason)
        assert stored_revision_number(database, configuration["id"]) == 2
        assert [row[3] for row in stored_revisions(database, configuration["id"])] == [
            {"n": 1},
            {"n": 2},
        ]
        assert client.get(url(configuration["id"])).headers["etag"] == '"2"'
    elif route == "DELETE":
        assert (response.status_code, response.content) == (204, b"")
        assert stored_configuration(database, configuration["id"]) is None
        assert stored_revisions(database, configuration["id"]) == []
    else:
        assert (response.status_code, response.headers["etag"]) == (200, '"3"')
        assert response.json()["revision"] == 3
        expected = {
            "PUT": {"written": True},
            "PATCH": {"n": 2, "written": True},
            "restore": {"n": 1},
        }[route]
        assert response.json()["config"] == expected
        assert stored_revision_number(database, configuration["id"]) == 3
        assert stored_revisions(database, configuration["id"])[-1][:4:3] == (3, expected)
        assert client.get(url(configuration["id"])).headers["etag"] == '"3"'


@pytest.mark.parametrize("route", APPLICATION_WRITES)
@pytest.mark.parametrize("condition", APPLICATION_CONDITIONS, ids=condition_id)
def test_application_writes_follow_their_conditions(
    client: httpx.Client,
    database: Database,
    route: str,
    condition: tuple[dict[str, str], str | None],
) -> None:
    headers, reason = condition
    application = create_application(client, comments="before")
    changed = client.put(f"/api/v1/applications/{application['id']}", json={"comments": "now"})
    assert (changed.status_code, changed.headers["etag"]) == (200, '"2"')

    response = APPLICATION_WRITES[route](client, application["id"], headers)

    if reason is not None:
        refused(response, "application", application["id"], 2, '"2"', reason)
        stored = stored_application(database, application["id"])
        assert stored is not None
        assert stored[:2] == (application["name"], "now")
    elif route == "DELETE":
        assert response.status_code == 204
        assert stored_application(database, application["id"]) is None
    else:
        assert (response.status_code, response.headers["etag"]) == (200, '"3"')
        assert (response.json()["comments"], response.json()["revision"]) == ("written", 3)


@pytest.mark.parametrize("header", ["if-match", "if-none-match"])
def test_a_condition_on_an_unknown_configuration_is_404(client: httpx.Client, header: str) -> None:
    for route in CONFIGURATION_WRITES.values():
        response = route(client, UNKNOWN_ID, {header: "*"})
        assert assert_problem(response, 404)["detail"] == (
            f"configuration {UNKNOWN_ID} does not exist"
        )


def test_the_write_routes_declare_both_conditions(client: httpx.Client) -> None:
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


def test_a_412_names_the_etag_that_then_works(
    client: httpx.Client, application: dict[str, Any]
) -> None:
    configuration = at_revision_2(client, application["id"])
    stale = client.put(
        url(configuration["id"]), json={"config": {"n": 3}}, headers={"if-match": '"1"'}
    )

    retried = client.put(
        url(configuration["id"]),
        json={"config": {"n": 3}},
        headers={"if-match": stale.json()["current_etag"]},
    )

    assert stale.status_code == 412
    assert (retried.status_code, retried.headers["etag"]) == (200, '"3"')


# --- 428 -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_server(
    live_server_factory: LiveServerFactory, database_url: str
) -> Iterator[LiveServer]:
    with live_server_factory(make_settings(database_url, require_if_match=True)) as server:
        yield server


@pytest.fixture
def strict_client(strict_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=strict_server.url, timeout=30) as http:
        yield http


def precondition_required(response: httpx.Response) -> None:
    assert response.status_code == 428, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Precondition Required",
        "status": 428,
        "detail": "this server requires If-Match on writes: GET the resource and send its "
        "ETag in If-Match (or If-Match: * to overwrite whatever is there)",
        "instance": response.request.url.path,
        "request_id": response.headers["x-request-id"],
    }


@pytest.mark.parametrize("route", CONFIGURATION_WRITES)
def test_require_if_match_refuses_configuration_writes_without_it(
    strict_client: httpx.Client, database: Database, route: str
) -> None:
    application = create_application(strict_client)
    configuration = create_configuration(strict_client, application["id"], config={"n": 1})

    refused = CONFIGURATION_WRITES[route](strict_client, configuration["id"], {})

    precondition_required(refused)
    assert stored_configuration(database, configuration["id"]) == (
        application["id"],
        configuration["name"],
        None,
        {"n": 1},
    )
    assert len(stored_revisions(database, configuration["id"])) == 1
    accepted = CONFIGURATION_WRITES[route](strict_client, configuration["id"], {"if-match": '"1"'})
    assert accepted.status_code == (204 if route == "DELETE" else 200)


@pytest.mark.parametrize("route", APPLICATION_WRITES)
def test_require_if_match_refuses_application_writes_without_it(
    strict_client: httpx.Client, database: Database, route: str
) -> None:
    application = create_application(strict_client, comments="before")

    refused = APPLICATION_WRITES[route](strict_client, application["id"], {})

    precondition_required(refused)
    stored = stored_application(database, application["id"])
    assert stored is not None
    assert stored[:2] == (application["name"], "before")
    accepted = APPLICATION_WRITES[route](strict_client, application["id"], {"if-match": "*"})
    assert accepted.status_code == (204 if route == "DELETE" else 200)


def test_require_if_match_leaves_creates_and_reads_alone(strict_client: httpx.Client) -> None:
    application = create_application(strict_client)
    configuration = create_configuration(strict_client, application["id"])

    assert strict_client.get(f"/api/v1/applications/{application['id']}").status_code == 200
    assert strict_client.get(url(configuration["id"])).status_code == 200
    assert strict_client.get(url(configuration["id"], "/revisions")).status_code == 200


# --- concurrency ---------------------------------------------------------------------------

THREADS = 8
ITERATIONS = 10


def run_threads(target: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=target, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [thread.is_alive() for thread in threads] == [False] * THREADS


def test_concurrent_read_modify_write_with_if_match_loses_no_update(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    configuration = create_configuration(client, application["id"], config={"counter": 0})
    path = url(configuration["id"])
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def increment(_: int) -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=30) as own:
            barrier.wait()
            for _ in range(ITERATIONS):
                for _ in range(1000):  # bounded: a livelock fails the test instead of hanging
                    read = own.get(path)
                    config = read.json()["config"]
                    config["counter"] += 1
                    written = own.put(
                        path, json={"config": config}, headers={"if-match": read.headers["etag"]}
                    )
                    with lock:
                        statuses.append(written.status_code)
                    if written.status_code != 412:
                        break

    run_threads(increment)

    successes = statuses.count(200)
    assert set(statuses) <= {200, 412}
    assert successes == THREADS * ITERATIONS
    final = client.get(path).json()
    assert final["revision"] - 1 == successes
    assert final["config"] == {"counter": successes}
    rows = stored_revisions(database, configuration["id"])
    assert len(rows) - 1 == successes
    # Every revision is its predecessor plus one: no write was based on a stale read.
    assert [row[3]["counter"] for row in rows] == list(range(successes + 1))
    assert [row[0] for row in rows] == list(range(1, successes + 2))


def test_concurrent_merge_patches_without_if_match_lose_no_write(
    client: httpx.Client, database: Database, application: dict[str, Any]
) -> None:
    """Each thread PATCHes keys of its own, without If-Match: every write succeeds (last
    writer wins, on top of the newest revision) and none undoes another's."""
    configuration = create_configuration(client, application["id"], config={"base": True})
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def patch(thread: int) -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=30) as own:
            barrier.wait()
            for iteration in range(ITERATIONS):
                key = f"t{thread}-{iteration}"
                response = merge_patch(own, configuration["id"], {"config": {key: iteration}})
                with lock:
                    statuses[key] = response.status_code

    run_threads(patch)

    assert list(statuses.values()) == [200] * (THREADS * ITERATIONS)
    written = sorted(statuses)
    final = client.get(url(configuration["id"])).json()
    assert sorted(final["config"]) == sorted(["base", *written])
    assert final["revision"] == len(written) + 1
    rows = stored_revisions(database, configuration["id"])
    assert len(rows) == len(written) + 1
    # Each revision adds exactly one key to the one before: none undid another's write.
    assert [len(row[3]) for row in rows] == list(range(1, len(written) + 2))
    assert all(set(rows[index][3]) < set(rows[index + 1][3]) for index in range(len(written)))
