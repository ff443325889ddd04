"""Domain errors: what went wrong, in the service's words. api/problems.py maps them to HTTP."""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True)
class FieldProblem:
    """One broken rule: where (`location`, `field`, optional JSON `pointer`), which, and why."""

    location: str
    field: str
    rule: str
    message: str
    pointer: str | None = None


class InvalidRequest(DomainError):
    """Well-formed input that breaks a rule only the service can check (a 422)."""

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
    """Other writers kept changing the resource while this write retried (no If-Match given)."""

    def __init__(self, *, resource: str, resource_id: str) -> None:
        super().__init__(
            f"{resource} {resource_id} was changed by other requests while this one was "
            "applied; retry (with If-Match to base it on a state you have seen)"
        )


class PreconditionFailed(DomainError):
    """The If-Match of the request names a version that is no longer current."""

    def __init__(
        self, *, resource: str, resource_id: str, current_version: int, current_revision: int
    ) -> None:
        super().__init__(
            f"{resource} {resource_id} is at revision {current_revision}, which the If-Match "
            "header does not name; fetch it again and retry with its ETag"
        )
        self.current_version = current_version
        self.current_revision = current_revision
