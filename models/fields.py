"""Field types shared by the entities, each with the rule it enforces and its JSON Schema.

The JSON Schema of each type states the same rule the validator checks, so that the OpenAPI
document tells clients (and fuzzers) exactly what is accepted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

# Crockford base32 without I, L, O, U; a first character above 7 would overflow 128 bits.
ULID_PATTERN = "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$"
_ULID = re.compile(ULID_PATTERN)
EXAMPLE_APPLICATION_ID = "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"
EXAMPLE_CONFIGURATION_ID = "01JQ3V7B2D4F6H8K0M2P4R6T8V"
# Revisions are PostgreSQL integers; a larger one names no revision there can be.
MAX_REVISION = 2**31 - 1

# Characters a name may not start or end with (Unicode white space) and may not contain at all
# (C0 and C1 control characters). Written out, not as \s, so that Python and the ECMA-262
# regular expressions of JSON Schema agree on exactly the same set.
_SPACE = (
    "\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
_CONTROL = "\\u0000-\\u001f\\u007f-\\u009f"
NAME_PATTERN = f"^[^{_SPACE}{_CONTROL}](?:[^{_CONTROL}]*[^{_SPACE}{_CONTROL}])?$"
_NAME = re.compile(NAME_PATTERN)


def _shorten(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def parse_resource_id(value: str) -> str:
    """Validate a ULID and return it in canonical uppercase form."""
    if not _ULID.fullmatch(value):
        raise PydanticCustomError(
            "ulid_format",
            "must be a ULID: 26 Crockford base32 characters, the first 0-7 (got {value})",
            {"value": repr(_shorten(value))},
        )
    return value.upper()


# Lone surrogates never get this far: pydantic refuses them in str fields ("string_unicode").
def _check_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise PydanticCustomError(
            "name_format",
            "must not start or end with white space nor contain control characters (got {value})",
            {"value": repr(_shorten(value))},
        )
    return value


def _check_comments(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("text_nul", "must not contain the NUL character (U+0000)")
    return value


def _id_schema(example: str) -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": ULID_PATTERN,
        "minLength": 26,
        "maxLength": 26,
        "description": "A ULID; accepted in either case, returned in uppercase.",
        "examples": [example],
    }


ApplicationId = Annotated[
    str, AfterValidator(parse_resource_id), WithJsonSchema(_id_schema(EXAMPLE_APPLICATION_ID))
]
ConfigurationId = Annotated[
    str, AfterValidator(parse_resource_id), WithJsonSchema(_id_schema(EXAMPLE_CONFIGURATION_ID))
]
Name = Annotated[
    str,
    Field(min_length=1, max_length=256, json_schema_extra={"pattern": NAME_PATTERN}),
    AfterValidator(_check_name),
]
Comments = Annotated[
    str,
    Field(max_length=1024, json_schema_extra={"pattern": "^[^\\u0000]*$"}),
    AfterValidator(_check_comments),
]

ChangeMessage = Annotated[
    str,
    Field(
        max_length=1024,
        description="Why this change was made; kept with the revision.",
        examples=["Raise the pool size for the sale"],
        json_schema_extra={"pattern": "^[^\\u0000]*$"},
    ),
    AfterValidator(_check_comments),
]


_DATE_TIME_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")


def _date_time_text(value: object) -> object:
    """JSON and query strings carry date-times as RFC 3339 text; pydantic would also take a
    number (seconds since 1970), which is no date-time of the schema."""
    if isinstance(value, str) and _DATE_TIME_START.match(value):
        return value
    if value is not None and not isinstance(value, datetime):  # Python callers pass datetimes
        raise PydanticCustomError(
            "datetime_format", "must be an RFC 3339 date-time, e.g. 2027-01-01T00:00:00Z"
        )
    return value


def _in_utc(value: datetime) -> datetime:
    """In UTC (PostgreSQL takes offsets up to 15:59 only); without an offset: UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


DateTimeText = Annotated[datetime, BeforeValidator(_date_time_text), AfterValidator(_in_utc)]
