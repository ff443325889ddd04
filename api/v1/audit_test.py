"""The audit log: a record for every kind of change, in the change's own transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import psycopg2
import pytest

from api.v1.applications_test import assert_problem, unique_name
from conftest import LiveServer, make_settings
from database.migration_runner import MigrationRunner
from database.pool import Database
from models.api_key import Role
from testing.api_keys import bearer, create_api_key
from testing.databases import temporary_database
from testing.live_server import run_live_server

CANARY_VALUE = "canary-value-9d41"  # a configuration value that must not reach the audit log
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def records(client: httpx.Client, **filters: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/audit", params={"limit": 100, **filters})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def brief(record: dict[str, Any]) -> tuple[Any, ...]:
    return (
        record["action"],
        record["target_type"],
        record["revision_before"],
        record["revision_after"],
    )


def test_every_kind_of_change_is_recorded_newest_first(
    client: httpx.Client, live_server: LiveServer, database: Database
) -> None:
    app = client.post("/api/v1/applications", json={"name": unique_name()}).json()
    app_id = app["id"]
    client.put(f"/api/v1/applications/{app_id}", json={"comments": "x"}).raise_for_status()
    created = client.post(
        "/api/v1/configurations",
        json={"application_id": app_id, "name": "p", "config": {"secret": CANARY_VALUE}},
        headers={"X-Request-ID": "audit-create-1"},
    ).json()
    cfg = created["id"]
    client.put(f"/api/v1/configurations/{cfg}", json={"config": {"a": 1}}).raise_for_status()
    client.patch(
        f"/api/v1/configurations/{cfg}", json={"config": {"b": 2}}, headers=MERGE_PATCH
    ).raise_for_status()
    client.post(f"/api/v1/configurations/{cfg}/revisions/1/restore").raise_for_status()
    client.delete(f"/api/v1/configurations/{cfg}").raise_for_status()
    client.delete(f"/api/v1/applications/{app_id}").raise_for_status()

    found = records(client, application_id=app_id)

    assert [brief(record) for record in found] == [
        ("application.deleted", "application", 2, None),
        ("configuration.deleted", "configuration", 4, None),
        ("configuration.restored", "configuration", 3, 4),
        ("configuration.patched", "configuration", 2, 3),
        ("configuration.updated", "configuration", 1, 2),
        ("configuration.created", "configuration", None, 1),
        ("application.updated", "application", 1, 2),
        ("application.created", "application", None, 1),
    ]
    assert [record["id"] for record in found] == sorted(
        (record["id"] for record in found), reverse=True
    )
    creation = found[5]
    keys = client.get("/api/v1/keys", params={"limit": 1000}).json()
    sent = str(live_server.admin_key)
    server_key = next(key for key in keys if sent.startswith(f"cs_{key['prefix']}_"))
    assert creation["target_id"] == cfg
    assert creation["configuration_id"] == cfg
    assert creation["application_id"] == app_id
    assert creation["request_id"] == "audit-create-1"
    assert creation["client_address"] == "127.0.0.1"
    assert (creation["key_id"], creation["key_name"]) == (server_key["id"], server_key["name"])
    with database.transaction() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM audit_log WHERE audit_log::text LIKE %(v)s",
            {"v": f"%{CANARY_VALUE}%"},
        )
        row = cursor.fetchone()
    assert row == (0,)


def test_key_changes_are_recorded(client: httpx.Client) -> None:
    key = client.post("/api/v1/keys", json={"name": "audited", "role": "read"}).json()
    client.post(f"/api/v1/keys/{key['id']}/revoke").raise_for_status()
    client.post(f"/api/v1/keys/{key['id']}/revoke").raise_for_status()  # no change: no record

    found = [r for r in records(client, action="key.created") if r["target_id"] == key["id"]]
    revoked = [r for r in records(client, action="key.revoked") if r["target_id"] == key["id"]]

    assert [brief(record) for record in found] == [("key.created", "key", None, None)]
    assert [brief(record) for record in revoked] == [("key.revoked", "key", None, None)]
    assert found[0]["application_id"] is None


def test_filters_and_pages(client: httpx.Client) -> None:
    app_id = client.post("/api/v1/applications", json={"name": unique_name()}).json()["id"]
    for comments in ("one", "two", "three"):
        client.put(f"/api/v1/applications/{app_id}", json={"comments": comments})
    everything = records(client, application_id=app_id)

    first = client.get("/api/v1/audit", params={"application_id": app_id, "limit": 2})
    second = httpx.get(first.links["next"]["url"], headers=dict(client.headers))
    since = records(client, application_id=app_id, since=everything[1]["at"])
    until = records(client, application_id=app_id, until=everything[2]["at"])
    updates = records(client, application_id=app_id, action="application.updated")

    assert len(everything) == 4
    assert first.json() + second.json() == everything
    assert "link" not in second.headers
    assert since == everything[:2]
    assert until == everything[3:]
    assert updates == everything[:3]


def test_a_write_key_sees_its_applications_records_and_a_read_key_none(
    client: httpx.Client, database_url: str, live_server: LiveServer
) -> None:
    mine = client.post("/api/v1/applications", json={"name": unique_name()}).json()["id"]
    client.post("/api/v1/applications", json={"name": unique_name()}).raise_for_status()
    settings = make_settings(database_url)
    writer = create_api_key(settings, role=Role.WRITE, applications=[mine]).key
    reader = create_api_key(settings, role=Role.READ, applications=[mine]).key

    seen = httpx.get(
        f"{live_server.url}/api/v1/audit", params={"limit": 1000}, headers=bearer(writer)
    )
    refused = httpx.get(f"{live_server.url}/api/v1/audit", headers=bearer(reader))

    assert {record["application_id"] for record in seen.json()} == {mine}
    assert_problem(refused, 403)


@pytest.fixture
def fragile_database(server_url: str) -> Iterator[str]:
    with temporary_database(server_url) as url:
        MigrationRunner(url).up()
        yield url


def test_a_change_whose_record_cannot_be_written_is_not_made(fragile_database: str) -> None:
    with (
        run_live_server(make_settings(fragile_database)) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        app_id = http.post("/api/v1/applications", json={"name": "a"}).json()["id"]
        cfg = http.post(
            "/api/v1/configurations",
            json={"application_id": app_id, "name": "p", "config": {"v": 1}},
        ).json()["id"]
        connection = psycopg2.connect(fragile_database)
        with connection, connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE audit_log ADD CONSTRAINT refuse_updates "
                "CHECK (action <> 'configuration.updated')"
            )
        connection.close()

        refused = http.put(f"/api/v1/configurations/{cfg}", json={"config": {"v": 2}})
        current = http.get(f"/api/v1/configurations/{cfg}", headers={"Cache-Control": "no-cache"})
        history = http.get(f"/api/v1/configurations/{cfg}/revisions")

    assert refused.status_code == 409, refused.text  # the CHECK violation, as any other
    assert current.json()["revision"] == 1
    assert current.json()["config"] == {"v": 1}
    assert [revision["revision"] for revision in history.json()] == [1]


def test_records_are_never_changed_or_deleted(database: Database, client: httpx.Client) -> None:
    client.post("/api/v1/applications", json={"name": unique_name()}).raise_for_status()
    with (
        pytest.raises(psycopg2.errors.RaiseException, match="never changed or deleted"),
        database.transaction() as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_log SET key_name = 'someone else'")
    with (
        pytest.raises(psycopg2.errors.RaiseException, match="never changed or deleted"),
        database.transaction() as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_log")
