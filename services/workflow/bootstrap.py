"""Wires workflow: handlers, the timer poller and routes into a ServiceRuntime."""

from __future__ import annotations

from pathlib import Path

from services.workflow.adapters.db import inbox, outbox, progress, sessions, timers
from services.workflow.api import router
from services.workflow.handlers import HANDLERS, TIMER_FIRINGS
from shared.messaging.bus import Bus
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.timers import TimerPoller

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings, bus: Bus | None = None) -> ServiceRuntime:
    def timer_worker(rt: ServiceRuntime):  # type: ignore[no-untyped-def]
        poller = TimerPoller(rt.db, timers, TIMER_FIRINGS, tick_s=settings.timer_tick_s, batch=settings.timer_batch)
        rt.extras["timers"] = poller
        rt.metrics_probes.append(poller.due_probe())  # atiende_timers_due at scrape (shared/metrics.py)
        return poller.run

    rt = ServiceRuntime("workflow", settings, outbox=outbox, inbox=inbox, migrations=MIGRATIONS,
                        handlers={**sessions.handlers, **HANDLERS}, router=router, bus=bus,
                        workers={"timers": timer_worker}, title="Atiende workflow", progress=progress)
    rt.extras["sessions"] = sessions
    rt.extras["token_secret"] = settings.signing_secret()
    return rt


def create_app():  # type: ignore[no-untyped-def]
    """Uvicorn factory for `atiende serve` (settings from the environment)."""
    return build(Settings()).app
