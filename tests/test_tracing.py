"""OpenTelemetry traces (issue 15 §1): one case's path is one trace — the intake request, its SQL,
the outbox relay's publish, every consumer on RabbitMQ down to the notifier that sends the
responsible's e-mail — exported by OTLP/HTTP to a real receiver on loopback, with the correlation
id as the trace id; and with no endpoint configured, nothing of the SDK is loaded or installed.

The receiver is a plain HTTP server that decodes what the SDK's exporter POSTs with
opentelemetry-proto's ``ExportTraceServiceRequest``: the test sees the spans as a collector would."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from sqlalchemy import select
from starlette.background import BackgroundTask

from shared import tracing
from shared.settings import Settings
from tests.support.smtp_sink import SmtpSink
from tests.support.system import System, case_body, demo, wait_for

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class ExportedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    links: list[tuple[str, str]] = field(default_factory=list)
    failed: bool = False  # status ERROR (e.g. a batch that failed and was handled again one by one)


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class OtlpReceiver:
    """POST /v1/traces (application/x-protobuf) on 127.0.0.1, every span kept, decoded."""

    def __init__(self) -> None:
        self.spans: list[ExportedSpan] = []
        self.requests = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = self.path == "/v1/traces" and self.headers.get("Content-Type") == "application/x-protobuf"
                if ok:
                    receiver._accept(ExportTraceServiceRequest.FromString(body))
                self.send_response(200 if ok else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _accept(self, req: ExportTraceServiceRequest) -> None:
        out = []
        for rs in req.resource_spans:
            service = next(_value(a.value) for a in rs.resource.attributes if a.key == "service.name")
            for ss in rs.scope_spans:
                for s in ss.spans:
                    out.append(ExportedSpan(service, s.name, s.kind, s.trace_id.hex(), s.span_id.hex(),
                                            s.parent_span_id.hex(), {a.key: _value(a.value) for a in s.attributes},
                                            [(link.trace_id.hex(), link.span_id.hex()) for link in s.links],
                                            s.status.code == s.status.STATUS_CODE_ERROR))
        with self._lock:
            self.requests += 1
            self.spans.extend(out)

    def trace(self, trace_id: str) -> list[ExportedSpan]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def _named(spans: list[ExportedSpan], service: str, name: str, kind: int) -> list[ExportedSpan]:
    """The spans of that name that did not fail (a consumer's failed attempt, retried, has its own)."""
    return [s for s in spans if s.service == service and s.name == name and s.kind == kind and not s.failed]


@pytest.mark.integration
@pytest.mark.timeout(90)
async def test_one_case_is_one_trace_from_the_request_to_the_responsibles_email(
        rabbit_settings: Settings, smtp_sink: SmtpSink, otlp: OtlpReceiver) -> None:
    settings = rabbit_settings.model_copy(update={"otlp_endpoint": otlp.url})
    system = await System(settings).start()
    try:
        assert tracing.ON and all(rt.tracing is not None for rt in system.rt.values())
        smtp_sink.fail_next(2)  # the case's first two e-mails are refused: notifier's handling is retried
        r = await system.intake.post("/cases", json=case_body(1), headers=await system.auth())
        assert r.status_code == 201, r.text
        case = r.json()
        # No X-Correlation-ID and no traceparent sent: a new UUID is both the correlation id and the trace.
        cid = r.headers["X-Correlation-ID"]
        trace_id = uuid.UUID(cid).hex
        responsible = demo("ejecutiva")
        await wait_for(lambda: any(responsible in m.to for m in smtp_sink.for_case(case["id"])), 30,
                       "the responsible's e-mail")

        def complete() -> bool:
            spans = otlp.trace(trace_id)
            return bool(_named(spans, "notifier", "notifier process case.deadline_set.v1", PbSpan.SPAN_KIND_CONSUMER))

        assert await asyncio.to_thread(tracing.force_flush, 10.0)
        await wait_for(complete, 15, "the notifier's span exported in the case's trace")

        # A request that carries its caller's trace continues it; the trace id becomes its correlation id.
        caller_trace, caller_span = uuid.uuid4().hex, "00f067aa0ba902b7"
        g = await system.intake.get(f"/cases/{case['id']}", headers={
            **await system.auth(), "traceparent": f"00-{caller_trace}-{caller_span}-01"})
        assert g.status_code == 200
        assert g.headers["X-Correlation-ID"] == str(uuid.UUID(caller_trace))
        for probe in ("/health", "/ready", "/metrics"):  # polled all day long: not traced
            assert (await system.intake.get(probe)).status_code == 200
        assert await asyncio.to_thread(tracing.force_flush, 10.0)
        await wait_for(lambda: otlp.trace(caller_trace), 10, "the caller's trace")
    finally:
        await system.stop()

    spans = otlp.trace(trace_id)
    by_id = {s.span_id: s for s in spans}
    http = _named(spans, "intake", "POST /cases", PbSpan.SPAN_KIND_SERVER)
    assert len(http) == 1 and http[0].parent_id == "", [s.name for s in spans]
    assert http[0].attributes["http.route"] == "/cases"
    # SQL of the request (the case, its outbox row), as client spans under the request's span.
    sql = [s for s in spans if s.service == "intake" and s.kind == PbSpan.SPAN_KIND_CLIENT]
    assert any("INSERT" in str(s.attributes.get("db.statement", "")) and "outbox" in str(s.attributes["db.statement"])
               for s in sql), [s.name for s in sql]
    assert all(s.parent_id == http[0].span_id for s in sql if "outbox" in str(s.attributes.get("db.statement")))
    # The relay published case.created under the request's context, though in another task, later.
    publish = _named(spans, "intake", "outbox publish case.created.v1", PbSpan.SPAN_KIND_PRODUCER)
    assert len(publish) == 1 and publish[0].parent_id == http[0].span_id
    assert publish[0].attributes["messaging.message.id"]
    # aio-pika's delivery span for each consumer's copy, a child of that publish; the consumer's
    # span too (the batch worker handles the message after the delivery callback returned).
    deliveries = [s for s in spans if s.kind == PbSpan.SPAN_KIND_CONSUMER and s.parent_id == publish[0].span_id
                  and s.attributes.get("messaging.system") == "rabbitmq"]
    assert {s.service for s in deliveries} == {"intake"}  # aio-pika's: the process's first provider
    assert len(deliveries) >= 3  # workflow's, notifier's and reporting's queues

    def handled_under(span: ExportedSpan, producer: ExportedSpan) -> bool:
        """Below ``producer`` through messaging spans only (deliveries, a retry's publish)."""
        parent = by_id[span.parent_id]
        while parent is not producer:
            if "messaging.system" not in parent.attributes or not parent.parent_id:
                return False
            parent = by_id[parent.parent_id]
        return True

    workflow = _named(spans, "workflow", "workflow process case.created.v1", PbSpan.SPAN_KIND_CONSUMER)
    assert len(workflow) == 1 and handled_under(workflow[0], publish[0])
    # Its SQL: under it, or (handled in a batch with other messages, one transaction) under the
    # batch's span, which its span links to.
    handling = {workflow[0].span_id} | {span_id for _, span_id in workflow[0].links}
    assert any(s.service == "workflow" and s.kind == PbSpan.SPAN_KIND_CLIENT and s.parent_id in handling
               for s in otlp.spans), "the workflow handler's SQL"
    # workflow's own event, through its outbox, to the notifier that sent the e-mail.
    deadline = _named(spans, "workflow", "outbox publish case.deadline_set.v1", PbSpan.SPAN_KIND_PRODUCER)
    assert len(deadline) == 1 and deadline[0].parent_id == workflow[0].span_id
    notifier = _named(spans, "notifier", "notifier process case.deadline_set.v1", PbSpan.SPAN_KIND_CONSUMER)
    assert len(notifier) == 1 and handled_under(notifier[0], deadline[0])
    # The refused attempt: its span failed, and its trip through the retry queue stayed in the trace.
    assert [s for s in spans if s.name == notifier[0].name and s.failed]
    retry = [s for s in spans if s.kind == PbSpan.SPAN_KIND_PRODUCER and ".notifier.retry." in s.name]
    assert len(retry) == 1 and handled_under(retry[0], deadline[0]) and handled_under(notifier[0], retry[0])
    assert _named(spans, "reporting", "reporting process case.created.v1", PbSpan.SPAN_KIND_CONSUMER)
    # One trace, nothing dangling: every span's parent is in it, the request is its only root.
    assert [s for s in spans if s.parent_id == ""] == http
    assert all(s.parent_id in by_id for s in spans if s.parent_id)
    # The correlation id on every span of the trace.
    assert {s.attributes.get(tracing.CORRELATION) for s in spans} == {cid}

    caller = otlp.trace(caller_trace)
    get = _named(caller, "intake", "GET /cases/{case_id}", PbSpan.SPAN_KIND_SERVER)
    assert len(get) == 1 and get[0].parent_id == caller_span
    assert get[0].attributes[tracing.CORRELATION] == str(uuid.UUID(caller_trace))
    # Nothing was traced for the probes (neither the requests nor their SQL: no span around it),
    # and tracing ended with the last runtime.
    assert not [s for s in otlp.spans if s.attributes.get("http.route") in ("/health", "/ready", "/metrics")]
    assert not [s for s in otlp.spans if s.parent_id == "" and s.kind == PbSpan.SPAN_KIND_CLIENT]
    assert not tracing.ON


@pytest.mark.timeout(60)
async def test_embedded_mode_keeps_the_trace_through_the_in_process_bus(
        embedded_settings: Settings, smtp_sink: SmtpSink, otlp: OtlpReceiver) -> None:
    """No AMQP headers there: the context travels in the event's JSON (``traceparent``)."""
    system = await System(embedded_settings.model_copy(update={"otlp_endpoint": otlp.url})).start()
    cid = str(uuid.uuid4())
    try:
        case = await system.create_case(case_body(3), **{"X-Correlation-ID": cid})
        await wait_for(lambda: any(demo("ejecutiva") in m.to for m in smtp_sink.for_case(case["id"])), 30,
                       "the responsible's e-mail")
        assert await asyncio.to_thread(tracing.force_flush, 10.0)
        await wait_for(lambda: _named(otlp.trace(uuid.UUID(cid).hex), "notifier",
                                      "notifier process case.deadline_set.v1", PbSpan.SPAN_KIND_CONSUMER),
                       15, "the notifier's span")
    finally:
        await system.stop()
    spans = otlp.trace(uuid.UUID(cid).hex)  # the given correlation id is the trace id
    by_id = {s.span_id: s for s in spans}
    [http] = _named(spans, "intake", "POST /cases", PbSpan.SPAN_KIND_SERVER)
    [publish] = _named(spans, "intake", "outbox publish case.created.v1", PbSpan.SPAN_KIND_PRODUCER)
    assert publish.parent_id == http.span_id and publish.attributes["messaging.system"] == "atiende.local"
    [workflow] = _named(spans, "workflow", "workflow process case.created.v1", PbSpan.SPAN_KIND_CONSUMER)
    assert workflow.parent_id == publish.span_id
    [deadline] = _named(spans, "workflow", "outbox publish case.deadline_set.v1", PbSpan.SPAN_KIND_PRODUCER)
    [notifier] = _named(spans, "notifier", "notifier process case.deadline_set.v1", PbSpan.SPAN_KIND_CONSUMER)
    assert deadline.parent_id == workflow.span_id and notifier.parent_id == deadline.span_id
    assert any(s.kind == PbSpan.SPAN_KIND_CLIENT and s.attributes.get("db.system") == "sqlite"
               and s.parent_id == notifier.span_id for s in spans), "the notifier's SQL on SQLite"
    assert [s for s in spans if s.parent_id == ""] == [http]
    assert all(s.parent_id in by_id for s in spans if s.parent_id)
    assert {s.attributes.get(tracing.CORRELATION) for s in spans} == {cid}


async def test_events_without_context_and_batches_keep_each_case_in_its_trace(
        embedded_settings: Settings, otlp: OtlpReceiver) -> None:
    """An event written outside any span (a timer firing later) is published in its correlation
    id's trace; in a batch handled in one transaction, what each event causes follows that event."""
    from opentelemetry import trace

    from shared.contracts.envelope import Envelope
    from shared.messaging.bus import OutgoingMessage

    st = tracing.for_service(embedded_settings.model_copy(update={"otlp_endpoint": otlp.url}), "workflow", "r1")
    assert st is not None
    try:
        timer_cid = str(uuid.uuid4())
        fired = Envelope(source="atiende/workflow", type="case.overdue.v1", tenant="t", correlationid=timer_cid,
                         data={})
        with st.publishing([OutgoingMessage(fired.id, fired.type, fired.to_bytes())], object()) as [sent]:
            pass
        headers = sent.headers or {}
        traceparent = json.loads(sent.body)["traceparent"]
        assert headers["traceparent"] == traceparent and traceparent.split("-")[1] == uuid.UUID(timer_cid).hex
        assert f"{tracing.CORRELATION}={timer_cid}" in headers["baggage"]
        assert Envelope.from_bytes(sent.body) == fired  # consumers' models ignore the attribute

        a, b = (Envelope(source="atiende/intake", type="case.created.v1", tenant="t", correlationid=str(uuid.uuid4()),
                         data={}) for _ in range(2))
        with st.consuming([a, b], [None, None]):
            batch_span = trace.get_current_span()
            follows_b = b.follow(source="atiende/workflow", type="case.deadline_set.v1", data={})
            stamped = json.loads(tracing.stamp(follows_b, follows_b.model_dump_json()))
        assert stamped["traceparent"].split("-")[1] == uuid.UUID(b.correlationid).hex  # b's trace, not the batch's
        assert stamped["traceparent"].split("-")[1] != f"{batch_span.get_span_context().trace_id:032x}"
        assert json.loads(tracing.stamp(follows_b, follows_b.model_dump_json())) == json.loads(
            follows_b.model_dump_json())  # outside any span: nothing added
        assert await asyncio.to_thread(tracing.force_flush, 10.0)
        await wait_for(lambda: otlp.trace(uuid.UUID(timer_cid).hex) and otlp.trace(uuid.UUID(b.correlationid).hex),
                       10, "the spans exported")
    finally:
        await tracing.release("workflow")
    [published] = otlp.trace(uuid.UUID(timer_cid).hex)
    assert published.name == "outbox publish case.overdue.v1" and published.parent_id == ""
    assert published.attributes[tracing.CORRELATION] == timer_cid
    [of_b] = otlp.trace(uuid.UUID(b.correlationid).hex)
    assert of_b.name == "workflow process case.created.v1" and of_b.links  # linked to the batch's span
    assert not tracing.ON


def test_the_trace_id_is_the_correlation_id_when_it_has_128_bits() -> None:
    cid = "0b1c6f7e-8d2a-4c3b-9e4f-5a6b7c8d9e0f"
    assert tracing.trace_id_for(cid) == uuid.UUID(cid).int
    assert tracing.trace_id_for(uuid.UUID(cid).hex) == uuid.UUID(cid).int
    other = tracing.trace_id_for("pedido-4711")  # not 128 bits: hashed, the same every time
    assert other == tracing.trace_id_for("pedido-4711") and other != tracing.trace_id_for("pedido-4712")
    assert 0 < other < 2 ** 128
    assert tracing.trace_id_for(None) == tracing.trace_id_for("") == 0  # a random one


@pytest.fixture
def no_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own variables would turn tracing on: none here (before the system is built)."""
    for name in [k for k in os.environ if k.startswith("OTEL_")]:
        monkeypatch.delenv(name)


async def test_tracing_off_installs_nothing(no_otel_env: None, embedded_system: System) -> None:
    """No endpoint: no provider, no instrumentation, no context in the events' bodies."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor

    s = embedded_system
    case = await s.create_case(case_body(2))
    assert not tracing.ON and tracing.exporter_url(s.settings) == ""
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # no global provider either
    assert not AioPikaInstrumentor().is_instrumented_by_opentelemetry
    assert not hasattr(BackgroundTask, "_otel_original_call")  # FastAPI's instrumentation patches it process-wide
    for rt in s.rt.values():
        assert rt.tracing is None and rt.relay.tracing is None
        assert not getattr(rt.app, "_is_instrumented_by_opentelemetry", False)
        assert not rt.db.engine.sync_engine.dispatch.before_cursor_execute
    ob = s.rt["intake"].db.outbox
    async with s.rt["intake"].db.read() as conn:
        bodies = (await conn.execute(select(ob.c.body).where(ob.c.body.contains(case["id"])))).scalars().all()
    assert bodies and not [b for b in bodies if "traceparent" in json.loads(b)]


def test_tracing_off_does_not_even_load_the_sdk() -> None:
    """A process that builds every service with no endpoint imports nothing of the SDK, the
    exporter or the instrumentations."""
    script = (
        "import sys, tempfile\n"
        "from pathlib import Path\n"
        "from shared.settings import Settings\n"
        "from tests.support.system import System\n"
        "s = Settings(data_dir=Path(tempfile.mkdtemp()) / 'var', token_secret='x' * 40)\n"
        "system = System(s)\n"
        "assert len(system.rt) == 4\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'opentelemetry.exporter',"
        " 'opentelemetry.instrumentation'))))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ATIENDE_"))}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr

