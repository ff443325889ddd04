"""The JSON Schema of the documents a configuration holds, as the OpenAPI document states it.

Validation is done by models/json_document.py; this states the same storage rules for clients
and fuzzers: any JSON object whose keys and strings, at every depth, contain no U+0000 (which
PostgreSQL's jsonb cannot store). The nesting limit (MAX_JSON_DEPTH) is a setting, so it is
given in the description rather than in the schema.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import WithJsonSchema

NO_NUL_PATTERN = "^[^\\u0000]*$"

JSON_DOCUMENT_SCHEMAS: dict[str, dict[str, Any]] = {
    "JsonDocument": {
        "type": "object",
        "description": "Any JSON object. Keys and strings must not contain U+0000; objects "
        "and arrays nest at most MAX_JSON_DEPTH (default 32) levels deep.",
        "propertyNames": {"pattern": NO_NUL_PATTERN},
        "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
    },
    "JsonValue": {
        "description": "Any JSON value within the rules of JsonDocument.",
        "anyOf": [
            {"type": "string", "pattern": NO_NUL_PATTERN},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "null"},
            {"type": "array", "items": {"$ref": "#/components/schemas/JsonValue"}},
            {"$ref": "#/components/schemas/JsonDocument"},
        ],
    },
}


def document_json_schema(description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {"allOf": [{"$ref": "#/components/schemas/JsonDocument"}], "description": description}
    )


JsonDocument = Annotated[dict[str, Any], document_json_schema("Any JSON object.")]
