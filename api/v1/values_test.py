"""The delivery read path over real HTTP on a real PostgreSQL: values by name, revisions,
304s, the cache's read-your-writes, and long polling."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from conftest import LiveServer
from database.pool import connect
from testing.seeding import create_application, create_configuration, put_config


def values_path(application_name: str, name: str) -> str:
    return f"/api/v1/values/{quote(application_name, safe='')}/{quote(name, safe='')}"


@pytest.mark.parametrize(
    ("application_name", "name"),
    [
        ("billing", "production"),
        ("billing service", "eu west / prod"),
        ("räkning/Ω", "ü/../x?y#z%20"),
        ("emoji 🚀", "name with %2F inside"),
    ],
)
def test_values_returns_the_document_itself_for_any_name(
    client: httpx.Client, application_name: str, name: str
) -> None:
    application = create_application(client, f"{application_name} {secrets.token_hex(4)}")
    document = {"database": {"pool_size": 20}, "greeting": "grüß dich"}
    create_configuration(client, application["id"], name, document)

    response = client.get(values_path(application["name"], name))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == document
    assert response.headers["etag"] == '"1"'
    assert response.headers["config-revision"] == "1"


def test_values_follow_updates_and_answer_304_to_the_current_etag(client: httpx.Client) -> None:
    application = create_application(client)
    configuration = create_configuration(client, application["id"], "prod", {"v": 1})
    path = values_path(application["name"], "prod")
    assert client.get(path).json() == {"v": 1}  # now cached

    put_config(client, configuration["id"], {"v": 2})  # read-your-writes on this instance
    response = client.get(path)
    assert (response.json(), response.headers["etag"]) == ({"v": 2}, '"2"')

    not_modified = client.get(path, headers={"If-None-Match": '"2"'})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert (not_modified.headers["etag"], not_modified.headers["config-revision"]) == ('"2"', "2")
    assert "preference-applied" not in not_modified.headers
    assert client.get(path, headers={"If-None-Match": '"1"'}).status_code == 200


def test_cache_control_no_cache_reads_postgresql_not_memory(
    client: httpx.Client, database_url: str
) -> None:
    application = create_application(client)
    configuration = create_configuration(client, application["id"], "prod", {"v": 1})
    by_name = values_path(application["name"], "prod")
    by_id = f"/api/v1/configurations/{configuration['id']}"
    assert client.get(by_name).json() == {"v": 1}  # now cached, by name
    assert client.get(by_id).json()["config"] == {"v": 1}  # and by id
    # Behind the cache's back: no change log record, no NOTIFY, so memory keeps revision 1.
    connection = connect(database_url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                "UPDATE configurations SET config = '{\"v\": 2}', revision = 2 WHERE id = %(id)s",
                {"id": configuration["id"]},
            )
    finally:
        connection.close()

    cached_by_name, cached_by_id = client.get(by_name), client.get(by_id)
    fresh_by_name = client.get(by_name, headers={"Cache-Control": "no-cache"})
    fresh_by_id = client.get(by_id, headers={"Cache-Control": "no-cache"})

    assert (cached_by_name.json(), cached_by_name.headers["etag"]) == ({"v": 1}, '"1"')
    assert (cached_by_id.json()["config"], cached_by_id.headers["etag"]) == ({"v": 1}, '"1"')
    assert (fresh_by_name.json(), fresh_by_name.headers["etag"]) == ({"v": 2}, '"2"')
    assert (fresh_by_id.json()["config"], fresh_by_id.headers["etag"]) == ({"v": 2}, '"2"')


def test_an_older_revision_by_query(client: httpx.Client) -> None:
    application = create_application(client)
    configuration = create_configuration(client, application["id"], "prod", {"v": 1})
    put_config(client, configuration["id"], {"v": 2})
    path = values_path(application["name"], "prod")

    old = client.get(path, params={"revision": 1})
    assert (old.status_code, old.json()) == (200, {"v": 1})
    assert (old.headers["etag"], old.headers["config-revision"]) == ('"1"', "1")
    assert (
        client.get(path, params={"revision": 1}, headers={"If-None-Match": '"1"'}).status_code
        == 304
    )

    missing = client.get(path, params={"revision": 9})
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"configuration {configuration['id']} has no revision 9"
    invalid = client.get(path, params={"revision": 0})
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["field"] == "revision"


def test_unknown_names_are_404_problems_naming_which(client: httpx.Client) -> None:
    application = create_application(client)
    create_configuration(client, application["id"], "prod", {})

    no_application = client.get(values_path("no such app " + application["name"], "prod"))
    assert no_application.status_code == 404
    assert no_application.headers["content-type"] == "application/problem+json"
    assert no_application.json()["detail"] == (
        f"no application is named {'no such app ' + application['name']!r}"
    )
    no_configuration = client.get(values_path(application["name"], "staging"))
    assert no_configuration.status_code == 404
    assert no_configuration.json()["detail"] == (
        f"application {application['name']!r} has no configuration named 'staging'"
    )
    assert no_configuration.json()["type"] == "urn:config-service:problem:not-found"


def test_a_deleted_configuration_is_gone_at_once_on_this_instance(client: httpx.Client) -> None:
    application = create_application(client)
    configuration = create_configuration(client, application["id"], "prod", {"v": 1})
    path = values_path(application["name"], "prod")
    assert client.get(path).status_code == 200
    assert client.get(f"/api/v1/configurations/{configuration['id']}").status_code == 200

    assert client.delete(f"/api/v1/configurations/{configuration['id']}").status_code == 204

    assert client.get(path).status_code == 404
    assert client.get(f"/api/v1/configurations/{configuration['id']}").status_code == 404


def test_a_renamed_application_is_found_by_its_new_name(client: httpx.Client) -> None:
    application = create_application(client)
    create_configuration(client, application["id"], "prod", {"v": 1})
    assert client.get(values_path(application["name"], "prod")).status_code == 200
    new_name = application["name"] + "-renamed"

    response = client.put(f"/api/v1/applications/{application['id']}", json={"name": new_name})
    assert response.status_code == 200

    assert client.get(values_path(new_name, "prod")).json() == {"v": 1}
    assert client.get(values_path(application["name"], "prod")).status_code == 404


def later(seconds: float, action: Any) -> threading.Thread:
    def run() -> None:
        time.sleep(seconds)
        action()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("route", ["values", "resource"])
def test_a_long_poll_answers_when_the_configuration_changes(
    client: httpx.Client, live_server: LiveServer, route: str
) -> None:
    application = create_application(client)
    configuration = create_configuration(client, application["id"], "prod", {"v": 1})
    path = (
        values_path(application["name"], "prod")
        if route == "values"
        else f"/api/v1/configurations/{configuration['id']}"
    )
    with httpx.Client(base_url=live_server.url, timeout=30) as writer:
        thread = later(0.3, lambda: put_config(writer, configuration["id"], {"v": 2}))
        response = client.get(path, headers={"If-None-Match": '"1"', "Prefer": "wait=20"})
        thread.join()

    assert response.status_code == 200
    assert response.headers["etag"] == '"2"'
    assert response.headers["preference-applied"] == "wait=20"
    body = response.json()
    assert (body if route == "values" else body["config"]) == {"v": 2}


def test_a_long_poll_ends_with_404_when_the_configuration_is_deleted(
    client: httpx.Client, live_server: LiveServer
) -> None:
    application = create_application(client)
    configuration = create_configuration(client, application["id"], "prod", {"v": 1})
    with httpx.Client(base_url=live_server.url, timeout=30) as writer:
        thread = later(0.3, lambda: writer.delete(f"/api/v1/configurations/{configuration['id']}"))
        response = client.get(
            values_path(application["name"], "prod"),
            headers={"If-None-Match": '"1"', "Prefer": "wait=20"},
        )
        thread.join()

    assert response.status_code == 404
    assert response.json()["detail"] == (
        f"application {application['name']!r} has no configuration named 'prod'"
    )


def test_a_long_poll_without_a_change_ends_with_304_after_the_wait(client: httpx.Client) -> None:
    application = create_application(client)
    create_configuration(client, application["id"], "prod", {"v": 1})
    started = time.monotonic()

    response = client.get(
        values_path(application["name"], "prod"),
        headers={"If-None-Match": '"1"', "Prefer": "respond-async, wait=1"},
    )

    assert response.status_code == 304
    assert response.headers["preference-applied"] == "wait=1"
    assert response.headers["etag"] == '"1"'
    assert time.monotonic() - started >= 0.9  # it did wait (generous: no upper bound)


def test_a_wait_beyond_the_cap_is_capped_and_a_stale_etag_answers_at_once(
    client: httpx.Client,
) -> None:
    application = create_application(client)
    create_configuration(client, application["id"], "prod", {"v": 1})
    path = values_path(application["name"], "prod")

    stale = client.get(path, headers={"If-None-Match": '"7"', "Prefer": "wait=5000"})
    assert (stale.status_code, stale.json()) == (200, {"v": 1})
    assert "preference-applied" not in stale.headers
    no_tag = client.get(path, headers={"Prefer": "wait=5000"})
    assert no_tag.status_code == 200
    assert "preference-applied" not in no_tag.headers


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        (
            "/api/v1/values/app/a/b",
            "a values path is /api/v1/values/{application_name}/{configuration_name} with `/` "
            "in a name written as %2F",
        ),
        ("/api/v1/values/app/%FF", "a name in the path is not valid UTF-8"),
    ],
)
def test_values_paths_that_name_no_configuration_are_404_problems(
    client: httpx.Client, path: str, detail: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == detail


@pytest.mark.parametrize(
    ("application_name", "name"),
    [("/{token}/", "/prod/"), ("/{token}", "prod/"), ("{token}/", "/"), ("//{token}//", "//")],
)
def test_names_that_begin_or_end_with_a_slash_are_read_by_name(
    client: httpx.Client, checked_server: LiveServer, application_name: str, name: str
) -> None:
    """A `/` at either end of a name leaves an empty segment in the decoded path: still one
    name each, read from the path as sent."""
    application = create_application(client, application_name.format(token=secrets.token_hex(4)))
    configuration = create_configuration(client, application["id"], name, {"v": 1})
    path = values_path(application["name"], name)
    assert "/values/%2F" in path or path.endswith("%2F")

    read = client.get(path)
    older = client.get(path, params={"revision": 1})
    revalidated = client.get(path, headers={"If-None-Match": '"1"'})
    put_config(client, configuration["id"], {"v": 2})
    changed = client.get(path, headers={"If-None-Match": '"1"', "Prefer": "wait=5"})

    assert (read.status_code, read.json(), read.headers["etag"]) == (200, {"v": 1}, '"1"')
    assert (older.status_code, older.json()) == (200, {"v": 1})
    assert (revalidated.status_code, revalidated.content) == (304, b"")
    assert (changed.status_code, changed.json(), changed.headers["etag"]) == (200, {"v": 2}, '"2"')
    # A key limited to the application reaches it by these names too (its scope is checked
    # on the names the path gives).
    created = httpx.post(
        f"{checked_server.url}/api/v1/keys",
        headers={"Authorization": f"Bearer {checked_server.admin_key}"},
        json={"name": "slashes", "role": "read", "applications": [application["id"]]},
    )
    assert created.status_code == 201, created.text
    scoped = httpx.get(
        f"{checked_server.url}{path}",
        headers={"Authorization": f"Bearer {created.json()['key']}"},
    )
    assert (scoped.status_code, scoped.json()) == (200, {"v": 2})
