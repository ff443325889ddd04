from fastapi import APIRouter

from api.v1 import applications, configurations

router = APIRouter(prefix="/api/v1")
router.include_router(applications.router)
router.include_router(configurations.router)
