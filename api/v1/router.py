"""The /api/v1 routes, gathered under their prefix."""

from fastapi import APIRouter

from api.v1 import (
    applications,
    audit,
    bindings,
    configurations,
    events,
    keys,
    revisions,
    values,
)

router = APIRouter(prefix="/api/v1")
router.include_router(applications.router)
router.include_router(configurations.router)
router.include_router(revisions.router)
router.include_router(values.router)
router.include_router(events.router)
router.include_router(keys.router)
router.include_router(bindings.router)
router.include_router(audit.router)
