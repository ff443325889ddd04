"""The key cache: emptied whole when any process revokes a key."""

from __future__ import annotations

from datetime import UTC, datetime

from api.auth.key_cache import KeyCache
from models.api_key import ApiKey, Role


def key(key_id: str) -> ApiKey:
    return ApiKey(
        id=key_id,
        name="k",
        prefix="abcdefgh",
        role=Role.READ,
        applications=None,
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        expires_at=None,
        revoked_at=None,
        created_by=None,
        reveal_secrets=False,
    )


def test_clear_forgets_every_key_and_keeps_working() -> None:
    cache = KeyCache(seconds=60)
    first, second = key("01JQ3VA1B3C5D7E9F1G3H5J7K1"), key("01JQ3VA1B3C5D7E9F1G3H5J7K2")
    cache.put(b"first", first, generation=cache.generation())
    cache.put(b"second", second, generation=cache.generation())

    cache.clear()

    assert (cache.get(b"first"), cache.get(b"second")) == (None, None)
    cache.put(b"first", first, generation=cache.generation())
    assert cache.get(b"first") == first


def test_a_lookup_begun_before_a_revocation_is_not_kept_after_it() -> None:
    """A request read the key (not yet revoked) from PostgreSQL; the revocation committed and
    its notification emptied the cache before the request stored what it read. Kept, the old
    key would be usable again for API_KEY_CACHE_SECONDS."""
    cache = KeyCache(seconds=60)
    read_before = key("01JQ3VA1B3C5D7E9F1G3H5J7K1")
    generation = cache.generation()  # the request starts its lookup

    cache.clear()  # another process revoked a key meanwhile
    cache.put(b"first", read_before, generation=generation)

    assert cache.get(b"first") is None
    cache.put(b"first", read_before, generation=cache.generation())
    assert cache.get(b"first") == read_before


def test_a_lookup_begun_before_a_revocation_here_is_not_kept_after_it() -> None:
    cache = KeyCache(seconds=60)
    read_before = key("01JQ3VA1B3C5D7E9F1G3H5J7K1")
    generation = cache.generation()

    cache.forget(read_before.id)  # this process revoked it meanwhile
    cache.put(b"first", read_before, generation=generation)

    assert cache.get(b"first") is None
