"""OpenTelemetry traces (issue 15): one case's path is one trace, from the HTTP request through
the outbox, the broker and every consumer. Off unless an OTLP endpoint is configured.

Configured by ``ATIENDE_OTLP_ENDPOINT`` (the base URL of an OTLP/HTTP receiver — a collector,
Jaeger — e.g. ``http://otel-collector:4318``; spans are POSTed as protobuf to ``<it>/v1/traces``),
else by the SDK's own ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``;
``OTEL_SDK_DISABLED=true`` turns it off whatever is set. Off, nothing of the SDK is imported, no
provider, processor or exporter exists, nothing is instrumented, and every hook in the hot paths
(``Tx.emit``, the relay, the buses) costs one test of ``tracing.ON``.

What makes the spans, on:

- HTTP: opentelemetry-instrumentation-fastapi on each service's app (a server span named by the
  route template; /health, /ready and /metrics are not traced; no per-message receive/send spans).
- SQL: opentelemetry-instrumentation-sqlalchemy's ``EngineTracer`` on the service's engine (one
  client span per statement, under the request's or the handler's span). SQL with no span around
  it (timer polls, the relay's claims) would make a trace per poll: the sampler drops it.
- RabbitMQ: opentelemetry-instrumentation-aio-pika (a consumer span around each delivery, and the
  publish spans of retries and dead letters, which keep the trace).
- The outbox, ours: ``Tx.emit`` writes the current span's W3C ``traceparent`` into the event's
  JSON (the CloudEvents distributed-tracing extension attribute, last in the object), so the
  context survives the transaction. The relay publishes each row under a producer span that is a
  child of that context (``outbox publish <type>``), puts that span's context in the AMQP headers
  (``traceparent``, and the correlation id as W3C baggage) and in the body in place of the
  creation's, and ends it when the broker has confirmed.
- Consumers, ours: ``<service> process <type>``, a child of the delivery's span (RabbitMQ) or of
  the body's ``traceparent`` (the embedded bus), around the processor (inbox, handler, commit,
  outside effects such as the e-mail). A batch handled in one transaction gets one span with a
  link to each message, and each message a span in its own trace, linked to the batch's.

The correlation id is the trace. A request without ``traceparent`` whose correlation id (its
``X-Correlation-ID``) is a UUID or 32 hex digits starts a trace with exactly those 128 bits as
trace id; any other correlation id is hashed (the first 16 bytes of its SHA-256). A request with
``traceparent`` continues the caller's trace, and if it has no ``X-Correlation-ID`` the trace id
becomes its correlation id (as a UUID). A request with neither gets a new UUID as both. An event
published with no context (a timer firing days later) starts its span with the trace id derived
from its correlation id, so an SLA breach lands in its case's trace. Every span carries the
correlation id as attribute ``atiende.correlation_id``.

Resources: each service has its own tracer provider (``service.name`` = the service,
``service.namespace`` = ``ATIENDE_NAMESPACE``, ``service.instance.id`` = the replica), sharing one
batch processor and exporter per process; aio-pika's instrumentation is per process and uses the
first service's provider (one service per process in the distributed mode). No global provider is
set, so FastAPI's own telemetry stays off and nothing else in the process starts exporting."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import os
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from shared.logs import correlation_id

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import Span, Tracer
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.types import ASGIApp, Receive, Scope, Send

    from shared.contracts.envelope import Envelope
    from shared.messaging.bus import OutgoingMessage
    from shared.settings import Settings

log = logging.getLogger("atiende.tracing")

ON = False  # tracing configured in this process: the one test every hook makes
CORRELATION = "atiende.correlation_id"
NOT_TRACED = "/health$,/ready$,/metrics$"  # regexes searched in the URL

_services: dict[str, ServiceTracing] = {}
_process: _Process | None = None
# While a batch is handled: each message's span by its event id and by its correlation id.
_batch_spans: contextvars.ContextVar[dict[str, Span] | None] = contextvars.ContextVar("atiende_batch_spans",
                                                                                     default=None)
# The trace id for a root span started in this context (0: random); see ``trace_id_for``.
_trace_hint: contextvars.ContextVar[int] = contextvars.ContextVar("atiende_trace_hint", default=0)

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_BODY_TRACEPARENT = re.compile(rb',"traceparent":"(00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})"}$')
_BODY_CORRELATION = re.compile(rb'"correlationid":"((?:[^"\\]|\\.){1,200})"')


# -- configuration ------------------------------------------------------------------------------
def exporter_url(settings: Settings) -> str:
    """Where spans are POSTed (OTLP/HTTP, protobuf); empty: tracing is off."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return ""
    if settings.otlp_endpoint:
        base = settings.otlp_endpoint.rstrip("/")
        return base if base.endswith("/v1/traces") else base + "/v1/traces"
    if url := os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip():
        return url
    if base := os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip():
        return base.rstrip("/") + "/v1/traces"
    return ""


