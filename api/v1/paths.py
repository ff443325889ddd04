"""Path parameters shared by the routes: ids (ULIDs, either case) and revision numbers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from models.fields import MAX_REVISION, ApplicationId, ConfigurationId

ApplicationIdPath = Annotated[
    ApplicationId, Path(description="The application's id (a ULID, either case).")
]
ConfigurationIdPath = Annotated[
    ConfigurationId, Path(description="The configuration's id (a ULID, either case).")
]
RevisionPath = Annotated[
    int, Path(ge=1, le=MAX_REVISION, description="A revision number (1 is the first).")
]
# A key id is a ULID, checked as application ids are.
KeyIdPath = Annotated[ApplicationId, Path(description="The key's id (a ULID, either case).")]
BindingIdPath = Annotated[
    ApplicationId, Path(description="The binding's id (a ULID, either case).")
]
