"""The check every write makes of the version it found, before it writes."""

from __future__ import annotations

from models.versioned import Precondition, Versioned
from services.errors import PreconditionFailed, Revisioned


def check_precondition(
    precondition: Precondition | None,
    current: Versioned[Revisioned],
    *,
    resource: str,
    resource_id: str,
) -> None:
    """Raise PreconditionFailed unless `precondition` allows `current`'s version."""
    if precondition is None or precondition.allows(current.version):
        return
    raise PreconditionFailed(
        resource=resource,
        resource_id=resource_id,
        current=current,
        unwanted=precondition.expects(current.version),
    )
