"""A read by names answers only with a configuration of an application the caller reaches, even
when the names come to point at another application's configuration between the authorization
check and the read (a rename, or a long poll's re-read after it woke). PostgreSQL makes the
moment: the read waits on a lock while the names change under it."""

from __future__ import annotations

import threading

import httpx
import psycopg2
import pytest

from api.auth.identity_tokens_test import as_token, bind
from api.v1.applications_test import unique_name
from api.v1.values_test import later
from conftest import LiveServer, admin_client
from models.api_key import Role
from testing.api_keys import bearer, create_api_key
from testing.databases import wait_for_lock_waiters
from testing.oidc_issuer import OidcIssuer
from testing.seeding import put_config


@pytest.mark.parametrize("query", ["", "?revision=1"])
def test_a_read_by_names_never_answers_with_another_applications_configuration(
    checked_server: LiveServer, query: str
) -> None:
    settings = checked_server.app.state.settings
    alpha, beta = unique_name("alpha"), unique_name("beta")
    with admin_client(checked_server) as admin:
        a = admin.post("/api/v1/applications", json={"name": alpha}).json()
        b = admin.post("/api/v1/applications", json={"name": beta}).json()
        for application, value in ((a, "alpha's"), (b, "beta's")):
            created = admin.post(
                "/api/v1/configurations",
                json={"application_id": application["id"], "name": "prod", "config": {"v": value}},
            )
            assert created.status_code == 201, created.text
    reader = create_api_key(settings, role=Role.READ, applications=[a["id"]]).key
    path = f"{checked_server.url}/api/v1/values/{alpha}/prod{query}"
    assert httpx.get(path, headers=bearer(reader)).json() == {"v": "alpha's"}

    answers: list[httpx.Response] = []

    def read() -> None:
        headers = {**bearer(reader), "Cache-Control": "no-cache"}  # the read asks PostgreSQL
        answers.append(httpx.get(path, headers=headers, timeout=30))

    database_url = settings.database_url.get_secret_value()
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        # The check (which reads applications only) passes; the read waits on the lock, and
        # once it has it sees beta's configuration under alpha's name.
        cursor.execute("LOCK TABLE configurations IN ACCESS EXCLUSIVE MODE")
        thread = threading.Thread(target=read)
        thread.start()
        wait_for_lock_waiters(database_url, 1)  # within DATABASE_LOCK_TIMEOUT_MS
        cursor.execute(
            "UPDATE applications SET name = %(old)s WHERE id = %(a)s",
            {"old": alpha + "-old", "a": a["id"]},
        )
        cursor.execute(
            "UPDATE applications SET name = %(alpha)s WHERE id = %(b)s",
            {"alpha": alpha, "b": b["id"]},
        )
    thread.join()

    (answer,) = answers
    assert answer.status_code == 404, answer.text
    assert "beta's" not in answer.text


@pytest.mark.parametrize("route", ["by_id", "by_names"])
def test_a_long_poll_answers_nothing_of_an_application_its_identity_lost_meanwhile(
    identity_admin: httpx.Client,
    identity_server: LiveServer,
    oidc_issuer: OidcIssuer,
    route: str,
) -> None:
    a = identity_admin.post("/api/v1/applications", json={"name": unique_name("a")}).json()
    b = identity_admin.post("/api/v1/applications", json={"name": unique_name("b")}).json()
    configuration = identity_admin.post(
        "/api/v1/configurations",
        json={"application_id": a["id"], "name": "prod", "config": {"v": 1}},
    ).json()
    subject = unique_name("ci")
    on_a = bind(identity_admin, oidc_issuer, {"sub": subject}, applications=[a["id"]])
    bind(identity_admin, oidc_issuer, {"sub": subject}, applications=[b["id"]])
    path = (
        f"/api/v1/configurations/{configuration['id']}"
        if route == "by_id"
        else f"/api/v1/values/{a['name']}/prod"
    )
    token = as_token(oidc_issuer.token(oidc_issuer.claims(subject=subject)))

    def lose_a_then_change() -> None:
        identity_admin.delete(f"/api/v1/bindings/{on_a}").raise_for_status()
        put_config(identity_admin, configuration["id"], {"v": "after the binding went"})

    with httpx.Client(base_url=identity_server.url, headers=token, timeout=30) as client:
        assert client.get(path).status_code == 200
        thread = later(0.3, lose_a_then_change)
        answer = client.get(path, headers={"If-None-Match": '"1"', "Prefer": "wait=20"})
        thread.join()

    assert answer.status_code == 404, answer.text
    assert "after the binding went" not in answer.text
