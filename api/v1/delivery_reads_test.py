"""A read by names answers only with a configuration of an application the caller reaches, even
when the names come to point at another application's configuration between the authorization
check and the read (a rename, or a long poll's re-read after it woke). PostgreSQL makes the
moment: the read waits on a lock while the names change under it."""

from __future__ import annotations

import threading

import httpx
import psycopg2
import pytest

from api.v1.applications_test import unique_name
from conftest import LiveServer, admin_client
from models.api_key import Role
from testing.api_keys import bearer, create_api_key
from testing.databases import wait_for_lock_waiters


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
