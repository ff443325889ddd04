"""GET /api/v1/audit: who changed what, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.auth.authorization import AuthenticatedCaller, Permission, requires, scope_of
from api.problems.examples import problem_responses
from api.v1.dependencies import AuditServiceDep
from api.v1.pagination import LINK_HEADER_DOC, add_next_link
from models.api_key import Role
from models.audit import AuditAction, AuditFilter, AuditRecord
from models.fields import ApplicationId, ConfigurationId, DateTimeText

router = APIRouter(prefix="/audit", tags=["audit"])

MAX_RECORD_ID = 2**63 - 1


@router.get(
    "",
    summary="List audit records, newest first",
    description="An admin sees every record; a write key (or identity) sees the records of the "
    "applications it may write (not those of keys or bindings). Follow the `Link` header for "
    "older ones. A change made with an identity token names its `issuer`, `subject` and the "
    "`binding_ids` that let it in.",
    dependencies=[requires(Permission.WRITE)],
    responses={200: {"headers": LINK_HEADER_DOC}, **problem_responses(422, 503)},
)
def list_audit_records(
    service: AuditServiceDep,
    caller: AuthenticatedCaller,
    request: Request,
    response: Response,
    application_id: Annotated[ApplicationId | None, Query(description="Only this one.")] = None,
    configuration_id: Annotated[ConfigurationId | None, Query(description="Only this one.")] = None,
    key_id: Annotated[
        ApplicationId | None, Query(description="Only changes made with this key.")
    ] = None,
    action: Annotated[AuditAction | None, Query(description="Only this action.")] = None,
    since: Annotated[
        DateTimeText | None, Query(description="Only records at or after this (RFC 3339).")
    ] = None,
    until: Annotated[
        DateTimeText | None, Query(description="Only records before this (RFC 3339).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 50,
    after: Annotated[
        int | None,
        Query(ge=1, le=MAX_RECORD_ID, description="Return records older than this id."),
    ] = None,
) -> list[AuditRecord]:
    admin = caller.is_admin
    where = AuditFilter(
        application_id=application_id,
        configuration_id=configuration_id,
        key_id=key_id,
        action=action,
        since=since,
        until=until,
        visible_applications=None if admin else scope_of(caller, Role.WRITE),
        applications_only=not admin,
    )
    page = service.list(where=where, before=after, limit=limit)
    add_next_link(request, response, page, limit=limit)
    return page.items
