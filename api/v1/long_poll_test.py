"""Long polls by name over real HTTP on a real PostgreSQL: an application renamed or deleted
during the wait, `Preference-Applied` on a 404, RFC 7240 Prefer parsing, and the problem's
`instance` as the client wrote the path."""

from __future__ import annotations

import httpx
import pytest

from api.v1.values_test import later, values_path
from conftest import LiveServer
from testing.seeding import create_application, create_configuration

WAIT = {"If-None-Match": '"1"', "Prefer": "wait=10"}


@pytest.mark.parametrize("change", ["rename", "delete"])
def test_a_long_poll_by_name_ends_404_when_its_application_is_renamed_or_deleted(
    client: httpx.Client, live_server: LiveServer, change: str
) -> None:
    application = create_application(client)
    create_configuration(client, application["id"], "prod", {"v": 1})
    path = f"/api/v1/applications/{application['id']}"

    def act(writer: httpx.Client) -> None:
        if change == "rename":
            renamed = writer.put(path, json={"name": application["name"] + "-new"})
            assert renamed.status_code == 200, renamed.text
        else:
            assert writer.delete(path).status_code == 204

    with httpx.Client(base_url=live_server.url, timeout=30) as writer:
        thread = later(0.3, lambda: act(writer))
        # Before the fix this waited the full 10 s and answered 304.
        response = client.get(values_path(application["name"], "prod"), headers=WAIT)
        thread.join()

    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == f"no application is named {application['name']!r}"
    assert response.headers["preference-applied"] == "wait=10"


def test_a_long_poll_that_ends_404_after_waiting_says_the_wait_was_applied(
    client: httpx.Client, live_server: LiveServer
) -> None:
    application = create_application(client)
    configuration = create_configuration(client, application["id"], "prod", {"v": 1})
    with httpx.Client(base_url=live_server.url, timeout=30) as writer:
        thread = later(0.3, lambda: writer.delete(f"/api/v1/configurations/{configuration['id']}"))
        response = client.get(values_path(application["name"], "prod"), headers=WAIT)
        thread.join()

    assert response.status_code == 404
    assert response.headers["preference-applied"] == "wait=10"
    assert response.json()["detail"] == (
        f"application {application['name']!r} has no configuration named 'prod'"
    )


@pytest.mark.parametrize(
    ("prefer", "applied"),
    [
        ("handling=lenient, wait=1", "wait=1"),
        ('wait="1"', "wait=1"),
        ("respond-async, WAIT = 1 ; x=y", "wait=1"),
        ("wait=1, wait=5", "wait=1"),  # the first one counts
        ("handling=lenient; wait=1", None),  # a parameter of `handling`, not a preference
        ('foo="a,wait=1"', None),  # inside a quoted string
        ("wait=soon", None),
        ("nowait=1", None),
    ],
)
def test_prefer_is_parsed_as_rfc_7240_says(
    client: httpx.Client, prefer: str, applied: str | None
) -> None:
    application = create_application(client)
    create_configuration(client, application["id"], "prod", {"v": 1})

    response = client.get(
        values_path(application["name"], "prod"),
        headers={"If-None-Match": '"1"', "Prefer": prefer},
    )

    assert response.status_code == 304
    assert response.headers.get("preference-applied") == applied


def test_the_problem_instance_is_the_path_as_sent(client: httpx.Client) -> None:
    application = create_application(client)
    path = values_path(application["name"], "a/b c")
    assert "%2F" in path

    response = client.get(path)

    assert response.status_code == 404
    assert response.json()["instance"] == path
