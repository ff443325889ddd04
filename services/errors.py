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
