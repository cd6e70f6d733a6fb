"""Every shop route under ``/api/shop``, answering failures as RFC 9457 problem details."""

from __future__ import annotations

from fastapi import APIRouter

from agora.platform.error_formats import PROBLEM_DETAILS, Api
from agora.shop.catalog.api import router as catalog_router
from agora.shop.catalog.staff_api import router as staff_router
from agora.shop.search.api import router as search_router

router = APIRouter(prefix="/api/shop")
router.include_router(catalog_router)
router.include_router(search_router)
router.include_router(staff_router)

api = Api(router, errors=PROBLEM_DETAILS)
