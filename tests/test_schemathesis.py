"""Schemathesis against the OpenAPI documents of all four services (issue 15 §2): for every
operation, a few requests generated from its own schema, sent as a tenant admin, must get no
server error and only responses the document declares (status, content type and body schema).

One embedded system (module scope) serves the four apps in-process, each on a loopback port of
its own (a uvicorn server in a background thread with its own event loop, as ``atiende run``
does). Bounded: ``MAX_EXAMPLES`` requests per operation, no shrinking, no example database, and
a time limit per operation."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.intake.seed import DEMO_PASSWORD
from shared.settings import Settings
from tests.conftest import make_settings
from tests.support.system import BUILDERS, TENANT, System, demo, wait_for

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Not generated: the two endless event streams (a request would last until the stream ends), and
# logging out (it would end the admin's session the other operations use). Each has tests of its
# own (test_in_app, test_alerts_api, test_access).
SKIPPED = {("notifier", "GET", "/notifications/stream"), ("intake", "GET", "/alerts/stream"),
           ("intake", "POST", "/auth/logout")}


def _schemas() -> dict[str, dict[str, Any]]:
    """Each service's OpenAPI document, as its app serves it (no database needed to build it)."""
    data = Path(tempfile.mkdtemp(prefix="atiende-openapi-"))
    s = Settings(data_dir=data, token_secret="openapi-only-" + "x" * 32)
    return {name: build(s).app.openapi() for name, build in BUILDERS.items()}


SCHEMAS = {name: schemathesis.openapi.from_dict(doc) for name, doc in _schemas().items()}


def operations() -> list[Any]:
    out = []
    for service, schema in SCHEMAS.items():
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result  # every document is a valid OpenAPI document
            op = result.ok()
            if (service, op.method.upper(), op.path) in SKIPPED:
                continue
            out.append(pytest.param(service, op.method.upper(), op.path, id=f"{service}:{op.method.upper()} {op.path}"))
    return out


class Servers:
    """The embedded system, its four apps served over loopback by uvicorn, in a thread."""

    def __init__(self, data_dir: Path) -> None:
        self.settings = make_settings(database_url="", amqp_url="", data_dir=data_dir, smtp_host="")
        self.urls: dict[str, str] = {}
        self.loop = asyncio.new_event_loop()
        self.ready: Future[None] = Future()
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="schemathesis-servers", daemon=True)

    def start(self) -> Servers:
        self.thread.start()
        self.ready.result(timeout=90)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        import uvicorn

        try:
            system = await System(self.settings).start()
            servers, tasks = [], []
            for name, rt in system.rt.items():
                sock = socket.socket()
                sock.bind(("127.0.0.1", 0))
                self.urls[name] = f"http://127.0.0.1:{sock.getsockname()[1]}"
                server = uvicorn.Server(uvicorn.Config(rt.app, log_config=None, access_log=False, lifespan="off"))
                servers.append(server)
                tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
            await wait_for(lambda: all(s.started for s in servers), 30, "the servers listening")
            self._stop = asyncio.Event()
            self.ready.set_result(None)
        except BaseException as exc:
            self.ready.set_exception(exc)
            raise
        await self._stop.wait()
        for s in servers:
            s.should_exit = True
        await asyncio.gather(*tasks)
        await system.stop()

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    s = Servers(tmp_path_factory.mktemp("schemathesis") / "var").start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def admin(servers: Servers) -> dict[str, str]:
    r = requests.post(f"{servers.urls['intake']}/auth/token", timeout=10,
                      data={"username": demo("admin"), "password": DEMO_PASSWORD, "tenant": TENANT})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("service", "method", "path"), operations())
def test_every_operation_answers_as_its_openapi_document_declares(servers: Servers, admin: dict[str, str],
                                                                 service: str, method: str, path: str) -> None:
    operation = SCHEMAS[service][path][method]
    session = requests.Session()

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        response = case.call(base_url=servers.urls[service], session=session, headers=admin, timeout=30)
        case.validate_response(response, checks=CHECKS)

    check()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("service", "path"), [("intake", "/alerts/stream"), ("notifier", "/notifications/stream")])
def test_the_event_streams_first_event_is_as_declared(servers: Servers, admin: dict[str, str], service: str,
                                                      path: str) -> None:
    """The two endless streams, not generated above: their first event (``ready``) matches the
    per-event schema their documents declare."""
    import jsonschema_rs

    declared = SCHEMAS[service].raw_schema["paths"][path]["get"]["responses"]["200"]["content"]["text/event-stream"]
    with requests.get(servers.urls[service] + path, headers=admin, stream=True, timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines: list[str] = []
        for raw in r.iter_lines():
            if not raw:
                break
            lines.append(raw.decode())
    event: dict[str, Any] = {}
    for line in lines:
        name, _, value = line.partition(": ")
        event[name] = int(value) if name == "retry" else value
    assert event["event"] == "ready"
    jsonschema_rs.validator_for(declared["schema"]).validate(event)
