"""The response cache's rules, in memory: bounded in bytes, least recently used out first,
and never going back to an older revision than one it has heard of."""

from __future__ import annotations

from datetime import UTC, datetime

from config.secrets_keys import SecretsKey
from delivery.response_cache import ENTRY_OVERHEAD_BYTES, CachedConfiguration, ResponseCache
from models.change import Change, ChangeKind
from models.configuration import Configuration
from services.secret_values.cipher import SecretCipher
from services.secret_values.locations import SecretLocations
from services.secret_values.sealing import seal_config

APPLICATION = "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"


def configuration(
    number: int,
    revision: int = 1,
    config: dict[str, object] | None = None,
    secrets: list[str] | None = None,
) -> Configuration:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return Configuration(
        id=f"01JQ3V7B2D4F6H8K0M2P4R6T{number:02d}",
        application_id=APPLICATION,
        name=f"c{number}",
        comments=None,
        config=config if config is not None else {"n": number},
        schema=None,
        secrets=secrets or [],
        revision=revision,
        created_at=moment,
        updated_at=moment,
    )


def entry(
    number: int, revision: int = 1, application_name: str | None = None
) -> CachedConfiguration:
    return CachedConfiguration.of(configuration(number, revision), application_name)


def change(number: int, kind: ChangeKind, revision: int | None, position: int = 1) -> Change:
    return Change(
        position=position,
        kind=kind,
        application_id=APPLICATION,
        configuration_id=configuration(number).id,
        name=f"c{number}",
        revision=revision,
    )


def test_an_entry_holds_both_bodies_as_the_api_sends_them() -> None:
    cached = CachedConfiguration.of(configuration(1, 3, {"ü": [1, 2.5, None]}), "app")
    assert cached.document_body == '{"ü":[1,2.5,null]}'.encode()
    assert cached.resource_body.startswith(b'{"id":"01JQ3V7B2D4F6H8K0M2P4R6T01"')
    assert b'"schema":null' in cached.resource_body
    assert (
        cached.size == len(cached.resource_body) + len(cached.document_body) + ENTRY_OVERHEAD_BYTES
    )


def test_least_recently_used_entries_leave_first_when_the_bytes_run_out() -> None:
    one = entry(1)
    cache = ResponseCache(max_bytes=one.size * 2)
    cache.fill(entry(1), epoch=0)
    cache.fill(entry(2), epoch=0)
    assert cache.get(entry(1).configuration_id) is not None  # 1 is now the most recent
    cache.fill(entry(3), epoch=0)

    assert cache.get(entry(2).configuration_id) is None
    assert cache.get(entry(1).configuration_id) is not None
    assert len(cache) == 2
    assert cache.size <= cache.max_bytes


def test_a_fill_older_than_a_change_heard_of_is_refused() -> None:
    cache = ResponseCache(max_bytes=1 << 20)
    cache.apply(change(1, ChangeKind.UPDATED, 3))
    cache.fill(entry(1, revision=2), epoch=cache.epoch)
    assert cache.get(entry(1).configuration_id) is None
    cache.fill(entry(1, revision=3), epoch=cache.epoch)
    found = cache.get(entry(1).configuration_id)
    assert found is not None
    assert found.revision == 3


def test_a_write_acknowledged_here_is_never_followed_by_an_older_revision() -> None:
    cache = ResponseCache(max_bytes=1 << 20)
    cache.written(configuration(1, revision=5))
    cache.fill(entry(1, revision=4), epoch=0)  # a slow read from before the write
    assert cache.outdated(entry(1, revision=4))
    assert not cache.outdated(entry(1, revision=5))
    found = cache.get(entry(1).configuration_id)
    assert found is not None
    assert found.revision == 5


