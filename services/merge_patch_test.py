"""JSON Merge Patch (RFC 7396): the RFC's own examples, exactly as it gives them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.merge_patch import apply_merge_patch

# RFC 7396 Appendix A, row by row: original, patch, result (as JSON text, as in the RFC).
APPENDIX_A = [
    ('{"a":"b"}', '{"a":"c"}', '{"a":"c"}'),
    ('{"a":"b"}', '{"b":"c"}', '{"a":"b","b":"c"}'),
    ('{"a":"b"}', '{"a":null}', "{}"),
    ('{"a":"b","b":"c"}', '{"a":null}', '{"b":"c"}'),
    ('{"a":["b"]}', '{"a":"c"}', '{"a":"c"}'),
    ('{"a":"c"}', '{"a":["b"]}', '{"a":["b"]}'),
    ('{"a": {"b": "c"}}', '{"a": {"b": "d", "c": null}}', '{"a": {"b": "d"}}'),
    ('{"a": [{"b":"c"}]}', '{"a": [1]}', '{"a": [1]}'),
    ('["a","b"]', '["c","d"]', '["c","d"]'),
    ('{"a":"b"}', '["c"]', '["c"]'),
    ('{"a":"foo"}', "null", "null"),
    ('{"a":"foo"}', '"bar"', '"bar"'),
    ('{"e":null}', '{"a":1}', '{"e":null,"a":1}'),
    ("[1,2]", '{"a":"b","c":null}', '{"a":"b"}'),
    ("{}", '{"a":{"bb":{"ccc":null}}}', '{"a":{"bb":{}}}'),
]

# RFC 7396 section 3: the worked example.
SECTION_3_TARGET = """
{
  "title": "Goodbye!",
  "author" : {
    "givenName" : "John",
    "familyName" : "Doe"
  },
  "tags":[ "example", "sample" ],
  "content": "This will be unchanged"
}
"""
SECTION_3_PATCH = """
{
  "title": "Hello!",
  "phoneNumber": "+01-123-456-7890",
  "author": {
    "familyName": null
  },
  "tags": [ "example" ]
}
"""
SECTION_3_RESULT = """
{
  "title": "Hello!",
  "author" : {
    "givenName" : "John"
  },
  "tags": [ "example" ],
  "content": "This will be unchanged",
  "phoneNumber": "+01-123-456-7890"
}
"""


def canonical(document: Any) -> str:
    """JSON text that tells 1 from true and keeps member order out of the comparison."""
    return json.dumps(document, sort_keys=True)


@pytest.mark.parametrize(("original", "patch", "result"), APPENDIX_A)
def test_appendix_a_examples(original: str, patch: str, result: str) -> None:
    assert canonical(apply_merge_patch(json.loads(original), json.loads(patch))) == canonical(
        json.loads(result)
    )


def test_section_3_example() -> None:
    patched = apply_merge_patch(json.loads(SECTION_3_TARGET), json.loads(SECTION_3_PATCH))
    assert canonical(patched) == canonical(json.loads(SECTION_3_RESULT))


def test_the_target_is_not_changed() -> None:
    target = {"a": {"b": "c", "keep": [1]}, "d": 1}
    before = canonical(target)

    patched = apply_merge_patch(target, {"a": {"b": None, "e": 2}, "d": None})

    assert canonical(patched) == canonical({"a": {"keep": [1], "e": 2}})
    assert canonical(target) == before


def test_a_value_of_another_type_replaces_without_coercion() -> None:
    assert canonical(apply_merge_patch({"a": 1}, {"a": True})) == '{"a": true}'
    assert canonical(apply_merge_patch({"a": True}, {"a": {"b": 1}})) == '{"a": {"b": 1}}'
