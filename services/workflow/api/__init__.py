"""workflow's HTTP API (ops and other tools; agents read time through intake)."""

from fastapi import APIRouter

from services.workflow.api import deadlines

router = APIRouter()
router.include_router(deadlines.router)
