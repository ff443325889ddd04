"""What a configuration may be: the state a write leaves, and the rules it must keep.

Problems are named by pointers relative to the configuration's editable fields
(`/config/database/pool_size`, `/schema`, `/name`, `/secrets/0`). The rules see the plain
config (the secret values themselves); their messages never show a secret value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from models.configuration import Configuration, ConfigurationPatch, ConfigurationState, JsonObject
from models.json_document import (
    DocumentProblem,
    find_document_problems,
    json_pointer,
    same_document,
)
from services.errors import FieldProblem, InvalidRequest
from services.json_schema_rules import config_problems, schema_problems
from services.merge_patch import apply_merge_patch
from services.secret_values.errors import SecretsKeysNotSet
from services.secret_values.locations import (
    SecretLocations,
    check_locations,
    fill_placeholders,
    placeholders_unmarked,
)


@dataclass(frozen=True)
class State:
    """The editable part of a configuration: what a revision records."""

    name: str
    comments: str | None
    config: JsonObject  # plain: the secret values themselves
    schema: JsonObject | None
    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, configuration: Configuration) -> State:
        """The state of `configuration` as it is (plain, when its config is)."""
        return cls(
            name=configuration.name,
            comments=configuration.comments,
            config=configuration.config,
            schema=configuration.json_schema,
            secrets=tuple(configuration.secrets),
        )

    def same_as(self, other: State) -> bool:
        return (
            (self.name, self.comments, self.secrets) == (other.name, other.comments, other.secrets)
            and same_document(self.config, other.config)
            and same_document(self.schema, other.schema)
        )


@dataclass(frozen=True)
class Change:
    """How to get from the current state to the next, and what the revision records."""

    apply: Callable[[Configuration], State]
    message: str | None = None
    restored_from: int | None = None

    @property
    def always_writes(self) -> bool:
        """A restore always makes a revision; an edit only when something changed."""
        return self.restored_from is not None


def document_problems(problems: Sequence[DocumentProblem], root: str = "") -> list[FieldProblem]:
    """Storage-rule problems of the document at `root` (a pointer), as field problems."""
    return [
        FieldProblem.at(root + problem.pointer, rule=problem.rule, message=problem.message)
        for problem in problems
    ]


def raise_document_problems(
    document: object, root: str, *, max_depth: int, max_stored_bytes: int | None = None
) -> None:
    problems = find_document_problems(
        document, max_depth=max_depth, max_stored_bytes=max_stored_bytes
    )
    if problems:
        raise InvalidRequest(document_problems(problems, root))


def check_state(
    state: State,
    *,
    max_json_depth: int,
    max_document_bytes: int | None = None,
    can_seal: bool = True,
) -> None:
    """A key to seal its secrets with (`can_seal`), storage rules for config and schema (each
    at most `max_document_bytes` as stored), then the schema itself, then config against it
    (errors never show a secret value; the secret locations must have passed kept_secrets)."""
    if state.secrets and not can_seal:
        raise InvalidRequest([no_key_for_secrets()])
    for document, root in ((state.config, "/config"), (state.schema, "/schema")):
        if document is not None:
            raise_document_problems(
                document, root, max_depth=max_json_depth, max_stored_bytes=max_document_bytes
            )
    if state.schema is None:
        return
    problems = schema_problems(state.schema) or config_problems(
        state.config, state.schema, secrets=SecretLocations.of(state.secrets)
    )
    if problems:
        raise InvalidRequest(problems)


def validation_problems(error: ValidationError) -> list[FieldProblem]:
    return [
        FieldProblem(
            field=".".join(str(part) for part in item["loc"]),
            rule=item["type"],
            message=item["msg"],
            pointer=json_pointer(item["loc"]),
        )
        for item in error.errors(include_url=False)
    ]


def patched_state(current: Configuration, patch: ConfigurationPatch) -> State:
    """`current` with the merge patch applied; InvalidRequest when the result is not a
    configuration (a member it may not have, a name removed, a config that is not an object)."""
    target: dict[str, Any] = {
        "name": current.name,
        "comments": current.comments,
        "config": current.config,
        "schema": current.json_schema,
        "secrets": current.secrets,
    }
    try:
        state = ConfigurationState.model_validate(apply_merge_patch(target, patch.members))
    except ValidationError as error:
        raise InvalidRequest(validation_problems(error)) from error
    return State(
        name=state.name,
        comments=state.comments,
        config=state.config,
        schema=state.json_schema,
        secrets=tuple(state.secrets),
    )


def kept_secrets(
    state: State, stored: JsonObject | None, stored_secrets: Sequence[str] = ()
) -> State:
    """`state` once its secret locations are checked against its config, with the placeholder
    at each replaced by the value `stored` (the current plain config; None on create) has
    there: a masked document written back keeps its secrets. A placeholder left at a location
    of `stored_secrets` that the state no longer marks is refused."""
    problems = check_locations(state.secrets, state.config)
    if problems:
        raise InvalidRequest(problems)
    locations = SecretLocations.of(state.secrets)
    problems = placeholders_unmarked(state.config, locations, SecretLocations.of(stored_secrets))
    config, missing = fill_placeholders(state.config, locations, stored)
    problems += missing
    if problems:
        raise InvalidRequest(problems)
    return replace(state, config=config)


def no_key_for_secrets() -> FieldProblem:
    return FieldProblem("secrets", "secrets_keys_not_set", str(SecretsKeysNotSet()), "/secrets")


def unknown_application(application_id: str) -> FieldProblem:
    return FieldProblem(
        field="application_id",
        rule="application_exists",
        message=f"application {application_id} does not exist",
    )
