"""`Client` against the real service: reads with revalidation, typed errors, writes, the disk
cache when the service is down, and credentials from a file that rotates."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import httpx
import pytest

from config_service_client import (
    Client,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ServiceUnreachable,
    Unauthorized,
    ValidationFailed,
)
from config_service_client.conftest import StoppedService, put, seed
from conftest import LiveServer, make_settings
from models.api_key import Role
from testing.api_keys import create_api_key


def test_get_returns_the_document_and_revalidates_with_its_etag(
    live_server: LiveServer, admin: httpx.Client, admin_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    seeded = seed(admin, {"database": {"pool_size": 20}})
    with Client(live_server.url, token=admin_key) as client:
        first = client.get(seeded.application, "production")
        with caplog.at_level(logging.INFO, logger="httpx"):
            again = client.get(seeded.application, "production")
        put(admin, seeded, {"database": {"pool_size": 40}})
        changed = client.get(seeded.application, "production")

    assert (first.value, first.revision, first.etag, first.stale) == (
        {"database": {"pool_size": 20}},
        1,
        '"1"',
        False,
    )
    assert [
        record.getMessage().endswith('"HTTP/1.1 304 Not Modified"') for record in caplog.records
    ] == [True]
    assert again.value is first.value  # a 304 costs no parse: the same object
    assert again.fetched_at >= first.fetched_at
    assert (changed.value, changed.revision, changed.stale) == (
        {"database": {"pool_size": 40}},
        2,
        False,
    )


def test_names_are_sent_as_names_whatever_they_hold(
    live_server: LiveServer, admin: httpx.Client, admin_key: str
) -> None:
    seeded = seed(admin, {"odd": True}, name="../eu west/ü?#%2F")
    with Client(live_server.url, token=admin_key) as client:
        assert client.get(seeded.application, "../eu west/ü?#%2F").value == {"odd": True}


def test_error_answers_are_typed(
    live_server: LiveServer, admin: httpx.Client, admin_key: str, database_url: str
) -> None:
    seeded = seed(admin, {"v": 1})
    reader = create_api_key(
        make_settings(database_url), role=Role.READ, applications=[seeded.application_id]
    ).key
    with Client(live_server.url, token=admin_key) as client:
        with pytest.raises(NotFound) as missing:
            client.get(seeded.application, "staging")
        with pytest.raises(NotFound) as no_application:
            client.create("no-such-application-x", "production", {})
    with (
        Client(live_server.url, token="cs_wrongkey_notakeyatall") as client,
        pytest.raises(Unauthorized) as refused,
    ):
        client.get(seeded.application, "production")
    with Client(live_server.url, token=reader) as client:
        assert client.get(seeded.application, "production").value == {"v": 1}
        with pytest.raises(Forbidden) as forbidden:
            client.update(seeded.application, "production", {"v": 2})

    assert missing.value.status == 404
    assert missing.value.detail == (
        f"application '{seeded.application}' has no configuration named 'staging'"
    )
    assert missing.value.request_id is not None
    assert no_application.value.detail == "no application is named 'no-such-application-x'"
    assert (refused.value.status, refused.value.type) == (401, refused.value.problem["type"])
    assert "wrongkey_notakeyatall" not in str(refused.value)
    assert forbidden.value.status == 403


def test_writes_create_update_with_if_match_patch_and_delete(
    live_server: LiveServer, admin: httpx.Client, admin_key: str
) -> None:
    seeded = seed(admin, {}, name="unused")
    schema = {
        "type": "object",
        "properties": {"pool_size": {"type": "integer", "minimum": 1}},
    }
    with Client(live_server.url, token=admin_key) as client:
        created = client.create(
            seeded.application, "production", {"pool_size": 5}, schema=schema, message="first"
        )
        updated = client.update(
            seeded.application, "production", {"pool_size": 6}, if_match=created.etag
        )
        with pytest.raises(PreconditionFailed) as lost:
            client.update(seeded.application, "production", {"pool_size": 7}, if_match=1)
        patched = client.patch(
            seeded.application,
            "production",
            {"region": "eu"},
            if_match=lost.value.current_etag,
            message="EU launch",
        )
        with pytest.raises(ValidationFailed) as invalid:
            client.patch(seeded.application, "production", {"pool_size": 0})
        read = client.get(seeded.application, "production")
        client.delete(seeded.application, "production", if_match=read.revision)
        with pytest.raises(NotFound):
            client.get(seeded.application, "production")

    assert (created.revision, created.value) == (1, {"pool_size": 5})
    assert (updated.revision, updated.etag) == (2, '"2"')
    assert (lost.value.current_etag, lost.value.current_revision) == ('"2"', 2)
    assert (patched.revision, patched.value) == (3, {"pool_size": 6, "region": "eu"})
    assert [(error.field, error.rule, error.pointer) for error in invalid.value.errors] == [
        ("config.pool_size", "json_schema", "/config/pool_size")
    ]
    assert (read.revision, read.value) == (3, {"pool_size": 6, "region": "eu"})
    history = admin.get(f"/api/v1/configurations/{seeded.configuration_id}/revisions").json()
    assert [revision["revision"] for revision in history] == [1]  # the other one is untouched


def test_a_client_that_starts_while_the_service_is_down_serves_the_cached_document_stale(
    stopped_service: StoppedService, caplog: pytest.LogCaptureFixture
) -> None:
    down = stopped_service
    with caplog.at_level(logging.WARNING, logger="config_service_client"):
        with Client(down.url, token=down.key, cache_dir=down.cache, timeout=2) as client:
            stale = client.get(down.application, "production")
        with (
            Client(down.url, token=down.key, timeout=2) as client,
            pytest.raises(ServiceUnreachable) as unreachable,
        ):
            client.get(down.application, "production")

    assert (stale.value, stale.revision, stale.stale) == ({"feature": "on"}, 1, True)
    assert stale.fetched_at == down.fresh.fetched_at
    assert stale.age.total_seconds() > 0
    warning = caplog.records[0].getMessage()
    assert warning.startswith(
        f"serving the last good document of {down.application}/production (revision 1, fetched "
    )
    assert "the service did not answer (ConnectError" in warning
    assert str(unreachable.value).startswith(
        f"cannot reach {down.url} for {down.application}/production (ConnectError"
    )
    assert str(unreachable.value).endswith("and no cache_dir to fall back on")
    assert [stat.S_IMODE(path.stat().st_mode) for path in down.cache.iterdir()] == [0o600]
    assert stat.S_IMODE(down.cache.stat().st_mode) == 0o700


def test_a_corrupt_cache_file_is_ignored_with_a_warning_and_never_served(
    stopped_service: StoppedService, caplog: pytest.LogCaptureFixture
) -> None:
    down = stopped_service
    (cached,) = down.cache.glob("*.json")
    cached.write_bytes(cached.read_bytes().replace(b'"feature":"on"', b'"feature":"no"'))
    with (
        caplog.at_level(logging.WARNING, logger="config_service_client"),
        Client(down.url, token=down.key, cache_dir=down.cache, timeout=2) as client,
        pytest.raises(ServiceUnreachable, match=r"and nothing cached$"),
    ):
        client.get(down.application, "production")
    assert [record.getMessage() for record in caplog.records] == [
        f"ignoring the corrupt cache file {cached}: its document does not match its checksum"
    ]


def test_a_token_file_is_read_again_when_it_rotates(
    live_server: LiveServer, admin: httpx.Client, admin_key: str, tmp_path: Path
) -> None:
    seeded = seed(admin, {"v": 1})
    token_file = tmp_path / "token"
    token_file.write_text(admin_key + "\n")
    with Client(live_server.url, token_file=token_file) as client:
        assert client.get(seeded.application, "production").revision == 1
        token_file.write_text("cs_revoked0_thisisnotakeyanymore\n")
        with pytest.raises(Unauthorized):
            client.get(seeded.application, "production")
        token_file.write_text(admin_key)
        assert client.get(seeded.application, "production").revision == 1


def test_a_write_by_name_reaches_the_configuration_that_has_the_name_now(
    live_server: LiveServer, admin: httpx.Client, admin_key: str
) -> None:
    """Between two writes of one client, the configuration was renamed away and another one
    created under its name: the second write goes to the new one, never the renamed one."""
    seeded = seed(admin, {"v": 1})
    with Client(live_server.url, token=admin_key) as client:
        client.update(seeded.application, "production", {"v": 2})
        renamed = admin.patch(
            f"/api/v1/configurations/{seeded.configuration_id}",
            content=b'{"name": "retired"}',
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert renamed.status_code == 200, renamed.text
        created = admin.post(
            "/api/v1/configurations",
            json={"application_id": seeded.application_id, "name": "production", "config": {}},
        )
        assert created.status_code == 201, created.text
        updated = client.update(seeded.application, "production", {"v": 3})
        client.delete(seeded.application, "production")
    retired = admin.get(f"/api/v1/configurations/{seeded.configuration_id}")
    new = admin.get(f"/api/v1/configurations/{created.json()['id']}")
    assert (updated.name, updated.revision, updated.value) == ("production", 2, {"v": 3})
    assert (retired.status_code, retired.json()["name"], retired.json()["config"]) == (
        200,
        "retired",
        {"v": 2},
    )
    assert new.status_code == 404
