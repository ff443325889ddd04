"""What a key must not get away with: streams and long polls outliving a revocation, a scoped
key probing global application names, problem bodies echoing a key, keys born expired."""

from __future__ import annotations

import secrets
import threading
from typing import Any

import httpx
import pytest

from api.v1.applications_test import assert_problem, unique_name
from api.v1.events_test import open_stream
from testing.api_keys import bearer
from testing.seeding import create_application, create_configuration, put_config

RENAME_RULE = (
    "renaming an application needs a key that reaches every application, because application "
    "names are global; a key limited to some applications may change only `comments`"
)


def new_key(admin: httpx.Client, role: str, applications: list[str] | None) -> dict[str, str]:
    created = admin.post(
        "/api/v1/keys", json={"name": "probe", "role": role, "applications": applications}
    )
    assert created.status_code == 201, created.text
    body: dict[str, str] = created.json()
    return body


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/applications/{id}/events"])
def test_a_revoked_key_s_stream_ends_before_the_next_change(admin: httpx.Client, path: str) -> None:
    application = create_application(admin)
    key = new_key(admin, "read", [application["id"]])
    stream_path = path.format(id=application["id"])
    with open_stream(str(admin.base_url), stream_path, bearer(key["key"])) as stream:
        create_configuration(admin, application["id"], "before", {"v": 1})
        assert stream.next().data["name"] == "before"

        revoked = admin.post(f"/api/v1/keys/{key['id']}/revoke")
        assert revoked.status_code == 200
        create_configuration(admin, application["id"], "after", {"v": 2})

        assert stream.ended()  # without the change made after the revocation


def test_a_long_poll_whose_key_is_revoked_while_waiting_gets_401(admin: httpx.Client) -> None:
    application = create_application(admin)
    configuration = create_configuration(admin, application["id"], "prod", {"v": 1})
    key = new_key(admin, "read", [application["id"]])
    answers: list[httpx.Response] = []

    def poll() -> None:
        answers.append(
            httpx.get(
                f"{admin.base_url}/api/v1/values/{application['name']}/prod",
                headers={**bearer(key["key"]), "If-None-Match": '"1"', "Prefer": "wait=20"},
                timeout=30,
            )
        )

    waiter = threading.Thread(target=poll)
    waiter.start()
    admin.post(f"/api/v1/keys/{key['id']}/revoke").raise_for_status()
    put_config(admin, configuration["id"], {"v": 2})  # wakes the poll, if it is waiting
    waiter.join()

    problem = assert_problem(answers[0], 401)
    assert problem["detail"] == f"the API key {key['prefix']} is revoked"


def test_a_scoped_key_may_change_comments_but_not_names(admin: httpx.Client) -> None:
    mine = create_application(admin)
    other = create_application(admin)
    scoped = bearer(new_key(admin, "write", [mine["id"]])["key"])
    everywhere = bearer(new_key(admin, "write", None)["key"])
    url = f"{admin.base_url}/api/v1/applications/{mine['id']}"

    taken = httpx.put(url, json={"name": other["name"]}, headers=scoped)
    free = httpx.put(url, json={"name": unique_name(), "comments": "x"}, headers=scoped)
    comments = httpx.put(url, json={"comments": "ours"}, headers=scoped)
    conflict = httpx.put(url, json={"name": other["name"]}, headers=everywhere)
    renamed = httpx.put(url, json={"name": unique_name("renamed")}, headers=everywhere)

    for refused in (taken, free):
        problem = assert_problem(refused, 403)
        assert problem["detail"] == RENAME_RULE
        assert other["name"] not in refused.text
    assert comments.status_code == 200, comments.text
    assert comments.json()["comments"] == "ours"
    assert comments.json()["name"] == mine["name"]
    assert comments.json()["revision"] == 2  # the refused writes changed nothing
    assert_problem(conflict, 409)
    assert renamed.status_code == 200, renamed.text


def plain_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """assert_problem without its `instance` check (here `instance` differs from the path)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    return problem


def test_problem_bodies_never_echo_a_key(admin: httpx.Client) -> None:
    application = create_application(admin)
    secret = secrets.token_urlsafe(32)
    canary = f"cs_abcdefgh_{secret}"

    by_id = admin.get(f"/api/v1/applications/{canary}")
    by_name = admin.get(f"/api/v1/values/{application['name']}/{canary}")

    problem = plain_problem(by_id, 422)
    assert problem["instance"] == "/api/v1/applications/cs_abcdefgh_***"
    assert problem["errors"][0]["field"] == "application_id"
    problem = plain_problem(by_name, 404)
    assert problem["instance"] == f"/api/v1/values/{application['name']}/cs_abcdefgh_***"
    assert "cs_abcdefgh_***" in problem["detail"]
    for response in (by_id, by_name):
        assert secret not in response.text
        assert secret[:12] not in response.text


def test_a_key_cannot_be_created_expired(admin: httpx.Client) -> None:
    for expires_at in ("2000-01-01T00:00:00Z", "2001-01-01T00:00:00+02:00"):
        response = admin.post(
            "/api/v1/keys", json={"name": "late", "role": "read", "expires_at": expires_at}
        )

        problem = assert_problem(response, 422)
        assert problem["errors"] == [
            {
                "location": "body",
                "field": "expires_at",
                "rule": "future_datetime",
                "message": "expires_at must be in the future: a key that has already expired "
                "works nowhere",
            }
        ]
    later = admin.post(
        "/api/v1/keys", json={"name": "fine", "role": "read", "expires_at": "2999-01-01T00:00:00Z"}
    )
    assert later.status_code == 201, later.text
