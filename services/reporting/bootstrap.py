"""Wires reporting: read-model handlers and report routes into a ServiceRuntime."""

from __future__ import annotations

from pathlib import Path

from services.reporting.adapters.db import inbox, outbox, progress, sessions
from services.reporting.api import router
from services.reporting.api_contracts import router as contracts_router
from services.reporting.api_reports import router as reports_router
from services.reporting.api_retention import router as retention_router
from services.reporting.handlers import HANDLERS
from shared.messaging.bus import Bus
from shared.runtime import ServiceRuntime
from shared.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
router.include_router(retention_router)  # R1.5 commission report
router.include_router(reports_router)  # issue 13: SLA, workload and R2.9 activity reports, charts
router.include_router(contracts_router)  # event contracts for outside consumers (issue 13)


def build(settings: Settings, bus: Bus | None = None) -> ServiceRuntime:
    rt = ServiceRuntime("reporting", settings, outbox=outbox, inbox=inbox, migrations=MIGRATIONS,
                        handlers={**HANDLERS, **sessions.handlers}, router=router, bus=bus,
                        title="Atiende reporting", progress=progress)
    rt.extras["sessions"] = sessions
    rt.extras["token_secret"] = settings.signing_secret()
    return rt


def create_app():  # type: ignore[no-untyped-def]
    """Uvicorn factory for `atiende serve` (settings from the environment)."""
    return build(Settings()).app
