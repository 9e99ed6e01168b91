"""Prometheus metrics of every service (issue 15): what they are, and the cheap ways to feed them.

One registry for the process (``REGISTRY``), every series labelled with its ``service``, and
each service's ``GET /metrics`` showing only its own series (``render``). Why not one registry
per runtime: the places that count (the bus, the notifier's delivery code, the timer poller) then
need no runtime handed to them, and a metric is defined once per process whatever runs in it —
``atiende run`` (four services in one process) cannot register a name twice. The cost: two
replicas of one service in one process (tests only) add up in the same series.

What is counted where, and what it costs:

- HTTP: ``HttpMetricsMiddleware`` (pure ASGI, in ``make_app``) times each request and labels it
  with the matched route's template (``/cases/{case_id}``, never the raw path: ids would explode
  the number of series), ``unmatched`` when no route matched, and the status class.
- Events: the processor counts what it handled (``ok``) with the handling time and the lag (now −
  the envelope's time); the bus counts what failed (``retry``, ``dead``). Batches: each event
  counts once, with the batch's time shared among them.
- Gauges read from tables (outbox waiting and its oldest age, unsettled deliveries, timers due)
  are computed at scrape time by the service's probes, one query each on a partial index of
  just those rows (``outbox_pending``, ``deliveries_unsettled``, ``timers_pending_due``): nothing
  is queried per request or per event.

Children (one labelled series) are cached in plain dicts: the hot path pays a dict lookup and an
``observe``/``inc``, not ``labels()``'s validation and lock."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Table, func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import clock

log = logging.getLogger("atiende.metrics")

__all__ = ["CONTENT_TYPE_LATEST", "METRIC_NAMES", "REGISTRY", "HttpMetricsMiddleware", "Probe", "event_failed",
           "events_handled", "outbox_probe", "render"]

REGISTRY = CollectorRegistry(auto_describe=True)

# Seconds. Lags reach the retry delays (5 s, 60 s, 600 s) and timers may fire after a pause.
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

http_duration = Histogram("atiende_http_request_duration_seconds", "HTTP requests by route template",
                          ["service", "method", "route", "status"], registry=REGISTRY)
events_handled_total = Counter("atiende_events_handled_total", "Events handled, by outcome (ok, retry, dead)",
                               ["service", "type", "outcome"], registry=REGISTRY)
event_handling = Histogram("atiende_event_handling_seconds", "Time handling an event, by outcome",
                           ["service", "type", "outcome"], registry=REGISTRY)
event_lag = Histogram("atiende_event_lag_seconds", "Now minus the event's time, when it was handled",
                      ["service", "type"], buckets=_LAG_BUCKETS, registry=REGISTRY)
retries_total = Counter("atiende_retries_total", "Events sent to a retry queue", ["service", "type"],
                        registry=REGISTRY)
dead_letters_total = Counter("atiende_dead_letters_total", "Events dead-lettered", ["service", "type"],
                             registry=REGISTRY)
outbox_waiting = Gauge("atiende_outbox_waiting", "Outbox rows not yet published", ["service"], registry=REGISTRY)
outbox_oldest_age = Gauge("atiende_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row (0: none)",
                          ["service"], registry=REGISTRY)
deliveries_total = Counter("atiende_deliveries_total", "Deliveries reaching a state, by channel",
                           ["service", "channel", "state"], registry=REGISTRY)
deliveries_unsettled = Gauge("atiende_deliveries_unsettled", "Deliveries pending, sending or unknown",
                             ["service", "channel", "state"], registry=REGISTRY)
timers_due = Gauge("atiende_timers_due", "Timers due and not fired yet", ["service"], registry=REGISTRY)
timer_firing_lag = Histogram("atiende_timer_firing_lag_seconds", "Fire time minus due time", ["service", "kind"],
                             buckets=_LAG_BUCKETS, registry=REGISTRY)
probe_errors_total = Counter("atiende_metrics_probe_errors_total", "Scrape-time queries that failed",
                             ["service"], registry=REGISTRY)

# The families the dashboard may name (counters without ``_total``; tests/test_deploy_files.py).
METRIC_NAMES = frozenset(family.name for m in (
    http_duration, events_handled_total, event_handling, event_lag, retries_total, dead_letters_total,
    outbox_waiting, outbox_oldest_age, deliveries_total, deliveries_unsettled, timers_due, timer_firing_lag,
    probe_errors_total) for family in m.describe())

_children: dict[tuple[Any, ...], Any] = {}


def _child(metric: Any, *labels: str) -> Any:
    key = (metric, *labels)
    c = _children.get(key)
    if c is None:
        c = _children[key] = metric.labels(*labels)
    return c


# -- events -------------------------------------------------------------------------------------
def events_handled(service: str, envs: Iterable[Any], seconds: float) -> None:
    """Events a handler completed: count, handling time (a batch's time shared) and lag."""
    envs = list(envs)
    if not envs:
        return
    share = seconds / len(envs)
    now = clock.now()
    for env in envs:
        _child(events_handled_total, service, env.type, "ok").inc()
        _child(event_handling, service, env.type, "ok").observe(share)
        _child(event_lag, service, env.type).observe(max((now - env.time).total_seconds(), 0.0))


def event_failed(handler: Any, service: str, event_type: str, *, dead: bool, seconds: float) -> None:
    """A handler's failure as the bus settled it: to a retry queue or dead-lettered. Only for a
    service's consumer (the processor), not for a replica's listeners."""
    if not getattr(handler, "counts_metrics", False):
        return
    outcome = "dead" if dead else "retry"
    _child(events_handled_total, service, event_type, outcome).inc()
    _child(event_handling, service, event_type, outcome).observe(seconds)
    _child(dead_letters_total if dead else retries_total, service, event_type).inc()


# -- deliveries and timers ----------------------------------------------------------------------
def delivery_reached(channel: str, state: str, n: int = 1, service: str = "notifier") -> None:
    """``n`` deliveries moved to ``state`` (counted where the state is written)."""
    if n:
        _child(deliveries_total, service, channel, state).inc(n)


def timer_fired(service: str, kind: str, lag_seconds: float) -> None:
    _child(timer_firing_lag, service, kind).observe(max(lag_seconds, 0.0))


# -- scrape-time probes -------------------------------------------------------------------------
Probe = Callable[[], Awaitable[None]]
PROBE_TIMEOUT_S = 2.0


def outbox_probe(service: str, db: Any) -> Probe:
    """Waiting rows and the oldest one's age, in one statement on the partial index
    ``outbox_pending`` (id WHERE published_at IS NULL): it holds only the waiting rows."""
    ob: Table = db.outbox
    pending = ob.c.published_at.is_(None)
    oldest = select(ob.c.created_at).where(pending).order_by(ob.c.id).limit(1).scalar_subquery()

    async def probe() -> None:
        async with db.read() as conn:
            row = (await conn.execute(select(func.count(), oldest).select_from(ob).where(pending))).one()
        outbox_waiting.labels(service).set(row[0])
        age = (clock.now() - row[1]).total_seconds() if row[1] is not None else 0.0
        outbox_oldest_age.labels(service).set(max(age, 0.0))

    return probe


def gauge_probe(service: str, db: Any, gauge: Gauge, query: Any) -> Probe:
    """A labelled gauge set from one grouped query (its columns: the labels after ``service``,
    then the value); series absent from the answer are dropped (they are 0)."""

    async def probe() -> None:
        async with db.read() as conn:
            rows = (await conn.execute(query() if callable(query) else query)).all()
        for labels in [s.labels for m in gauge.collect() for s in m.samples if s.labels.get("service") == service]:
            gauge.remove(*labels.values())
        for *labels, value in rows:
            gauge.labels(service, *labels).set(value or 0)

    return probe


class _ServiceView(Collector):
    """The process's series of one service, plus those that name no service (the process's)."""

    def __init__(self, service: str) -> None:
        self.service = service

    def collect(self) -> Iterable[Metric]:
        for metric in REGISTRY.collect():
            samples = [s for s in metric.samples if s.labels.get("service", self.service) == self.service]
            if samples or not metric.samples:
                out = Metric(metric.name, metric.documentation, metric.type, metric.unit)
                out.samples = samples
                yield out


async def render(service: str, probes: Iterable[Probe]) -> bytes:
    """The text exposition of ``service``'s series, its gauges refreshed first. A failing probe
    leaves its gauge as last read and is counted (the scrape itself still answers)."""
    for probe in probes:
        try:
            await asyncio.wait_for(probe(), PROBE_TIMEOUT_S)
        except Exception as exc:
            _child(probe_errors_total, service).inc()
            log.warning("metrics probe failed: %r", exc, extra={"service": service})
    view = CollectorRegistry(auto_describe=False)
    view.register(_ServiceView(service))
    return generate_latest(view)


# -- HTTP ---------------------------------------------------------------------------------------
_STATUS_CLASS = {i: f"{i}xx" for i in range(1, 6)}
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # others: "other"


class HttpMetricsMiddleware:
    """Times each HTTP request (until its response is sent) by method, route template and status
    class. The template is read from ``scope["route"]`` after the app returns: the router puts the
    matched route there (and it keeps ``path_format``, the path with ``{placeholders}``)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before starting a response

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            _child(http_duration, self.service, method, template,
                   _STATUS_CLASS.get(status // 100, "other")).observe(time.perf_counter() - started)
