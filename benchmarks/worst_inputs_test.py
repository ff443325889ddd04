"""The worst-input benchmark's requests stay within the limits a client is held to (its timings
are printed by `pipenv run bench-worst`, never asserted)."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.worst_inputs import MAX_BODY_BYTES, MAX_JSON_DEPTH, Case, cases, encode
from config.settings import Settings
from models.json_document import find_document_problems


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def test_the_limits_are_the_services_defaults() -> None:
    defaults = Settings.model_fields
    assert defaults["max_body_bytes"].default == MAX_BODY_BYTES
    assert defaults["max_json_depth"].default == MAX_JSON_DEPTH


@pytest.mark.parametrize("case", cases(), ids=lambda case: case.name)
def test_every_request_fits_the_body_and_depth_limits(case: Case) -> None:
    assert len(encode(case.body)) <= MAX_BODY_BYTES
    for document in (case.config, case.second, (case.body or {}).get("config")):
        if document is not None:
            assert depth(document) <= MAX_JSON_DEPTH
            assert find_document_problems(document, max_depth=MAX_JSON_DEPTH) == []
