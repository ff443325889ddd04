"""Request-scoped dependencies, declared once as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from api.auth.authorization import ActorDep
from config.settings import Settings
from database.pool import Database
from repositories.unit_of_work import UnitOfWorkFactory, unit_of_work_factory
from services.api_key_service import ApiKeyService
from services.application_service import ApplicationService
from services.audit_service import AuditService
from services.configuration_service import ConfigurationService


def get_settings_from_app(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


SettingsDep = Annotated[Settings, Depends(get_settings_from_app)]
DatabaseDep = Annotated[Database, Depends(get_database)]


def get_unit_of_work(database: DatabaseDep) -> UnitOfWorkFactory:
    return unit_of_work_factory(database)


UnitOfWorkDep = Annotated[UnitOfWorkFactory, Depends(get_unit_of_work)]


def get_application_service(unit_of_work: UnitOfWorkDep, actor: ActorDep) -> ApplicationService:
    return ApplicationService(unit_of_work, actor=actor)


def get_configuration_service(
    unit_of_work: UnitOfWorkDep, settings: SettingsDep, actor: ActorDep
) -> ConfigurationService:
    return ConfigurationService(
        unit_of_work,
        max_json_depth=settings.max_json_depth,
        max_document_bytes=settings.max_body_bytes,
        actor=actor,
    )


def get_api_key_service(unit_of_work: UnitOfWorkDep, settings: SettingsDep) -> ApiKeyService:
    return ApiKeyService(unit_of_work, pepper=settings.pepper)


def get_audit_service(unit_of_work: UnitOfWorkDep) -> AuditService:
    return AuditService(unit_of_work)


ApplicationServiceDep = Annotated[ApplicationService, Depends(get_application_service)]
ConfigurationServiceDep = Annotated[ConfigurationService, Depends(get_configuration_service)]
ApiKeyServiceDep = Annotated[ApiKeyService, Depends(get_api_key_service)]
AuditServiceDep = Annotated[AuditService, Depends(get_audit_service)]


def require_json_body(request: Request) -> None:
    """Bodies must be declared as JSON, so a form post or a typo'd header is not misread."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        shown = repr(content_type[:100]) if content_type else "no Content-Type header"
        raise HTTPException(415, detail=f"send the body as application/json (got {shown})")


JsonBody = Depends(require_json_body)


def require_json_body_if_any(request: Request) -> None:
    """For routes whose body is optional: a body that is sent must be JSON too."""
    has_body = request.headers.get("content-length", "0") != "0" or (
        "transfer-encoding" in request.headers
    )
    if has_body:
        require_json_body(request)


OptionalJsonBody = Depends(require_json_body_if_any)
