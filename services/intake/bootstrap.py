"""Wires intake: tables, handlers, routes and adapters into a ServiceRuntime."""

from __future__ import annotations

from pathlib import Path

from services.intake.adapters.db import inbox, outbox
from services.intake.adapters.repository import CatalogCache
from services.intake.api import router
from services.intake.domain.parties import MAX_IMPORT_BYTES
from services.intake.handlers import HANDLERS
from services.intake.service_layer.exports import ExportRunner
from shared.contracts.envelope import Envelope
from shared.messaging.bus import Bus
from shared.runtime import ServiceRuntime
from shared.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings, bus: Bus | None = None) -> ServiceRuntime:
    rt = ServiceRuntime("intake", settings, outbox=outbox, inbox=inbox, migrations=MIGRATIONS, handlers=HANDLERS,
                        router=router, bus=bus, title="Atiende intake (public API)",
                        # The supplies import takes a billing file: its own bound (and 413 text) applies,
                        # so the general limit stands a little above it.
                        body_limits={"/supplies/import": MAX_IMPORT_BYTES + 1024 * 1024})
    cache = rt.extras["catalog"] = CatalogCache(rt.db)
    runner = rt.extras["exports"] = ExportRunner()  # R4.10: this process's export jobs
    rt.extras.setdefault("closers", []).append(runner.close)

    async def catalog_changed(env: Envelope) -> None:
        # A catalog change made through any replica clears every replica's cache (not only the
        # one that made it); idempotent, so no inbox. The TTL still bounds staleness when the
        # broker was unreachable.
        cache.clear()

    rt.listen("cache", ["catalog.#"], catalog_changed)
    rt.extras["token_secret"] = settings.signing_secret()
    return rt


def create_app():  # type: ignore[no-untyped-def]
    """Uvicorn factory for `atiende serve` (settings from the environment)."""
    return build(Settings()).app