def for_service(settings: Settings, service: str, instance: str) -> ServiceTracing | None:
    """The service's tracing when configured (``ServiceRuntime`` asks once), else None."""
    global ON, _process
    url = exporter_url(settings)
    if not url:
        return None
    if _process is None:
        _process = _Process(url, settings.trace_sample_ratio)
        ON = True
    st = _services.get(service)
    if st is None:
        st = _services[service] = ServiceTracing(service, _process.provider(service, settings.namespace, instance),
                                                 _process)
        if len(_services) == 1:
            _process.instrument_broker(st.provider)
    st.users += 1
    return st


async def release(service: str, timeout_s: float = 5.0) -> None:
    """A runtime of ``service`` stopped; with the last one the spans are flushed (in a thread:
    the export must not wait on this event loop) and tracing ends."""
    global ON, _process
    st = _services.get(service)
    if st is None:
        return
    st.users -= 1
    if st.users <= 0:
        del _services[service]
    if not _services and _process is not None:
        ON = False
        process, _process = _process, None
        process.uninstrument()
        await asyncio.to_thread(process.shutdown, timeout_s)


def force_flush(timeout_s: float = 5.0) -> bool:
    """Export every ended span now (tests, shutdown); True if everything went out in time."""
    return _process.flush(timeout_s) if _process is not None else True


# -- the correlation id is the trace --------------------------------------------------------------
def trace_id_for(correlation: str | None) -> int:
    """The trace id a correlation id stands for: a UUID or 32 hex digits as they are, anything
    else hashed; 0 (a random one) for none."""
    if not correlation:
        return 0
    try:
        return uuid.UUID(correlation).int  # also 32 hex digits without dashes
    except ValueError:
        return int.from_bytes(hashlib.sha256(correlation.encode()).digest()[:16], "big")


@contextmanager
def _rooted_at(correlation: str | None) -> Iterator[None]:
    token = _trace_hint.set(trace_id_for(correlation))
    try:
        yield
    finally:
        _trace_hint.reset(token)


def traceparent_of(span: Span) -> str:
    sc = span.get_span_context()
    return f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{int(sc.trace_flags):02x}"


def stamp(envelope: Envelope, body: str) -> str:
    """An event's JSON with its context as its ``traceparent`` attribute (last in the object):
    the current span's, or in a batch the span of the event it follows from (its causation, else
    its correlation id); as it was outside any span. ``Tx.emit`` calls it when ``ON``."""
    from opentelemetry import trace

    batch = _batch_spans.get()
    span = batch.get(envelope.causationid or "") or batch.get(envelope.correlationid or "") if batch else None
    if span is None:
        span = trace.get_current_span()
    if not span.get_span_context().is_valid:
        return body
    return f'{body[:-1]},"traceparent":"{traceparent_of(span)}"}}'


def _body_fields(body: bytes) -> tuple[str | None, str | None]:
    """(traceparent, correlation id) of an event's JSON, without parsing it whole."""
    m = _BODY_TRACEPARENT.search(body, max(len(body) - 80, 0))
    head_end = body.find(b'"data":')
    c = _BODY_CORRELATION.search(body, 0, head_end if head_end > 0 else len(body))
    return (m.group(1).decode() if m else None), (c.group(1).decode() if c else None)


