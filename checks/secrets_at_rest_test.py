"""Secret values go nowhere in plain text: after writing, reading, updating, patching,
restoring and diffing secrets through the API, no table of the database, no log record and no
answer to a caller who may not reveal them holds any of their plain texts (nor their JSON-escaped
or base64 forms).

The database is read column by column as text (every value of every column of every table),
so that nothing a dump would show is missed and no quoting of a row literal hides a match.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterator

import httpx
import psycopg2
import pytest
from psycopg2 import sql

from conftest import LiveServerFactory, make_settings
from database.migration_runner import MigrationRunner
from models.api_key import Role
from testing.api_keys import bearer, create_api_key
from testing.secret_keys import secret_forms

PASSWORD = 'hunter2-canary "quoted" \\ back-ü-€'
USER = "svc-canary-user-4411"
PRIVATE_KEY = "-----BEGIN KEY-----canary-material-9f81c2"
NEW_PASSWORD = "rotated-canary-pw-7713"
SCHEMA_BREAKER = "short-canary"
ALL_SECRETS = [PASSWORD, USER, PRIVATE_KEY, NEW_PASSWORD, SCHEMA_BREAKER]
MERGE_PATCH = {"content-type": "application/merge-patch+json"}


def found_in(text: str) -> list[str]:
    return [form for secret in ALL_SECRETS for form in secret_forms(secret) if form in text]


def dump(database_url: str) -> str:
    """Every value of every column of every table in the database, as text."""
    connection = psycopg2.connect(database_url)
    lines: list[str] = []
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
            )
            columns = cursor.fetchall()
            for table, column in columns:
                cursor.execute(
                    sql.SQL("SELECT {}::text FROM {}").format(
                        sql.Identifier(column), sql.Identifier(table)
                    )
                )
                lines.extend(f"{table}.{column}: {value}" for (value,) in cursor.fetchall())
    finally:
        connection.close()
    return "\n".join(lines)


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    MigrationRunner(empty_database_url).up()
    return empty_database_url


class Recorder:
    """Every answer a client got, to look through afterwards."""

    def __init__(self) -> None:
        self.answers: list[httpx.Response] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        self.answers.append(response)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        json.dumps(record.__dict__, default=str, ensure_ascii=False) + record.getMessage()
        for record in caplog.records
    )


def test_no_plain_text_in_the_database_the_logs_or_masked_answers(
    database_url: str,
    live_server_factory: LiveServerFactory,
    logs: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(database_url)
    recorder = Recorder()
    revealer_key = create_api_key(settings, role=Role.READ, name="deployer", reveal_secrets=True)
    with live_server_factory(settings) as server:
        assert server.admin_key is not None
        masked = httpx.Client(
            base_url=server.url,
            headers=bearer(server.admin_key),
            event_hooks={"response": [recorder]},
            timeout=30,
        )
        revealer = httpx.Client(base_url=server.url, headers=bearer(revealer_key.key), timeout=30)
        application = masked.post(
            "/api/v1/applications", json={"name": f"app-{uuid.uuid4().hex[:8]}"}
        ).json()
        created = masked.post(
            "/api/v1/configurations",
            json={
                "application_id": application["id"],
                "name": "production",
                "config": {
                    "database": {"password": PASSWORD, "host": "db"},
                    "credentials": {"user": USER, "key": PRIVATE_KEY},
                },
                "secrets": ["/database/password", "/credentials"],
                "message": "first",
            },
        ).json()
        url = f"/api/v1/configurations/{created['id']}"
        names = f"/api/v1/values/{application['name']}/production"
        exercise(masked, revealer, url, names)
        masked.close()
        revealer.close()

    assert [
        response.status_code for response in recorder.answers if response.status_code >= 500
    ] == []
    for response in recorder.answers:
        assert found_in(response.text) == [], (response.request.url, response.text)
    logged = log_text(logs)
    assert "/revisions/1/restore" in logged  # the access lines were captured
    assert found_in(logged) == []
    stored = dump(database_url)
    assert found_in(stored) == []
    assert stored.count("cs-secret:v1:t1:") >= 10  # the values are there, sealed


def exercise(masked: httpx.Client, revealer: httpx.Client, url: str, names: str) -> None:
    """Every way in and out for secrets; `masked` may not reveal, `revealer` may."""
    read = masked.get(url).json()
    assert masked.put(url, json={"config": read["config"], "comments": "written back"}).is_success
    assert masked.patch(
        url,
        content=json.dumps({"config": {"database": {"password": NEW_PASSWORD}}}),
        headers=MERGE_PATCH,
    ).is_success
    assert masked.post(f"{url}/revisions/1/restore", json={"message": "back"}).is_success
    for source, target in ((1, 2), (2, 3), (3, 4), (1, 4)):
        assert masked.get(f"{url}/diff", params={"from": source, "to": target}).is_success
    for path in (url, f"{url}/revisions", f"{url}/revisions/3", names, f"{names}?revision=3"):
        assert masked.get(path).is_success
        assert revealer.get(path).is_success
    assert masked.get(url, headers={"if-none-match": '"4"', "prefer": "wait=1"}).status_code == 304
    failures = [
        # A schema the secret breaks: the problem names the place, not the value.
        masked.put(
            url,
            json={
                "schema": {
                    "properties": {"database": {"properties": {"password": {"maxLength": 3}}}}
                }
            },
        ),
        masked.put(
            url,
            json={
                "config": {"a": SCHEMA_BREAKER},
                "secrets": ["/a"],
                "schema": {"properties": {"a": {"minLength": 50}}},
            },
        ),
        masked.put(url, json={"config": {"a": SCHEMA_BREAKER}, "secrets": ["/b"]}),
        masked.post(
            "/api/v1/configurations",
            json={
                "application_id": read["application_id"],
                "name": "x",
                "config": read["config"],
                "secrets": ["/credentials"],
            },
        ),
        # Unmarking, or narrowing, would show the values: refused to a caller that may not
        # reveal them.
        masked.patch(url, content=json.dumps({"secrets": None}), headers=MERGE_PATCH),
        masked.put(url, json={"secrets": ["/database/password", "/credentials/key"]}),
    ]
    assert [response.status_code for response in failures] == [422] * 4 + [403] * 2
    assert revealer.get(url).json()["config"]["database"]["password"] == PASSWORD


def test_the_dump_and_the_search_find_a_plain_secret(database_url: str) -> None:
    """The check above can fail: a secret stored JSON-escaped, or base64-encoded inside other
    text, is found."""
    encoded = "x" + base64.b64encode(b"ab" + USER.encode()).decode()
    connection = psycopg2.connect(database_url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO applications (id, name, comments) "
                "VALUES ('01JQ3V6KX8Q7M4Z2W9R5T1N0BC', %(name)s, %(comments)s)",
                {"name": json.dumps({"p": PASSWORD}), "comments": encoded},
            )
    finally:
        connection.close()

    found = found_in(dump(database_url))

    assert json.dumps(PASSWORD)[1:-1] in found
    assert [form for form in found if form in encoded] != []
