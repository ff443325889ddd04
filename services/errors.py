"""Domain errors: what went wrong, in the service's words. api/problems/handlers.py maps them to
HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from models.versioned import Versioned


class DomainError(Exception):
    """Base class of every error a service raises on purpose."""


class NotFound(DomainError):
    resource = "resource"

    def __init__(self, resource_id: str) -> None:
        super().__init__(f"{self.resource} {resource_id} does not exist")
        self.resource_id = resource_id


class ApplicationNotFound(NotFound):
    resource = "application"


class ConfigurationNotFound(NotFound):
    resource = "configuration"


class ApiKeyNotFound(NotFound):
    resource = "key"


class BindingNotFound(NotFound):
    resource = "binding"


class Conflict(DomainError):
    """The request is valid but clashes with the current state of the data."""


class ApplicationNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"an application named {name!r} already exists")
        self.name = name


class ConfigurationNameTaken(Conflict):
    def __init__(self, *, application_id: str, name: str) -> None:
        super().__init__(f"application {application_id} already has a configuration named {name!r}")
        self.application_id = application_id
        self.name = name


class ApplicationTooLargeToDelete(Conflict):
    """Deleting the application would record more changes (one per configuration, one for
    itself) than one transaction's change-log positions hold."""

    def __init__(self, *, application_id: str, configurations: int, most: int) -> None:
        super().__init__(
            f"application {application_id} has {configurations} configurations; one deletion "
            f"records at most {most}: delete some of its configurations first"
        )
        self.application_id = application_id


@dataclass(frozen=True)
class FieldProblem:
    """One broken rule: where in what was written (the dotted `field` and, when it has one, an
    RFC 6901 `pointer` relative to the written configuration, e.g. /config/database), which
    rule, and why."""

    field: str
    rule: str
    message: str
    pointer: str | None = None

    @classmethod
    def at(cls, pointer: str, *, rule: str, message: str) -> FieldProblem:
        """The problem at `pointer`, its field spelled as the pointer's tokens joined by dots."""
        return cls(pointer.lstrip("/").replace("/", "."), rule, message, pointer)


class InvalidRequest(DomainError):
    """Well-formed input that breaks a rule only the service can check (the request is refused)."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        summary = "; ".join(f"{problem.field}: {problem.message}" for problem in problems[:3])
        super().__init__(summary)
        self.problems = problems


class RevisionNotFound(NotFound):
    resource = "revision"

    def __init__(self, *, configuration_id: str, revision: int) -> None:
        DomainError.__init__(self, f"configuration {configuration_id} has no revision {revision}")
        self.resource_id = configuration_id
        self.revision = revision


class ConcurrentModification(Conflict):
    """Other writers kept changing the resource on every attempt of a write that expected no
    particular version."""

    def __init__(self, *, resource: str, resource_id: str) -> None:
        super().__init__(f"{resource} {resource_id} was changed by other writers on every attempt")
        self.resource = resource
        self.resource_id = resource_id


class Revisioned(Protocol):
    @property
    def revision(self) -> int: ...


class PreconditionFailed(DomainError):
    """The write found a version it did not expect (or one it was told must not be there)."""

    def __init__(
        self,
        *,
        resource: str,
        resource_id: str,
        current: Versioned[Revisioned],
        unwanted: bool = False,
    ) -> None:
        expectation = "one the write must not find" if unwanted else "not one the write expected"
        super().__init__(
            f"{resource} {resource_id} is at revision {current.value.revision}, {expectation}"
        )
        self.resource = resource
        self.resource_id = resource_id
        self.current = current
        self.unwanted = unwanted


class NamedNotFound(NotFound):
    """Nothing has this name (values are read by application and configuration name)."""

    def __init__(self, message: str, *, name: str) -> None:
        DomainError.__init__(self, message)
        self.resource_id = name


class ApplicationNameNotFound(NamedNotFound):
    resource = "application"

    def __init__(self, name: str) -> None:
        super().__init__(f"no application is named {name!r}", name=name)


class ConfigurationNameNotFound(NamedNotFound):
    resource = "configuration"

    def __init__(self, *, application_name: str, name: str) -> None:
        super().__init__(
            f"application {application_name!r} has no configuration named {name!r}", name=name
        )


class ChangePositionExpired(DomainError):
    """A reader asked for changes after a position the change log no longer holds (or never
    held): it must read everything again and continue from `head`."""

    def __init__(self, *, position: int, pruned: int, head: int) -> None:
        super().__init__(
            f"the change log no longer holds position {position} (it holds the changes after "
            f"position {pruned} up to position {head}); read every configuration again, then "
            f"continue after position {head}"
        )
        self.position = position
        self.head = head