def _with_traceparent(body: bytes, traceparent: str) -> bytes:
    m = _BODY_TRACEPARENT.search(body, max(len(body) - 80, 0))
    head = body[:m.start()] if m else body[:-1]
    return head + b',"traceparent":"' + traceparent.encode() + b'"}'


def _context_from(traceparent: str | None) -> Context | None:
    if not traceparent:
        return None
    from opentelemetry import propagate

    return propagate.extract({"traceparent": traceparent})


class _HeadersGetter:
    """AMQP headers as a propagation carrier (values may arrive as bytes)."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            return None
        return [value.decode() if isinstance(value, bytes | bytearray) else str(value)]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return list(carrier)


_HEADERS = _HeadersGetter()


def parent_from_headers(headers: Mapping[str, Any] | None) -> Context | None:
    """The context a delivery carries in its AMQP headers, if any."""
    if not headers or "traceparent" not in headers:
        return None
    from opentelemetry import propagate

    return propagate.extract(headers, getter=_HEADERS)  # type: ignore[arg-type]


def parent_from_body(body: bytes) -> Context | None:
    """The context an event's JSON carries (``traceparent``), if any (the embedded bus)."""
    return _context_from(_body_fields(body)[0])


@contextmanager
def continuing(headers: Mapping[str, Any] | None) -> Iterator[None]:
    """Makes the context a delivery carried current (a retry's publish span, aio-pika's, joins
    the message's trace instead of starting one)."""
    parent = parent_from_headers(headers)
    if parent is None:
        yield
        return
    from opentelemetry import context

    token = context.attach(parent)
    try:
        yield
    finally:
        context.detach(token)


def handling(service: str, envs: Sequence[Envelope],
             carriers: Sequence[Mapping[str, Any] | bytes | None]) -> AbstractContextManager[None]:
    """The buses' hook around handling ``envs`` when ``ON``: each one's context comes from its
    AMQP headers (a mapping) or its JSON (bytes, the embedded bus)."""
    st = _services.get(service)
    if st is None:
        return nullcontext()
    return st.consuming(envs, [None if c is None else parent_from_body(c) if isinstance(c, bytes)
                               else parent_from_headers(c) for c in carriers])