def test_changes_and_deletes_remove_entries_and_keep_them_out() -> None:
    cache = ResponseCache(max_bytes=1 << 20)
    cache.fill(entry(1, application_name="app"), epoch=0)
    cache.apply(change(1, ChangeKind.UPDATED, 1))  # not newer: stays
    assert cache.get_by_name("app", "c1") is not None
    cache.apply(change(1, ChangeKind.DELETED, None))
    assert cache.get_by_name("app", "c1") is None
    cache.fill(entry(1, revision=9), epoch=cache.epoch)
    assert cache.get(entry(1).configuration_id) is None  # deleted: no revision brings it back


def test_a_fill_that_began_before_a_clear_is_refused() -> None:
    cache = ResponseCache(max_bytes=1 << 20)
    epoch = cache.epoch
    cache.clear()
    cache.fill(entry(1), epoch=epoch)
    assert len(cache) == 0
    cache.fill(entry(1), epoch=cache.epoch)
    assert len(cache) == 1


def test_renaming_or_deleting_an_application_drops_its_entries() -> None:
    cache = ResponseCache(max_bytes=1 << 20)
    cache.fill(entry(1, application_name="app"), epoch=0)
    cache.fill(entry(2, application_name="app"), epoch=0)
    cache.apply(
        Change(
            position=1,
            kind=ChangeKind.APPLICATION_RENAMED,
            application_id=APPLICATION,
            configuration_id=None,
            name=None,
            revision=None,
        )
    )
    assert (cache.get_by_name("app", "c1"), len(cache), cache.size) == (None, 0, 0)
    cache.fill(entry(1), epoch=cache.epoch)
    cache.forget_application(APPLICATION, deleted=True)
    cache.fill(entry(1), epoch=cache.epoch)
    assert len(cache) == 0


def test_a_zero_byte_cache_keeps_nothing() -> None:
    cache = ResponseCache(max_bytes=0)
    cache.fill(entry(1), epoch=0)
    assert len(cache) == 0


def sealed_configuration(number: int, password: str) -> Configuration:
    plain = configuration(number, 2, {"password": password, "port": 1}, ["/password"])
    sealed = seal_config(
        plain.config,
        SecretLocations.of(plain.secrets),
        cipher=CIPHER,
        configuration_id=plain.id,
    )
    return plain.model_copy(update={"config": sealed.config})


CIPHER = SecretCipher([SecretsKey("t1", bytes(range(32)))])


def test_an_entry_with_secrets_holds_masked_bodies_and_reveals_once() -> None:
    stored = sealed_configuration(1, "canary-ü-pw")

    cached = CachedConfiguration.of(stored, "app")
    resource, document = cached.revealed(CIPHER)

    assert cached.document_body == b'{"password":"********","port":1}'
    assert b"canary" not in cached.resource_body
    assert b'"secrets":["/password"]' in cached.resource_body
    assert document == '{"password":"canary-ü-pw","port":1}'.encode()
    assert b'"config":{"password":"canary-\xc3\xbc-pw","port":1}' in resource
    assert cached.revealed(CIPHER)[0] is resource  # made once
    assert cached.has_secrets is True
    assert cached.size >= len(resource) + len(document) + len(cached.resource_body)


def test_an_entry_without_secrets_reveals_its_own_bodies() -> None:
    cached = entry(1)

    assert cached.revealed(CIPHER) == (cached.resource_body, cached.document_body)
    assert cached.has_secrets is False


def test_a_revealed_entry_keeps_what_it_made_when_its_name_is_added() -> None:
    cache = ResponseCache(max_bytes=1_000_000)
    stored = sealed_configuration(1, "canary-pw")
    cache.fill(CachedConfiguration.of(stored, "app"), epoch=0)
    cache.get(stored.id).revealed(CIPHER)  # type: ignore[union-attr]

    cache.fill(CachedConfiguration.of(stored), epoch=0)  # a read by id: no name

    again = cache.get_by_name("app", stored.name)
    assert again is not None
    assert again.revealed(CIPHER)[1] == b'{"password":"canary-pw","port":1}'
