"""Secrets over the API: marked, encrypted at rest, masked for every caller that may not reveal
them, revealed (and audited) for those that may, and kept safe through round trips."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg2
import pytest

from conftest import LiveServer, LiveServerFactory, make_settings
from models.api_key import Role
from testing.api_keys import bearer, create_api_key

PLACEHOLDER = "********"
PASSWORD = "hunter2-canary-pw"
TOKEN = "t0ken-canary-9f2c"
MERGE_PATCH = {"content-type": "application/merge-patch+json"}


@dataclass(frozen=True)
class Callers:
    """Clients of one server, each with its own key."""

    admin: httpx.Client  # admin, may not reveal
    revealer: httpx.Client  # admin that may reveal
    reader: httpx.Client  # read, may not reveal
    revealing_reader: httpx.Client  # read, may reveal
    revealing_reader_id: str
    database_url: str


@pytest.fixture(scope="module")
def server(database_url: str, live_server_factory: LiveServerFactory) -> Iterator[LiveServer]:
    with live_server_factory(make_settings(database_url)) as started:
        yield started


@pytest.fixture(scope="module")
def callers(server: LiveServer, database_url: str) -> Iterator[Callers]:
    settings = make_settings(database_url)

    def client(role: Role, *, reveal: bool) -> tuple[httpx.Client, str]:
        key = create_api_key(settings, role=role, name=f"{role}-{reveal}", reveal_secrets=reveal)
        return httpx.Client(base_url=server.url, headers=bearer(key.key), timeout=30), key.id

    admin, _ = client(Role.ADMIN, reveal=False)
    revealer, _ = client(Role.ADMIN, reveal=True)
    reader, _ = client(Role.READ, reveal=False)
    revealing_reader, revealing_reader_id = client(Role.READ, reveal=True)
    yield Callers(admin, revealer, reader, revealing_reader, revealing_reader_id, database_url)
    for http in (admin, revealer, reader, revealing_reader):
        http.close()


def new_application(http: httpx.Client) -> str:
    response = http.post("/api/v1/applications", json={"name": f"app-{uuid.uuid4().hex[:12]}"})
    assert response.status_code == 201, response.text
    identifier: str = response.json()["id"]
    return identifier


CONFIG: dict[str, Any] = {
    "database": {"host": "db.internal", "password": PASSWORD},
    "credentials": {"user": "svc", "token": TOKEN},
    "pool_size": 20,
}
SECRETS = ["/database/password", "/credentials"]
MASKED: dict[str, Any] = {
    "database": {"host": "db.internal", "password": PLACEHOLDER},
    "credentials": PLACEHOLDER,
    "pool_size": 20,
}


def create(
    callers: Callers, *, config: dict[str, Any] | None = None, secrets: list[str] | None = None
) -> dict[str, Any]:
    response = callers.admin.post(
        "/api/v1/configurations",
        json={
            "application_id": new_application(callers.admin),
            "name": "production",
            "config": CONFIG if config is None else config,
            "secrets": SECRETS if secrets is None else secrets,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def stored(database_url: str, configuration_id: str) -> list[tuple[int, str, list[str]]]:
    """(revision, config as stored text, secrets) of the current row (revision 0) and every
    revision, as PostgreSQL holds them."""
    connection = psycopg2.connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 0, config::text, secrets FROM configurations WHERE id = %(id)s "
                "UNION ALL SELECT revision, config::text, secrets FROM configuration_revisions "
                "WHERE configuration_id = %(id)s ORDER BY 1",
                {"id": configuration_id},
            )
            return list(cursor.fetchall())
    finally:
        connection.close()


def test_a_created_secret_is_masked_for_its_writer_and_sealed_at_rest(callers: Callers) -> None:
    created = create(callers)

    assert created["config"] == MASKED
    assert created["secrets"] == SECRETS
    rows = stored(callers.database_url, created["id"])
    assert [(revision, secrets) for revision, _, secrets in rows] == [(0, SECRETS), (1, SECRETS)]
    for _, text, _ in rows:
        document = json.loads(text)
        assert PASSWORD not in text
        assert TOKEN not in text
        assert document["database"]["password"].startswith("cs-secret:v1:t1:")
        assert document["credentials"].startswith("cs-secret:v1:t1:")
        assert document["database"]["host"] == "db.internal"


def test_who_sees_what_on_a_read_by_id(callers: Callers) -> None:
    created = create(callers)
    url = f"/api/v1/configurations/{created['id']}"

    masked = callers.admin.get(url)
    plain = callers.revealer.get(url)
    masked_reader = callers.reader.get(url)
    plain_reader = callers.revealing_reader.get(url)

    assert [response.status_code for response in (masked, plain, masked_reader, plain_reader)] == [
        200
    ] * 4
    assert masked.json()["config"] == MASKED
    assert masked_reader.json()["config"] == MASKED
    assert plain.json()["config"] == CONFIG
    assert plain_reader.json()["config"] == CONFIG
    assert (masked.headers["etag"], plain.headers["etag"]) == ('"1"', '"1-revealed"')
    assert "cache-control" not in masked.headers
    assert plain.headers["cache-control"] == "private, no-store"


def test_who_sees_what_by_name(callers: Callers) -> None:
    created = create(callers)
    application = callers.admin.get(f"/api/v1/applications/{created['application_id']}").json()
    url = f"/api/v1/values/{application['name']}/production"

    masked = callers.reader.get(url)
    plain = callers.revealing_reader.get(url)

    assert (masked.status_code, masked.json()) == (200, MASKED)
    assert (plain.status_code, plain.json()) == (200, CONFIG)
    assert (masked.headers["etag"], plain.headers["etag"]) == ('"1"', '"1-revealed"')
    assert plain.headers["cache-control"] == "private, no-store"


def test_the_two_representations_never_revalidate_each_other(callers: Callers) -> None:
    created = create(callers)
    url = f"/api/v1/configurations/{created['id']}"

    def status(http: httpx.Client, etag: str) -> tuple[int, str]:
        response = http.get(url, headers={"if-none-match": etag})
        return response.status_code, response.headers["etag"]

    assert status(callers.reader, '"1"') == (304, '"1"')
    assert status(callers.reader, '"1-revealed"') == (200, '"1"')
    assert status(callers.revealing_reader, '"1-revealed"') == (304, '"1-revealed"')
    assert status(callers.revealing_reader, '"1"') == (200, '"1-revealed"')


@pytest.mark.parametrize("etag", ['"1"', '"1-revealed"'])
def test_if_match_accepts_either_representations_etag(callers: Callers, etag: str) -> None:
    created = create(callers)

    response = callers.revealer.patch(
        f"/api/v1/configurations/{created['id']}",
        content=json.dumps({"config": {"pool_size": 30}}),
        headers={**MERGE_PATCH, "if-match": etag},
    )
    stale = callers.revealer.patch(
        f"/api/v1/configurations/{created['id']}",
        content=json.dumps({"config": {"pool_size": 40}}),
        headers={**MERGE_PATCH, "if-match": etag},
    )

    assert response.status_code == 200, response.text
    # A write's answer is masked for every caller, the revealing one too.
    assert response.headers["etag"] == '"2"'
    assert "cache-control" not in response.headers
    assert response.json()["config"] == {**MASKED, "pool_size": 30}
    assert stale.status_code == 412
    revealed = callers.revealer.get(f"/api/v1/configurations/{created['id']}")
    assert revealed.json()["config"] == {**CONFIG, "pool_size": 30}


def test_a_masked_document_written_back_keeps_its_secrets(callers: Callers) -> None:
    created = create(callers)
    url = f"/api/v1/configurations/{created['id']}"
    masked = callers.admin.get(url).json()

    put = callers.admin.put(url, json={"config": {**masked["config"], "pool_size": 25}})
    patched = callers.admin.patch(
        url, content=json.dumps({"config": masked["config"]}), headers=MERGE_PATCH
    )

    assert put.status_code == 200, put.text
    assert put.json()["config"] == {**MASKED, "pool_size": 25}
    assert patched.status_code == 200
    assert patched.json()["revision"] == 3  # the pool size went back to 20: a change
    assert callers.revealer.get(url).json()["config"] == CONFIG
    for _, text, _ in stored(callers.database_url, created["id"]):
        assert PLACEHOLDER not in text


def test_an_unchanged_masked_write_makes_no_revision(callers: Callers) -> None:
    created = create(callers)
    url = f"/api/v1/configurations/{created['id']}"

    response = callers.admin.put(url, json={"config": MASKED, "secrets": SECRETS})

    assert (response.status_code, response.json()["revision"]) == (200, 1)
    assert len(stored(callers.database_url, created["id"])) == 2


def test_a_new_value_replaces_a_secret(callers: Callers) -> None:
    created = create(callers)
    url = f"/api/v1/configurations/{created['id']}"

    response = callers.admin.patch(
        url,
        content=json.dumps({"config": {"database": {"password": "rotated-canary"}}}),
        headers=MERGE_PATCH,
    )

    assert response.status_code == 200
    assert response.json()["config"] == MASKED
    revealed = callers.revealer.get(url).json()["config"]
    assert revealed["database"]["password"] == "rotated-canary"
    assert revealed["credentials"] == CONFIG["credentials"]


def test_marking_and_unmarking_are_changes(callers: Callers) -> None:
    created = create(callers, secrets=[])
    url = f"/api/v1/configurations/{created['id']}"
    assert created["config"] == CONFIG  # nothing secret yet

    marked = callers.admin.patch(
        url, content=json.dumps({"secrets": ["/database/password"]}), headers=MERGE_PATCH
    )
    # Unmarking shows the value to everyone: a key that may reveal it does it.
    unmarked = callers.revealer.patch(
        url, content=json.dumps({"secrets": None}), headers=MERGE_PATCH
    )

    assert (marked.status_code, marked.json()["revision"]) == (200, 2)
    assert marked.json()["config"]["database"]["password"] == PLACEHOLDER
    assert (unmarked.status_code, unmarked.json()["revision"]) == (200, 3)
    assert unmarked.json()["secrets"] == []
    assert unmarked.json()["config"] == CONFIG
    rows = stored(callers.database_url, created["id"])
    assert [PASSWORD in text for _, text, _ in rows] == [True, True, False, True]


@pytest.mark.parametrize(
    ("method", "body", "shown"),
    [
        ("PATCH", {"secrets": None}, ["/credentials", "/database/password"]),
        ("PATCH", {"secrets": ["/credentials"]}, ["/database/password"]),
        ("PUT", {"secrets": []}, ["/credentials", "/database/password"]),
        # Narrowed to a part of the value: the rest of it would show.
        ("PUT", {"secrets": ["/database/password", "/credentials/user"]}, ["/credentials"]),
        # A merge patch keeps what it does not name: the token would show.
        (
            "PATCH",
            {"config": {"credentials": {"user": "other"}}, "secrets": ["/database/password"]},
            ["/credentials"],
        ),
        # Moved by a merge patch to where it is no secret.
        (
            "PATCH",
            {"config": {"database": {"password": None}}, "secrets": ["/credentials"]},
            [],
        ),
    ],
)
def test_a_caller_that_may_not_reveal_cannot_unmark_a_secret_whose_value_stays(
    callers: Callers, method: str, body: dict[str, Any], shown: list[str]
) -> None:
    created = create(callers)
    url = f"/api/v1/configurations/{created['id']}"
    headers = MERGE_PATCH if method == "PATCH" else {"content-type": "application/json"}

    response = callers.admin.request(method, url, content=json.dumps(body), headers=headers)

    if not shown:
        assert response.status_code == 200, response.text
        assert "canary" not in response.text
        return
    assert response.status_code == 403, response.text
    assert "canary" not in response.text
    problem = response.json()
    assert problem["type"] == "urn:config-service:problem:secret-would-show"
    assert [(error["rule"], error["pointer"]) for error in problem["errors"]] == [
        ("secret_reveal_needed", "/config" + location) for location in shown
    ]
    read = callers.reader.get(url).json()
    assert (read["revision"], read["config"], read["secrets"]) == (1, MASKED, SECRETS)
    allowed = callers.revealer.request(method, url, content=json.dumps(body), headers=headers)
    assert allowed.status_code == 200, allowed.text


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("PUT", {"config": {"database": {"password": "public"}, "pool_size": 1}, "secrets": []}),
        ("PATCH", {"config": {"database": None, "credentials": None}, "secrets": []}),
        ("PATCH", {"config": {"database": {"password": "new"}, "credentials": 1}, "secrets": []}),
    ],
)
def test_a_caller_that_may_not_reveal_may_unmark_a_value_it_replaces(
    callers: Callers, method: str, body: dict[str, Any]
) -> None:
    created = create(callers)
    url = f"/api/v1/configurations/{created['id']}"
    headers = MERGE_PATCH if method == "PATCH" else {"content-type": "application/json"}

    response = callers.admin.request(method, url, content=json.dumps(body), headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["secrets"] == []
    assert "canary" not in response.text
    assert "canary" not in callers.reader.get(url).text


def test_a_restore_brings_back_the_old_secret_values(callers: Callers) -> None:
    created = create(callers)
    url = f"/api/v1/configurations/{created['id']}"
    callers.admin.put(url, json={"config": {"pool_size": 1, "other": "x"}, "secrets": ["/other"]})

    restored = callers.admin.post(f"{url}/revisions/1/restore")
    revealed = callers.revealer.get(url)

    assert restored.status_code == 200, restored.text
    assert restored.json()["config"] == MASKED
    assert restored.json()["secrets"] == SECRETS
    assert (revealed.json()["revision"], revealed.json()["config"]) == (3, CONFIG)


def test_revisions_and_lists_are_masked_or_revealed(callers: Callers) -> None:
    created = create(callers)
    url = f"/api/v1/configurations/{created['id']}"
    listed = f"/api/v1/applications/{created['application_id']}/configurations"

    assert callers.reader.get(f"{url}/revisions").json()[0]["config"] == MASKED
    assert callers.revealing_reader.get(f"{url}/revisions").json()[0]["config"] == CONFIG
    masked_one = callers.reader.get(f"{url}/revisions/1")
    plain_one = callers.revealing_reader.get(f"{url}/revisions/1")
    assert (masked_one.json()["config"], masked_one.headers["etag"]) == (MASKED, '"1"')
    assert (plain_one.json()["config"], plain_one.headers["etag"]) == (CONFIG, '"1-revealed"')
    assert plain_one.headers["cache-control"] == "private, no-store"
    assert callers.reader.get(listed).json()[0]["config"] == MASKED
    assert callers.revealing_reader.get(listed).json()[0]["config"] == CONFIG
    # A page that shows values is no more for a shared cache than one configuration.
    for page in (listed, f"{url}/revisions"):
        assert "cache-control" not in callers.reader.get(page).headers
        assert callers.revealing_reader.get(page).headers["cache-control"] == "private, no-store"


def test_a_diff_says_a_secret_changed_never_from_what_to_what(callers: Callers) -> None:
    created = create(callers)
    url = f"/api/v1/configurations/{created['id']}"
    callers.admin.patch(
        url,
        content=json.dumps({"config": {"database": {"password": "next-canary"}, "pool_size": 5}}),
        headers=MERGE_PATCH,
    )

    for http in (callers.reader, callers.revealing_reader):
        response = http.get(f"{url}/diff", params={"from": 1, "to": 2})
        assert response.status_code == 200
        assert sorted(response.json(), key=lambda operation: operation["path"]) == [
            {"op": "replace", "path": "/database/password", "value": PLACEHOLDER},
            {"op": "replace", "path": "/pool_size", "value": 5},
        ]
        assert "canary" not in response.text


def test_older_revisions_by_name(callers: Callers) -> None:
    created = create(callers)
    application = callers.admin.get(f"/api/v1/applications/{created['application_id']}").json()
    callers.admin.put(
        f"/api/v1/configurations/{created['id']}", json={"config": {"a": 1}, "secrets": []}
    )
    url = f"/api/v1/values/{application['name']}/production?revision=1"

    masked = callers.reader.get(url)
    plain = callers.revealing_reader.get(url)
    again = callers.revealing_reader.get(url, headers={"if-none-match": '"1-revealed"'})

    assert (masked.json(), masked.headers["etag"]) == (MASKED, '"1"')
    assert (plain.json(), plain.headers["etag"]) == (CONFIG, '"1-revealed"')
    assert plain.headers["cache-control"] == "private, no-store"
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("secrets", "field", "rule"),
    [
        (["/database/passwd"], "secrets.0", "secret_location_exists"),
        (["database"], "secrets.0", "json_pointer"),
        ([""], "secrets.0", "secret_location_root"),
        (["/credentials", "/credentials/token"], "secrets.1", "secret_location_overlap"),
        (["/credentials", "/credentials"], "secrets.1", "secret_location_unique"),
        ([f"/k{index}" for index in range(257)], "secrets", "too_long"),
    ],
)
def test_a_bad_secrets_list_is_a_422_naming_it(
    callers: Callers, secrets: list[str], field: str, rule: str
) -> None:
    response = callers.admin.post(
        "/api/v1/configurations",
        json={
            "application_id": new_application(callers.admin),
            "name": "x",
            "config": CONFIG,
            "secrets": secrets,
        },
    )

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(error["field"], error["rule"]) for error in errors][:1] == [(field, rule)]
    assert "canary" not in response.text


def test_a_placeholder_with_nothing_to_keep_is_refused(callers: Callers) -> None:
    response = callers.admin.post(
        "/api/v1/configurations",
        json={
            "application_id": new_application(callers.admin),
            "name": "copied",
            "config": MASKED,
            "secrets": SECRETS,
        },
    )

    assert response.status_code == 422
    assert [(error["pointer"], error["rule"]) for error in response.json()["errors"]] == [
        ("/config/database/password", "secret_placeholder_without_value"),
        ("/config/credentials", "secret_placeholder_without_value"),
    ]


@pytest.mark.parametrize("caller", ["admin", "revealer"])
def test_a_placeholder_at_a_location_being_unmarked_is_refused(
    callers: Callers, caller: str
) -> None:
    """Else "********" would be stored as the plain value and the secret lost without a word."""
    created = create(callers)
    url = f"/api/v1/configurations/{created['id']}"
    body = {"config": MASKED, "secrets": ["/credentials"]}

    response = getattr(callers, caller).put(url, json=body)

    assert response.status_code == 422, response.text
    assert [(error["pointer"], error["rule"]) for error in response.json()["errors"]] == [
        ("/config/database/password", "secret_placeholder_unmarked"),
    ]
    assert "canary" not in response.text
    rows = stored(callers.database_url, created["id"])
    assert [(revision, secrets) for revision, _, secrets in rows] == [(0, SECRETS), (1, SECRETS)]


def test_schema_errors_on_a_secret_name_its_place_not_its_value(callers: Callers) -> None:
    created = create(callers)
    schema = {
        "type": "object",
        "properties": {
            "database": {
                "type": "object",
                "properties": {"password": {"type": "string", "minLength": 40}},
            },
            "credentials": {"type": "object", "properties": {"token": {"pattern": "^x"}}},
        },
    }

    response = callers.admin.put(f"/api/v1/configurations/{created['id']}", json={"schema": schema})

    assert response.status_code == 422
    assert "canary" not in response.text
    assert [(error["pointer"], error["rule"]) for error in response.json()["errors"]] == [
        ("/config/credentials", "json_schema"),
        ("/config/database/password", "json_schema"),
    ]
    assert response.json()["errors"][1]["message"] == (
        "the secret value breaks the schema rule "
        "/properties/database/properties/password/minLength (it is not shown)"
    )


def test_schema_rules_see_the_plain_value(callers: Callers) -> None:
    created = create(callers)
    schema = {
        "properties": {"database": {"properties": {"password": {"pattern": "^hunter2-"}}}},
    }

    response = callers.admin.put(f"/api/v1/configurations/{created['id']}", json={"schema": schema})

    assert response.status_code == 200, response.text


def test_reveals_are_audited_once_per_caller_and_revision(callers: Callers) -> None:
    created = create(callers)
    url = f"/api/v1/configurations/{created['id']}"

    for _ in range(3):
        callers.revealing_reader.get(url)
        callers.revealing_reader.get(f"{url}/revisions/1")
    callers.reader.get(url)  # masked: not a reveal
    callers.admin.patch(url, content=json.dumps({"config": {"pool_size": 2}}), headers=MERGE_PATCH)
    callers.revealing_reader.get(url, headers={"cache-control": "no-cache"})

    records = callers.admin.get(
        "/api/v1/audit",
        params={"configuration_id": created["id"], "action": "configuration.revealed"},
    ).json()
    assert [
        (record["key_id"], record["revision_after"], record["target_id"]) for record in records
    ] == [
        (callers.revealing_reader_id, 2, created["id"]),
        (callers.revealing_reader_id, 1, created["id"]),
    ]
    assert "canary" not in json.dumps(records)


def test_keys_carry_reveal_secrets(callers: Callers) -> None:
    made = callers.admin.post(
        "/api/v1/keys", json={"name": "deployer", "role": "read", "reveal_secrets": True}
    )
    plain = callers.admin.post("/api/v1/keys", json={"name": "dashboard", "role": "read"})

    assert (made.status_code, made.json()["reveal_secrets"]) == (201, True)
    assert plain.json()["reveal_secrets"] is False
    listed = callers.admin.get(f"/api/v1/keys/{made.json()['id']}").json()
    assert listed["reveal_secrets"] is True
    wrong = callers.admin.post(
        "/api/v1/keys", json={"name": "x", "role": "read", "reveal_secrets": "yes"}
    )
    assert (wrong.status_code, wrong.json()["errors"][0]["field"]) == (422, "reveal_secrets")


def test_a_long_poll_answers_each_caller_its_own_representation(callers: Callers) -> None:
    created = create(callers)
    url = f"/api/v1/configurations/{created['id']}"
    waiting = {"prefer": "wait=1"}

    masked = callers.reader.get(url, headers={**waiting, "if-none-match": '"1-revealed"'})
    plain = callers.revealing_reader.get(url, headers={**waiting, "if-none-match": '"1"'})
    held = callers.revealing_reader.get(url, headers={**waiting, "if-none-match": '"1-revealed"'})

    assert (masked.status_code, masked.json()["config"]) == (200, MASKED)
    assert (plain.status_code, plain.json()["config"]) == (200, CONFIG)
    assert (held.status_code, held.headers["etag"]) == (304, '"1-revealed"')
