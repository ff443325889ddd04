"""The services a route uses, each made per request and declared once as an Annotated alias.

The providers are `async def` though they never wait: they only assemble objects, and FastAPI
runs a plain `def` dependency in the thread pool, a hop (and a GIL hand-over) per dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.app_state import DatabaseDep, IdentitiesDep, SettingsDep, get_secret_cipher
from api.auth.authorization import ActorDep, AuthenticatedCaller, may_reveal
from repositories.unit_of_work import UnitOfWorkFactory, unit_of_work_factory
from services.api_key_service import ApiKeyService
from services.application_service import ApplicationService
from services.audit_service import AuditService
from services.binding_service import BindingService
from services.configuration_service import ConfigurationService


async def get_unit_of_work(database: DatabaseDep) -> UnitOfWorkFactory:
    return unit_of_work_factory(database)


UnitOfWorkDep = Annotated[UnitOfWorkFactory, Depends(get_unit_of_work)]


async def get_application_service(
    unit_of_work: UnitOfWorkDep, actor: ActorDep
) -> ApplicationService:
    return ApplicationService(unit_of_work, actor=actor)


async def get_configuration_service(
    unit_of_work: UnitOfWorkDep,
    settings: SettingsDep,
    actor: ActorDep,
    caller: AuthenticatedCaller,
    request: Request,
) -> ConfigurationService:
    return ConfigurationService(
        unit_of_work,
        max_json_depth=settings.max_json_depth,
        max_document_bytes=settings.max_body_bytes,
        actor=actor,
        cipher=get_secret_cipher(request),
        may_reveal=lambda application_id: may_reveal(caller, application_id),
    )


async def get_api_key_service(unit_of_work: UnitOfWorkDep, settings: SettingsDep) -> ApiKeyService:
    return ApiKeyService(unit_of_work, pepper=settings.pepper)


async def get_binding_service(
    unit_of_work: UnitOfWorkDep, identities: IdentitiesDep
) -> BindingService:
    return BindingService(unit_of_work, trusted_issuers=identities.trusted_issuers)


async def get_audit_service(unit_of_work: UnitOfWorkDep) -> AuditService:
    return AuditService(unit_of_work)


ApplicationServiceDep = Annotated[ApplicationService, Depends(get_application_service)]
ConfigurationServiceDep = Annotated[ConfigurationService, Depends(get_configuration_service)]
ApiKeyServiceDep = Annotated[ApiKeyService, Depends(get_api_key_service)]
AuditServiceDep = Annotated[AuditService, Depends(get_audit_service)]
BindingServiceDep = Annotated[BindingService, Depends(get_binding_service)]
