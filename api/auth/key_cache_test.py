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
    cache.put(b"first", first)
    cache.put(b"second", second)

    cache.clear()

    assert (cache.get(b"first"), cache.get(b"second")) == (None, None)
    cache.put(b"first", first)
    assert cache.get(b"first") == first
