"""JSON Schema (2020-12) checks for configurations, with the `jsonschema` library.

Only local references (`#...`) are allowed in a schema, and none is ever fetched: a schema comes
from a client, and the service must not make network requests on a client's behalf. Patterns
must be ones RE2 can run (services/json_schema_keywords), and every check has a bounded cost
(services/json_schema_work).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jsonschema.exceptions import ValidationError
from referencing.exceptions import Unresolvable

from models.json_document import escape_pointer_token, json_pointer
from services.errors import FieldProblem
from services.json_schema_keywords import FORMAT_CHECKER, ConfigSchemaValidator
from services.json_schema_work import (
    SCHEMA_WORK_BUDGET,
    TooExpensive,
    UnusablePattern,
    bounded_work,
    pattern_problem,
)
from services.secret_values.locations import SecretLocations

MAX_REPORTED_ERRORS = 50
MAX_MESSAGE_LENGTH = 300
_REFERENCE_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
# Keywords whose messages name missing, unexpected or dependent keys, not the value.
_KEY_ONLY_KEYWORDS = frozenset(
    {"required", "additionalProperties", "unevaluatedProperties", "dependentRequired"}
)


def _pointer(path: Iterable[Any]) -> str:
    return json_pointer(path)


def _shorten(message: str) -> str:
    if len(message) <= MAX_MESSAGE_LENGTH:
        return message
    return message[: MAX_MESSAGE_LENGTH - 1] + "…"


def _field(root: str, pointer: str) -> str:
    return root + pointer.replace("/", ".")


def _remote_references(schema: object) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    pending: list[tuple[object, str]] = [(schema, "")]
    while pending:
        node, pointer = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                child = f"{pointer}/{escape_pointer_token(str(key))}"
                if key in _REFERENCE_KEYWORDS and isinstance(value, str):
                    if not value.startswith("#"):
                        found.append((child, value))
                else:
                    pending.append((value, child))
        elif isinstance(node, list):
            pending.extend((item, f"{pointer}/{index}") for index, item in enumerate(node))
    return sorted(found)


def _too_expensive(field: str) -> FieldProblem:
    return FieldProblem(
        field=field,
        rule="json_schema_too_expensive",
        message="checking the configuration against this schema would take too long; "
        "use fewer or smaller subschemas, enums and patterns",
        pointer="/" + field,
    )


def _pattern_problem(error: ValidationError) -> FieldProblem | None:
    """A `pattern` or `patternProperties` key (format "regex" in the meta-schema) RE2 refuses."""
    if error.validator != "format" or error.validator_value != "regex":
        return None
    pointer = _pointer(error.absolute_path)
    if "propertyNames" in error.relative_schema_path:
        pointer += "/" + escape_pointer_token(str(error.instance))
    return FieldProblem(
        field=_field("schema", pointer),
        rule="json_schema_pattern_unsupported",
        message=_shorten(pattern_problem(str(error.instance)) or "RE2 cannot run this pattern"),
        pointer="/schema" + pointer,
    )


def schema_problems(schema: dict[str, Any]) -> list[FieldProblem]:
    """Why `schema` cannot be used, if it cannot: not a valid 2020-12 schema, a pattern RE2
    cannot run, or remote $refs."""
    meta = ConfigSchemaValidator(ConfigSchemaValidator.META_SCHEMA, format_checker=FORMAT_CHECKER)
    try:
        with bounded_work(SCHEMA_WORK_BUDGET):
            errors = list(meta.iter_errors(schema))
    except TooExpensive:
        return [_too_expensive("schema")]
    patterns = sorted(
        (problem for error in errors if (problem := _pattern_problem(error))),
        key=lambda problem: problem.pointer or "",
    )
    if patterns:
        return patterns[:MAX_REPORTED_ERRORS]
    if errors:
        # The first error, as jsonschema's check_schema reports.
        error = errors[0]
        pointer = _pointer(error.absolute_path)
        return [
            FieldProblem(
                field=_field("schema", pointer),
                rule="json_schema_invalid",
                message=_shorten(f"not a valid JSON Schema (2020-12): {error.message}"),
                pointer="/schema" + pointer,
            )
        ]
    return [
        FieldProblem(
            field=_field("schema", pointer),
            rule="json_schema_remote_ref",
            message=_shorten(
                f"only local references (starting with #) are allowed; got {reference!r}"
            ),
            pointer="/schema" + pointer,
        )
        for pointer, reference in _remote_references(schema)
    ]


def config_problems(
    config: dict[str, Any], schema: dict[str, Any], *, secrets: SecretLocations | None = None
) -> list[FieldProblem]:
    """Every way `config` (plain: secret values themselves) breaks `schema` (a schema that
    passed schema_problems), never showing a value at or holding one of `secrets`."""
    validator = ConfigSchemaValidator(schema, format_checker=FORMAT_CHECKER)
    try:
        with bounded_work():
            errors = list(validator.iter_errors(config))
    except TooExpensive:
        return [_too_expensive("config")]
    except UnusablePattern as error:
        # Only a schema stored before patterns were checked can have one.
        return [
            FieldProblem(
                field="schema",
                rule="json_schema_pattern_unsupported",
                message=_shorten(f"the pattern {error.pattern!r} cannot be used: {error.reason}"),
                pointer="/schema",
            )
        ]
    except Unresolvable as error:
        return [
            FieldProblem(
                field="schema",
                rule="json_schema_unresolvable_ref",
                message=_shorten(f"a $ref of the schema cannot be resolved: {error}"),
                pointer="/schema",
            )
        ]
    except RecursionError:
        # A $ref cycle that consumes none of the document ({"$ref": "#"}) never ends.
        return [
            FieldProblem(
                field="schema",
                rule="json_schema_recursive_ref",
                message="the schema's $refs loop without descending into the document",
                pointer="/schema",
            )
        ]
    problems = [_config_problem(error, secrets) for error in errors]
    # Errors inside one secret are all told at its location: keep each once.
    problems = list(dict.fromkeys(problems))
    problems.sort(key=lambda problem: (problem.pointer or "", problem.message))
    return problems[:MAX_REPORTED_ERRORS]


def _config_problem(error: ValidationError, secrets: SecretLocations | None) -> FieldProblem:
    """The problem `error` is, told without any secret value: an error at or inside a secret
    location is told at that location, and one about a value holding a secret says only which
    rule it breaks, unless its rule speaks of keys alone."""
    pointer = _pointer(error.absolute_path)
    rule = _pointer(error.absolute_schema_path)
    message = f"{error.message} (schema rule {rule})"
    if secrets:
        secret = secrets.enclosing(pointer)
        if secret is not None:
            pointer = secret
            message = f"the secret value breaks the schema rule {rule} (it is not shown)"
        elif secrets.holds(pointer) and not _speaks_of_keys_only(error):
            message = f"the value breaks the schema rule {rule} (not shown: it holds a secret)"
    return FieldProblem(
        field=_field("config", pointer),
        rule="json_schema",
        message=_shorten(message),
        pointer="/config" + pointer,
    )


def _speaks_of_keys_only(error: ValidationError) -> bool:
    """Whether jsonschema's message for `error` names keys only, never a value: keys of a
    value that holds a secret are as visible as the masked document's."""
    return error.validator in _KEY_ONLY_KEYWORDS or "propertyNames" in error.relative_schema_path
