"""What every service process runs, whatever the service: its database (migrated on start),
its outbox relay, its consumer behind the inbox, its background workers, and its FastAPI app
with /health, /ready, problem details and correlation ids.

Services differ only in what they hand to ``ServiceRuntime`` (tables, handlers, routes,
workers); their ``bootstrap.py`` builds it. Which bus (RabbitMQ or in-process) and which
database (PostgreSQL or SQLite) is decided by ``make_bus`` and the settings, nowhere else.

The broker being down never stops a service from starting or accepting requests: the
connection is retried in the background and events wait in the outbox."""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import Table

from shared import metrics, tracing
from shared.db import Database
from shared.http import CorrelationIdMiddleware, make_app
from shared.logs import configure_logging
from shared.messaging.bus import Bus, MessageHandler
from shared.messaging.local import LocalBus
from shared.messaging.processor import EventProcessor, Handler, TxHandler
from shared.messaging.rabbit import RabbitBus
from shared.outbox import OutboxRelay
from shared.settings import Settings

log = logging.getLogger("atiende.runtime")

Worker = Callable[[], Awaitable[None]]
HandlerMap = dict[str, Handler | TxHandler]
__all__ = ["CorrelationIdMiddleware", "HandlerMap", "Readiness", "ServiceRuntime", "Worker", "make_bus", "runtime_of"]


class Readiness(BaseModel):
    status: str  # "ready" | "not ready"
    service: str
    checks: dict[str, Any]


def make_bus(settings: Settings) -> Bus:
    """RabbitMQ when ``ATIENDE_AMQP_URL`` is set, else the embedded in-process bus."""
    kw: dict[str, Any] = {"prefetch": settings.prefetch, "retry_delays_s": settings.retry_delays_s,
                          "max_attempts": settings.max_attempts, "batch": settings.consume_batch}
    if settings.amqp_url:
        return RabbitBus(settings.amqp_url, settings.namespace, publish_timeout_s=settings.publish_timeout_s, **kw)
    return LocalBus(settings.data_dir / "bus.sqlite3", settings.namespace, **kw)


