"""The bindings cache: fresh for its seconds, emptied by a change here, and never refilled with
bindings read before that change."""

from __future__ import annotations

from datetime import UTC, datetime

from api.auth.binding_cache import BindingCache, matching
from models.api_key import Role
from models.identity_binding import Binding, ClaimValue

ISSUER = "https://id.example"


def binding(binding_id: str, claims: dict[str, ClaimValue | list[ClaimValue]]) -> Binding:
    return Binding(
        id=binding_id,
        name="b",
        issuer=ISSUER,
        claims=claims,
        role=Role.READ,
        applications=None,
        reveal_secrets=False,
        created_at=datetime(2026, 11, 23, tzinfo=UTC),
    )


ALICE = binding("01JQ3VA1B3C5D7E9F1G3H5J7K1", {"sub": "alice"})
OPS = binding("01JQ3VA1B3C5D7E9F1G3H5J7K2", {"groups": ["ops", "sre"]})


def test_bindings_are_kept_and_matched() -> None:
    cache = BindingCache(seconds=60)
    cache.put(ISSUER, [ALICE, OPS], generation=cache.generation(ISSUER))

    compiled = cache.get(ISSUER)

    assert compiled is not None
    assert matching(compiled, {"sub": "alice", "groups": ["ops"]}) == [ALICE, OPS]
    assert matching(compiled, {"sub": "bob", "groups": "ops"}) == [OPS]
    assert matching(compiled, {"sub": "bob"}) == []
    assert cache.get("https://other.example") is None


def test_with_zero_seconds_nothing_is_kept() -> None:
    cache = BindingCache(seconds=0)
    cache.put(ISSUER, [ALICE], generation=0)

    assert cache.get(ISSUER) is None


def test_a_change_here_empties_the_issuers_entry() -> None:
    cache = BindingCache(seconds=60)
    cache.put(ISSUER, [ALICE], generation=cache.generation(ISSUER))

    cache.forget(ISSUER)

    assert cache.get(ISSUER) is None


def test_bindings_read_before_a_change_are_used_but_not_kept() -> None:
    cache = BindingCache(seconds=60)
    before = cache.generation(ISSUER)
    cache.forget(ISSUER)  # a binding was created while the read was under way

    compiled = cache.put(ISSUER, [ALICE], generation=before)

    assert [entry.binding for entry in compiled] == [ALICE]
    assert cache.get(ISSUER) is None
    cache.put(ISSUER, [ALICE, OPS], generation=cache.generation(ISSUER))
    kept = cache.get(ISSUER)
    assert kept is not None
    assert [entry.binding for entry in kept] == [ALICE, OPS]


def test_a_change_heard_of_from_another_process_empties_every_issuer() -> None:
    cache = BindingCache(seconds=60)
    other = "https://other.example"
    cache.put(ISSUER, [ALICE], generation=cache.generation(ISSUER))
    cache.put(other, [OPS], generation=cache.generation(other))
    before = cache.generation(ISSUER)  # a read under way when the notification arrives

    cache.clear()

    assert (cache.get(ISSUER), cache.get(other)) == (None, None)
    cache.put(ISSUER, [ALICE], generation=before)
    assert cache.get(ISSUER) is None
