"""The JSON Schema 2020-12 validator configurations are checked with: jsonschema's, with the
keywords whose cost or failure modes a client could abuse replaced.

- `pattern`, `patternProperties`, `additionalProperties`, `unevaluatedProperties` and the `regex`
  format run patterns on RE2 (linear time), never on Python's backtracking `re`.
- `uniqueItems` hashes a canonical form of each item (linear, not pairwise), and
  `unevaluatedItems` looks indexes up in a set.
- `multipleOf` divides exactly (fractions), so a 400-digit integer cannot overflow a float.
- Every keyword application is charged to the check's work budget (services/json_schema_work).
- A `$schema` inside the schema never switches to another (stock) validator class, which would
  bring the backtracking keywords back: every schema is read as 2020-12.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any

from attrs import fields
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema._utils import extras_msg, find_evaluated_item_indexes_by_schema, is_valid

from models.json_document import canonical_value
from services.json_schema_work import UnusablePattern, charge, compiled, search

Keyword = Callable[[Any, Any, Any, dict[str, Any]], Iterator[ValidationError]]
_STOCK: dict[str, Keyword] = dict(Draft202012Validator.VALIDATORS)


def _matches(pattern: str, text: str) -> bool:
    regexp = compiled(pattern)
    if isinstance(regexp, str):
        raise UnusablePattern(pattern, regexp)
    return search(regexp, text)


def pattern(
    validator: Any, value: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _matches(value, instance):
        yield ValidationError(f"{instance!r} does not match {value!r}")


def pattern_properties(
    validator: Any, value: dict[str, Any], instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for regex, subschema in value.items():
        for key, item in instance.items():
            if _matches(regex, key):
                yield from validator.descend(item, subschema, path=key, schema_path=regex)


def _matched_by_patterns(schema: dict[str, Any], key: str) -> bool:
    return any(_matches(regex, key) for regex in schema.get("patternProperties", {}))


def additional_properties(
    validator: Any, value: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    extras = [
        key for key in instance if key not in properties and not _matched_by_patterns(schema, key)
    ]
    if validator.is_type(value, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], value, path=extra)
    elif not value and extras:
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            listed = ", ".join(repr(extra) for extra in sorted(extras))
            patterns = ", ".join(repr(regex) for regex in sorted(schema["patternProperties"]))
            yield ValidationError(f"{listed} {verb} not match any of the regexes: {patterns}")
        else:
            listed, verb = extras_msg(sorted(extras, key=str))
            yield ValidationError(
                f"Additional properties are not allowed ({listed} {verb} unexpected)"
            )


def _keys_by_reference(validator: Any, instance: dict[str, Any], schema: Any) -> set[str]:
    keys: set[str] = set()
    for reference in ("$ref", "$dynamicRef"):
        if (target := schema.get(reference)) is not None:
            resolved = validator._resolver.lookup(target)  # as jsonschema's own helper does
            keys |= _evaluated_keys(
                validator.evolve(schema=resolved.contents, _resolver=resolved.resolver),
                instance,
                resolved.contents,
            )
    return keys


def _keys_by_subschemas(validator: Any, instance: dict[str, Any], schema: Any) -> set[str]:
    keys: set[str] = set()
    for name, subschema in schema.get("dependentSchemas", {}).items():
        if name in instance:
            keys |= _evaluated_keys(validator, instance, subschema)
    for keyword in ("allOf", "oneOf", "anyOf"):
        for subschema in schema.get(keyword, []):
            if is_valid(validator.descend(instance, subschema)):
                keys |= _evaluated_keys(validator, instance, subschema)
    if "if" in schema:
        branch = "then" if validator.evolve(schema=schema["if"]).is_valid(instance) else "else"
        if branch == "then":
            keys |= _evaluated_keys(validator, instance, schema["if"])
        if branch in schema:
            keys |= _evaluated_keys(validator, instance, schema[branch])
    return keys


def _evaluated_keys(validator: Any, instance: dict[str, Any], schema: Any) -> set[str]:
    """The keys of `instance` that `schema` evaluates (as jsonschema's, with RE2 and a set)."""
    charge(1)
    if validator.is_type(schema, "boolean"):
        return set()
    keys = _keys_by_reference(validator, instance, schema)
    properties = schema.get("properties")
    if validator.is_type(properties, "object"):
        keys |= properties.keys() & instance.keys()
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        if (subschema := schema.get(keyword)) is not None:
            keys |= {
                key
                for key, item in instance.items()
                if is_valid(validator.descend(item, subschema))
            }
    keys |= {key for key in instance if _matched_by_patterns(schema, key)}
    return keys | _keys_by_subschemas(validator, instance, schema)


def unevaluated_properties(
    validator: Any, value: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    evaluated = _evaluated_keys(validator, instance, schema)
    unevaluated = [
        key
        for key in instance
        if key not in evaluated
        and not is_valid(validator.descend(instance[key], value, path=key, schema_path=key))
    ]
    if unevaluated and value is False:
        listed, verb = extras_msg(sorted(unevaluated, key=str))
        yield ValidationError(
            f"Unevaluated properties are not allowed ({listed} {verb} unexpected)"
        )
    elif unevaluated:
        listed, verb = extras_msg(unevaluated)
        yield ValidationError(
            "Unevaluated properties are not valid under the given schema "
            f"({listed} {verb} unevaluated and invalid)"
        )


def unevaluated_items(
    validator: Any, value: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "array"):
        return
    evaluated = set(find_evaluated_item_indexes_by_schema(validator, instance, schema))
    unevaluated = [
        item
        for index, item in enumerate(instance)
        if index not in evaluated and not is_valid(validator.descend(item, value, path=index))
    ]
    if unevaluated:
        listed, verb = extras_msg(unevaluated)
        yield ValidationError(f"Unevaluated items are not allowed ({listed} {verb} unexpected)")


def unique_items(
    validator: Any, value: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not value or not validator.is_type(instance, "array"):
        return
    seen: set[object] = set()
    for item in instance:
        canonical = canonical_value(item)
        if canonical in seen:
            yield ValidationError(f"{instance!r} has non-unique elements")
            return
        seen.add(canonical)


def exact(number: int | float) -> Fraction:
    """The exact value of a JSON number (a float by its shortest decimal spelling)."""
    return Fraction(Decimal(repr(number))) if isinstance(number, float) else Fraction(number)


def multiple_of(
    validator: Any, value: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "number") or not validator.is_type(value, "number"):
        return
    if value > 0 and (exact(instance) / exact(value)).denominator != 1:
        yield ValidationError(f"{instance!r} is not a multiple of {value}")


def _regex_format(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    regexp = compiled(instance)
    return not isinstance(regexp, str)


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
    checker.checks("regex")(_regex_format)
    return checker


def _charged(keyword: Keyword) -> Keyword:
    def run(
        validator: Any, value: Any, instance: Any, schema: dict[str, Any]
    ) -> Iterator[ValidationError]:
        # A keyword's own list or object (enum, required, properties...) is walked per use.
        charge(1 + (len(value) if isinstance(value, list | dict) else 0))
        for error in keyword(validator, value, instance, schema):
            # Messages quote the value they are about: repr runs at about 256 characters a unit.
            charge(len(error.message) // 256)
            yield error

    return run


_REPLACED: dict[str, Keyword] = {
    "pattern": pattern,
    "patternProperties": pattern_properties,
    "additionalProperties": additional_properties,
    "unevaluatedProperties": unevaluated_properties,
    "unevaluatedItems": unevaluated_items,
    "uniqueItems": unique_items,
    "multipleOf": multiple_of,
}

ConfigSchemaValidator: Any = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    validators={name: _charged(_REPLACED.get(name, keyword)) for name, keyword in _STOCK.items()},
    format_checker=_format_checker(),
)


_INIT_FIELDS = [
    (attribute.name, attribute.alias)
    for attribute in fields(ConfigSchemaValidator)
    if attribute.init
]


def _evolve_in_this_dialect(self: Any, **changes: Any) -> Any:
    # jsonschema's evolve switches to the stock class named by a subschema's $schema.
    changes.setdefault("schema", self.schema)
    for name, alias in _INIT_FIELDS:
        if alias not in changes:
            changes[alias] = getattr(self, name)
    return ConfigSchemaValidator(**changes)


ConfigSchemaValidator.evolve = _evolve_in_this_dialect
FORMAT_CHECKER: FormatChecker = ConfigSchemaValidator.FORMAT_CHECKER
