"""Laws of the JSON documents, for any document within the limits, not just hand-picked ones.

- Any JSON object round-trips unchanged through a write and a read (Unicode, empty keys, huge
  integers, tiny and huge doubles): unchanged in value, as jsonb keeps numbers' values.
- The diff between two revisions, applied to the first, gives the second (and back).
- Merge patch (RFC 7396): the patch from T to U turns T into U; patching twice is patching once;
  null removes a member, members the patch does not name stay.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

import httpx
import jsonpatch
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.merge_patch import apply_merge_patch
from testing.fuzz_settings import fuzz_examples, fuzz_settings
from testing.live_server import LiveServer

# Text PostgreSQL can store: no U+0000, no lone surrogates (both are a 422, tested elsewhere).
storable_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
numbers = (
    st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0.0, -0.0, 5e-324, 1.7976931348623157e308, 1e20, 0.1])
)
scalars = st.none() | st.booleans() | numbers | storable_text
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(storable_text, inner, max_size=4),
    max_leaves=25,
)
json_objects = st.dictionaries(storable_text, values, max_size=6)

# Merge patch operates on null-free documents: null in a patch means "remove".
null_free = st.recursive(
    st.booleans() | st.integers() | storable_text,
    lambda inner: st.dictionaries(st.sampled_from("abcd"), inner, max_size=4),
    max_leaves=12,
)
null_free_objects = st.dictionaries(st.sampled_from("abcd"), null_free, max_size=4)
patches = st.recursive(
    st.none() | st.booleans() | st.integers() | storable_text,
    lambda inner: st.dictionaries(st.sampled_from("abcd"), inner, max_size=4),
    max_leaves=12,
)


def json_value(document: Any) -> Any:
    """Equal for JSON-equal documents: numbers by exact decimal value, true never equal to 1."""
    if isinstance(document, bool) or document is None or isinstance(document, str):
        return (type(document).__name__, document)
    if isinstance(document, int | float):
        return ("number", Decimal(repr(document)) if isinstance(document, float) else document)
    if isinstance(document, dict):
        return ("object", {key: json_value(value) for key, value in document.items()})
    return ("array", [json_value(item) for item in document])


def merge_patch_between(source: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """A merge patch that turns `source` into `target` (both null-free)."""
    patch: dict[str, Any] = {key: None for key in source if key not in target}
    for key, value in target.items():
        before = source.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            nested = merge_patch_between(before, value)
            if nested:
                patch[key] = nested
        elif before != value or type(before) is not type(value):
            patch[key] = value
    return patch


@pytest.fixture(scope="module")
def http(live_server: LiveServer) -> Any:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def application_id(http: httpx.Client) -> str:
    response = http.post("/api/v1/applications", json={"name": f"laws-{secrets.token_hex(6)}"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def create(http: httpx.Client, application_id: str, config: dict[str, Any]) -> dict[str, Any]:
    body = {"application_id": application_id, "name": secrets.token_hex(8), "config": config}
    response = http.post("/api/v1/configurations", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@given(config=json_objects)
@fuzz_settings(examples=fuzz_examples())
def test_any_document_round_trips_unchanged(
    http: httpx.Client, application_id: str, config: dict[str, Any]
) -> None:
    created = create(http, application_id, config)
    read = http.get(f"/api/v1/configurations/{created['id']}")

    assert read.status_code == 200
    assert json_value(created["config"]) == json_value(config)
    assert json_value(read.json()["config"]) == json_value(config)


@given(first=json_objects, second=json_objects)
@fuzz_settings(examples=max(10, fuzz_examples() // 2))
def test_a_diff_applied_to_the_first_revision_gives_the_second(
    http: httpx.Client, application_id: str, first: dict[str, Any], second: dict[str, Any]
) -> None:
    created = create(http, application_id, first)
    url = f"/api/v1/configurations/{created['id']}"
    written = http.put(url, json={"config": second})
    assert written.status_code == 200, written.text
    last = written.json()["revision"]

    forward = http.get(f"{url}/diff", params={"from": 1, "to": last})
    backward = http.get(f"{url}/diff", params={"from": last, "to": 1})

    assert (forward.status_code, backward.status_code) == (200, 200)
    assert forward.headers["content-type"] == "application/json-patch+json"
    assert json_value(jsonpatch.apply_patch(first, forward.json())) == json_value(second)
    assert json_value(jsonpatch.apply_patch(second, backward.json())) == json_value(first)


@given(source=null_free_objects, target=null_free_objects)
@fuzz_settings(examples=fuzz_examples() * 3)
def test_the_merge_patch_from_one_document_to_another_gives_the_other(
    source: dict[str, Any], target: dict[str, Any]
) -> None:
    assert apply_merge_patch(source, merge_patch_between(source, target)) == target


@given(target=null_free_objects, patch=patches)
@fuzz_settings(examples=fuzz_examples() * 3)
def test_merge_patch_follows_rfc_7396(target: dict[str, Any], patch: Any) -> None:
    result = apply_merge_patch(target, patch)

    assert apply_merge_patch(result, patch) == result  # idempotent
    if not isinstance(patch, dict):
        assert result == patch  # anything but an object replaces the whole target
        return
    for key, value in patch.items():
        if value is None:
            assert key not in result
        elif not isinstance(value, dict):
            assert result[key] == value
    for key, value in target.items():
        if key not in patch:
            assert result[key] == value
    assert target == apply_merge_patch(target, {})  # the empty patch changes nothing