class ServiceRuntime:
    def __init__(self, name: str, settings: Settings, *, outbox: Table, inbox: Table, migrations: Path,
                 handlers: HandlerMap | Callable[[ServiceRuntime], HandlerMap], router: APIRouter | None = None,
                 bus: Bus | None = None, workers: dict[str, Callable[[ServiceRuntime], Worker]] | None = None,
                 on_started: Callable[[ServiceRuntime], Awaitable[None]] | None = None,
                 title: str | None = None, progress: Table | None = None,
                 body_limits: dict[str, int] | None = None) -> None:
        self.name = name
        self.body_limits = body_limits or {}  # path -> bytes, for routes that take more than the default
        self.settings = settings
        self.migrations = migrations
        self.db = Database(settings.database_url_for(name), name, outbox, pool_size=settings.db_pool_size,
                           pool_timeout_s=settings.db_pool_timeout_s)
        self.owns_bus = bus is None
        self.bus: Bus = bus if bus is not None else make_bus(settings)
        # A factory lets handlers use adapters that need the runtime (its database).
        # ``progress``: the service's subject_progress table (events in order, messaging/ordering.py).
        self.processor = EventProcessor(name, self.db, inbox, handlers(self) if callable(handlers) else handlers,
                                        progress=progress)
        self.relay = OutboxRelay(self.db, self.bus, batch=settings.relay_batch,
                                 idle_poll_s=settings.relay_idle_poll_s)
        self.replica_id = uuid.uuid4().hex[:8]  # names this process's own queues (listeners)
        # Traces when an OTLP endpoint is configured (shared/tracing.py); None: off, nothing loaded.
        self.tracing = tracing.for_service(settings, name, self.replica_id)
        if self.tracing is not None:
            self.tracing.instrument_engine(self.db.engine)
            self.relay.tracing = self.tracing
        self.router = router
        self.worker_factories = workers or {}
        self.on_started = on_started
        self.title = title or f"Atiende {name}"
        self.extras: dict[str, Any] = {}  # adapters a service hangs here (mailer, caches...)
        self._listeners: list[tuple[str, list[str], MessageHandler]] = []
        self.started = False
        self.subscribed = False
        self._tasks: list[asyncio.Task[None]] = []
        # Gauges read from tables when /metrics is scraped (shared/metrics.py); a service adds its own.
        self.metrics_probes: list[metrics.Probe] = [metrics.outbox_probe(name, self.db)]
        self.app = self._create_app()
        if self.tracing is not None:
            self.tracing.instrument_app(self.app)

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self, *, migrate: bool = True) -> None:
        if self.started:
            return
        configure_logging(self.settings.log_level, self.settings.log_json)
        if migrate:
            await self.db.migrate(self.migrations)
        if self.on_started is not None:
            await self.on_started(self)
        self.started = True
        self._spawn("bus", self._connect_bus)
        self._spawn("relay", self.relay.run)
        for wname, factory in self.worker_factories.items():
            self._spawn(wname, factory(self))
        # What exists now (metadata, schemas, routes, templates) lives as long as the process:
        # moved out of the collector's reach, so a full collection scans only what requests made.
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 20, 20)
        log.info("service started", extra={"service": self.name})

    async def stop(self, grace_s: float = 5.0) -> None:
        # The relay first finishes its batch in flight; everything else is cancelled. Bounded
        # waits: a stuck task is logged and left behind rather than hanging the shutdown.
        self.relay.stop()
        relay_tasks = [t for t in self._tasks if t.get_name().endswith(":relay")]
        if relay_tasks:
            await asyncio.wait(relay_tasks, timeout=grace_s)
        for t in self._tasks:
            t.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace_s)
            for t in pending:
                log.error("task %s did not stop within %.0fs", t.get_name(), grace_s, extra={"service": self.name})
        self._tasks.clear()
        if self.owns_bus:
            await self.bus.close()
        for closer in self.extras.get("closers", []):
            await closer()
        await self.db.dispose()
        if self.tracing is not None:  # the last runtime of the process flushes and ends tracing
            await tracing.release(self.name)
            self.tracing = self.relay.tracing = None
        self.started = False
        self.subscribed = False

    async def __aenter__(self) -> ServiceRuntime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, what: str, fn: Worker) -> None:
        async def supervised() -> None:
            while True:
                try:
                    await fn()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s worker crashed; restarting in 1s", what, extra={"service": self.name})
                    await asyncio.sleep(1.0)

        self._tasks.append(asyncio.create_task(supervised(), name=f"{self.name}:{what}"))

    def listen(self, purpose: str, patterns: list[str], handler: MessageHandler) -> None:
        """Have this replica alone receive every event matching ``patterns`` (``Bus.listen``), on
        ``<ns>.<service>.<purpose>.<replica-id>``, once the bus is connected."""
        self._listeners.append((purpose, patterns, handler))

    async def _connect_bus(self) -> None:
        delay = 0.2
        consuming = False
        listening = 0
        while True:
            try:
                await self.bus.start()
                if self.processor.event_types and not consuming:
                    await self.bus.subscribe(self.name, self.processor.event_types, self.processor)
                consuming = True  # a retry below must not open a second consumer
                for purpose, patterns, handler in self._listeners[listening:]:
                    await self.bus.listen(f"{self.name}.{purpose}.{self.replica_id}", patterns, handler)
                    listening += 1
                self.subscribed = True
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("broker not reachable (%r); retrying in %.1fs", exc, delay, extra={"service": self.name})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Any] = {}
        try:
            await asyncio.wait_for(self.db.ping(), 2.0)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {exc!r}"
        checks["broker"] = "ok" if getattr(self.bus, "connected", False) else "down"
        expected = 1 if self.processor.event_types else 0
        try:
            n = await asyncio.wait_for(self.bus.consumer_count(self.name), 2.0) if expected else 0
        except Exception as exc:
            n = 0
            checks["consumers_error"] = repr(exc)
        checks["consumers"] = n
        checks["outbox_relay"] = self.relay.last_error or "ok"
        ok = checks["database"] == "ok" and checks["broker"] == "ok" and n >= expected and self.started
        return ok, checks

    # -- HTTP ---------------------------------------------------------------------------------
    def _create_app(self) -> FastAPI:
        runtime = self

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            started_here = not runtime.started
            if started_here:
                await runtime.start()
            yield
            if started_here:
                await runtime.stop()

        app = make_app(self.title, self.settings, lifespan, body_limits=self.body_limits, service=self.name)
        app.state.runtime = self

        @app.get("/health", tags=["ops"])
        async def health() -> dict[str, str]:
            return {"status": "ok", "service": runtime.name}

        @app.get("/ready", tags=["ops"], response_model=Readiness,
                 responses={503: {"model": Readiness, "description": "Not ready: see checks"}})
        async def ready() -> JSONResponse:
            ok, checks = await runtime.readiness()
            return JSONResponse({"status": "ready" if ok else "not ready", "service": runtime.name,
                                 "checks": checks}, status_code=200 if ok else 503)

        # For Prometheus on the internal network: no token, not in the schema; the public proxy
        # answers 404 for it (deploy/Caddyfile).
        @app.get("/metrics", include_in_schema=False)
        async def metrics_text() -> Response:
            return Response(await metrics.render(runtime.name, runtime.metrics_probes),
                            media_type=metrics.CONTENT_TYPE_LATEST)

        if self.router is not None:
            app.include_router(self.router)
        return app


def runtime_of(request: Request) -> ServiceRuntime:
    rt: ServiceRuntime = request.app.state.runtime
    return rt
