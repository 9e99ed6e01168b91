"""intake's HTTP API, one module per area; ``router`` gathers them."""

from fastapi import APIRouter

from services.intake.api import api_keys, auth, cases, tenants, users

router = APIRouter()
for module in (auth, tenants, users, api_keys, cases):
    router.include_router(module.router)