# -- one service ------------------------------------------------------------------------------------
class ServiceTracing:
    def __init__(self, service: str, provider: TracerProvider, process: _Process) -> None:
        self.service = service
        self.provider = provider
        self._process = process
        self.tracer: Tracer = provider.get_tracer("atiende")
        self.users = 0

    def instrument_app(self, app: FastAPI) -> None:
        """Server spans (the maintained FastAPI instrumentation), with the correlation id decided
        before the span starts (``CorrelatedTraceMiddleware``, outermost)."""
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, tracer_provider=self.provider, excluded_urls=NOT_TRACED,
                                           exclude_spans=["receive", "send"])
        self._process.apps.append(app)
        build = app.build_middleware_stack

        def build_middleware_stack() -> ASGIApp:
            return CorrelatedTraceMiddleware(build())

        app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """A client span per SQL statement on ``engine`` (and the engines derived from it)."""
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.metrics import NoOpMeterProvider

        usage = NoOpMeterProvider().get_meter("atiende").create_up_down_counter("db.client.connections.usage")
        EngineTracer(self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine.sync_engine, usage)

    @contextmanager
    def publishing(self, messages: Sequence[OutgoingMessage], bus: Any) -> Iterator[list[OutgoingMessage]]:
        """The relay's producer spans, one per message, each a child of the context its event
        was written in (or rooted at its correlation id); yields the messages carrying them."""
        from dataclasses import replace

        from opentelemetry import baggage, propagate, trace
        from opentelemetry.trace import SpanKind

        system = getattr(bus, "messaging_system", "rabbitmq")
        destination = getattr(getattr(bus, "topology", None), "events_exchange", "")
        spans: list[Span] = []
        out: list[OutgoingMessage] = []
        for m in messages:
            traceparent, cid = _body_fields(m.body)
            parent = _context_from(traceparent)
            attrs = {"messaging.system": system, "messaging.operation.type": "send",
                     "messaging.destination.name": destination, "messaging.rabbitmq.destination.routing_key": m.type,
                     "messaging.message.id": str(m.event_id), CORRELATION: cid or str(m.event_id)}
            with _rooted_at(cid if parent is None else None):
                span = self.tracer.start_span(f"outbox publish {m.type}", context=parent, kind=SpanKind.PRODUCER,
                                              attributes=attrs)
            spans.append(span)
            ctx = trace.set_span_in_context(span, baggage.set_baggage(CORRELATION, attrs[CORRELATION]))
            headers: dict[str, Any] = {}
            propagate.inject(headers, context=ctx)
            out.append(replace(m, body=_with_traceparent(m.body, traceparent_of(span)), headers=headers))
        try:
            yield out
        except BaseException as exc:
            for span in spans:
                _failed(span, exc)
            raise
        finally:
            for span in spans:
                span.end()

    @contextmanager
    def consuming(self, envs: Sequence[Envelope], parents: Sequence[Context | None]) -> Iterator[None]:
        """Around handling ``envs`` (one message, or a batch in one transaction); ``parents``:
        each one's context (None: the current span, e.g. the delivery's, or a new root)."""
        from opentelemetry import trace
        from opentelemetry.trace import Link, SpanKind

        if len(envs) == 1:
            env = envs[0]
            cid = env.correlationid or str(env.id)
            # Inside the delivery's span (aio-pika's, a child of the same context): under it.
            current = trace.get_current_span().is_recording()
            parent = None if current else parents[0]
            with _rooted_at(cid if parent is None and not current else None):
                span = self.tracer.start_span(f"{self.service} process {env.type}", context=parent,
                                              kind=SpanKind.CONSUMER, attributes=self._attributes(env))
            with trace.use_span(span, end_on_exit=True):
                yield
            return
        batch = self.tracer.start_span(
            f"{self.service} process batch", kind=SpanKind.CONSUMER,
            attributes={"messaging.batch.message_count": len(envs), "messaging.operation.type": "process"},
            links=[Link(trace.get_current_span(p).get_span_context()) for p in parents if p is not None])
        each: list[Span] = []
        by_event: dict[str, Span] = {}
        for env, parent in zip(envs, parents, strict=True):
            with _rooted_at(env.correlationid or str(env.id) if parent is None else None):
                span = self.tracer.start_span(f"{self.service} process {env.type}", context=parent,
                                              kind=SpanKind.CONSUMER, attributes=self._attributes(env),
                                              links=[Link(batch.get_span_context())])
            each.append(span)
            by_event[str(env.id)] = span
            by_event.setdefault(env.correlationid or str(env.id), span)
        token = _batch_spans.set(by_event)  # what the batch emits follows its cause's trace
        try:
            with trace.use_span(batch, end_on_exit=True):
                yield
        except BaseException as exc:
            for span in each:
                _failed(span, exc)
            raise
        finally:
            _batch_spans.reset(token)
            for span in each:
                span.end()

    def _attributes(self, env: Envelope) -> dict[str, Any]:
        return {"messaging.operation.type": "process", "messaging.message.id": str(env.id),
                "messaging.destination.name": env.type, "atiende.service": self.service,
                "atiende.tenant": env.tenant, CORRELATION: env.correlationid or str(env.id)}


def _failed(span: Span, exc: BaseException) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:300]))


# -- HTTP ---------------------------------------------------------------------------------------------
class CorrelatedTraceMiddleware:
    """Outside the FastAPI instrumentation's middleware: decides the request's correlation id
    (given, else the caller's trace id, else a new UUID; written into the headers so that
    ``CorrelationIdMiddleware`` and the response agree) and, without a ``traceparent``, the trace
    id the server span starts with (``trace_id_for``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            cid, caller = _correlate(scope)
            token = correlation_id.set(cid)
            hint = _trace_hint.set(0 if caller else trace_id_for(cid))
            try:
                await self.app(scope, receive, send)
            finally:
                _trace_hint.reset(hint)
                correlation_id.reset(token)
        else:
            await self.app(scope, receive, send)


def _correlate(scope: Scope) -> tuple[str, bool]:
    """The request's correlation id (added to its headers when it had none) and whether it
    continues a caller's trace."""
    cid: str | None = None
    caller: re.Match[str] | None = None
    for k, v in scope["headers"]:
        if k == b"x-correlation-id":
            cid = v.decode("latin-1")[:100]
        elif k == b"traceparent":
            caller = _TRACEPARENT.fullmatch(v.decode("latin-1").strip().lower())
    if not cid:
        cid = str(uuid.UUID(caller.group(1))) if caller else str(uuid.uuid4())
        scope["headers"] = [*((k, v) for k, v in scope["headers"] if k != b"x-correlation-id"),
                            (b"x-correlation-id", cid.encode("latin-1"))]
    return cid, caller is not None


