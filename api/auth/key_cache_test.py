"""The key cache: emptied whole when any process revokes a key."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from api.auth.key_cache import KeyCache
from models.api_key import ApiKey, Role
from services.api_key_service import ApiKeyService
from testing.api_keys import bearer


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


def test_a_request_whose_key_lookup_raced_its_revocation_leaves_no_usable_key_behind(
    admin: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the real service and PostgreSQL: a request reads its key, the key is revoked (and
    the cache emptied for it) before that request stores what it read. The request itself may
    pass (it began first); the key must not pass again."""
    created = admin.post("/api/v1/keys", json={"name": "raced", "role": "read"}).json()
    as_key = bearer(created["key"])
    read_key = ApiKeyService.authenticate
    raced: list[int] = []

    def authenticate_then_revoke(service: ApiKeyService, token: str) -> ApiKey | None:
        found = read_key(service, token)
        if token == created["key"] and not raced:
            # In the threadpool, between the read and the cache's put.
            revoked = admin.post(f"/api/v1/keys/{created['id']}/revoke")
            raced.append(revoked.status_code)
        return found

    monkeypatch.setattr(ApiKeyService, "authenticate", authenticate_then_revoke)
    url = f"{admin.base_url}/api/v1/applications"
    during = httpx.get(url, headers=as_key)
    after = httpx.get(url, headers=as_key)

    assert raced == [200]
    assert during.status_code == 200
    assert after.status_code == 401, after.text