# -- the process's SDK ---------------------------------------------------------------------------------
class _Process:
    """The SDK objects of this process: one exporter and batch processor, a provider per service."""

    def __init__(self, url: str, ratio: float) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.exporter = OTLPSpanExporter(endpoint=url)
        self.processors: list[SpanProcessor] = [_correlation_processor(), BatchSpanProcessor(self.exporter)]
        self.ratio = ratio
        self.providers: list[TracerProvider] = []
        self.apps: list[FastAPI] = []
        self.broker_instrumented = False
        log.info("tracing on: spans to %s", url)

    def provider(self, service: str, namespace: str, instance: str) -> TracerProvider:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        provider = TracerProvider(
            sampler=_sampler(self.ratio), id_generator=_correlated_ids(), shutdown_on_exit=False,
            resource=Resource.create({"service.name": service, "service.namespace": namespace,
                                      "service.instance.id": instance}))
        for p in self.processors:
            provider.add_span_processor(p)
        self.providers.append(provider)
        return provider

    def instrument_broker(self, provider: TracerProvider) -> None:
        from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor

        AioPikaInstrumentor().instrument(tracer_provider=provider)
        self.broker_instrumented = True

    def flush(self, timeout_s: float) -> bool:
        return all(p.force_flush(int(timeout_s * 1000)) for p in self.processors)

    def uninstrument(self) -> None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

        for app in self.apps:  # also puts back starlette's BackgroundTask, patched process-wide
            FastAPIInstrumentor.uninstrument_app(app)
        self.apps.clear()
        if self.broker_instrumented:
            from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor

            AioPikaInstrumentor().uninstrument()
            self.broker_instrumented = False
        EngineTracer.remove_all_event_listeners()

    def shutdown(self, timeout_s: float) -> None:
        self.flush(timeout_s)
        for p in self.processors:
            p.shutdown()


def _sampler(ratio: float) -> Any:
    """Children follow their parent; a root is sampled by ``ratio`` of its trace id (so every
    root of one correlation id decides alike), except a client span with no parent (SQL of a
    timer poll or of the relay's claim): one trace per poll would bury the cases' traces."""
    from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult, TraceIdRatioBased
    from opentelemetry.trace import SpanKind

    class NoOrphanClientSpans(Sampler):
        def __init__(self) -> None:
            self.roots = TraceIdRatioBased(ratio)

        def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: Any = None,
                          attributes: Any = None, links: Any = None, trace_state: Any = None) -> SamplingResult:
            if kind is SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            return self.roots.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

        def get_description(self) -> str:
            return f"NoOrphanClientSpans({ratio})"

    return ParentBased(root=NoOrphanClientSpans())


def _correlated_ids() -> Any:
    """Random ids, except a root span's trace id where one was derived (``_trace_hint``)."""
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class CorrelatedIds(RandomIdGenerator):
        def generate_trace_id(self) -> int:
            return _trace_hint.get() or super().generate_trace_id()

    return CorrelatedIds()


def _correlation_processor() -> SpanProcessor:
    """Puts ``atiende.correlation_id`` on every span that has none: from the context variable
    the logs use, else from the W3C baggage a delivery carried."""
    from opentelemetry import baggage
    from opentelemetry.sdk.trace import SpanProcessor

    class CorrelationAttribute(SpanProcessor):
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            if span.attributes and CORRELATION in span.attributes:
                return
            cid = correlation_id.get() or baggage.get_baggage(CORRELATION, parent_context)
            if cid:
                span.set_attribute(CORRELATION, str(cid))

    return CorrelationAttribute()
