"""In-app notifications (issue 11 item 3): stored per user (R4.7: the responsible only, never the
one who acted), listed and marked read through notifier's API, and pushed live over server-sent
events from each notifier replica's own queue — so a stream on one replica receives what
another stored.

Streams are read from a real uvicorn server on a loopback port (httpx's ASGITransport buffers a
whole response, so it cannot show a stream)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from services.notifier.adapters.db import user_directory
from services.notifier.adapters.in_app_tables import notifications
from services.notifier.bootstrap import build as build_notifier
from shared.contracts.envelope import Envelope
from shared.messaging.bus import OutgoingMessage
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from tests.support.system import TENANT, System, case_body, demo, wait_for

OTHER_TENANT = "gas-demo"


# -- helpers --------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def served(rt: ServiceRuntime) -> AsyncIterator[str]:
    """The runtime's app on a real HTTP server (the runtime is started by the caller)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(rt.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
                                           timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, 10, "uvicorn started")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


class Stream:
    """An open ``/notifications/stream``: its parsed events, as they arrive."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any], float]] = []
        self.status = 0
        self.headers: httpx.Headers | None = None
        self._task: asyncio.Task[None] | None = None

    def named(self, name: str) -> list[dict[str, Any]]:
        return [d for e, d, _ in self.events if e == name]

    async def _read(self, client: httpx.AsyncClient, url: str, params: dict[str, str],
                    headers: dict[str, str]) -> None:
        async with client.stream("GET", url, params=params, headers=headers) as r:
            self.status, self.headers = r.status_code, r.headers
            event, data = "message", ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    self.events.append((event, json.loads(data), time.monotonic()))
                    event, data = "message", ""


@contextlib.asynccontextmanager
async def open_stream(base: str, token: str, *, header: bool = False) -> AsyncIterator[Stream]:
    """A stream as EventSource opens it (``?access_token=``), or with the bearer header."""
    params = {} if header else {"access_token": token}
    headers = {"Authorization": f"Bearer {token}"} if header else {}
    async with read_stream(f"{base}/notifications/stream", params, headers) as s:
        yield s


@contextlib.asynccontextmanager
async def read_stream(url: str, params: dict[str, str], headers: dict[str, str]) -> AsyncIterator[Stream]:
    """Any server-sent-event stream, read in the background once its ``ready`` event came."""
    s = Stream()
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client:
        s._task = asyncio.create_task(s._read(client, url, params, headers))
        try:
            await wait_for(lambda: bool(s.named("ready")) or s._task.done(), 10, "the stream's ready event")
            yield s
        finally:
            s._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await s._task


async def token(s: System, local: str, tenant: str = TENANT) -> str:
    return (await s.auth(local, tenant))["Authorization"][7:]


async def user_id(s: System, local: str) -> uuid.UUID:
    r = await s.intake.get("/users", params={"limit": 100}, headers=await s.auth())
    assert r.status_code == 200, r.text
    return uuid.UUID(next(u["id"] for u in r.json()["items"] if u["email"] == demo(local)))


async def rows(s: System, **where: Any) -> list[Any]:
    n = notifications.c
    async with s.rt["notifier"].db.read() as conn:
        q = select(notifications)
        for k, v in where.items():
            q = q.where(n[k] == v)
        return list((await conn.execute(q.order_by(n.created_at))).all())


async def mine(s: System, local: str, **params: Any) -> dict[str, Any]:
    r = await s.clients["notifier"].get("/notifications", params=params, headers=await s.auth(local))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def unread(s: System, local: str) -> int:
    r = await s.clients["notifier"].get("/notifications/unread-count", headers=await s.auth(local))
    assert r.status_code == 200, r.text
    return int(r.json()["unread"])


async def comment(s: System, case_id: str, local: str, text: str = "Notaría responde el lunes.") -> None:
    r = await s.intake.post(f"/cases/{case_id}/comments", json={"text": text}, headers=await s.auth(local))
    assert r.status_code == 201, r.text


async def case_told(s: System, case_id: str, kind: str, n: int = 1) -> list[Any]:
    async def told() -> bool:
        return len(await rows(s, case_id=uuid.UUID(case_id), kind=kind)) >= n
    await wait_for(told, 20, f"{n} {kind} notification(s)")
    return await rows(s, case_id=uuid.UUID(case_id), kind=kind)


# -- R4.7 -----------------------------------------------------------------------------------------
async def test_a_comment_tells_the_responsible_only_and_the_open_stream_at_once(rabbit_system: System) -> None:
    s = rabbit_system
    ejecutiva, admin = await user_id(s, "ejecutiva"), await user_id(s, "admin")
    case = await s.create_case(case_body(1))  # by the admin, for the ejecutiva
    created = await case_told(s, case["id"], "case.created")
    assert [r.user_id for r in created] == [ejecutiva]
    assert created[0].title == f"Nueva solicitud {case['number']} asignada a usted"
    async with served(s.rt["notifier"]) as base, open_stream(base, await token(s, "ejecutiva")) as mine_, \
            open_stream(base, await token(s, "admin")) as admins:
        assert mine_.status == 200 and mine_.headers is not None
        assert mine_.headers["content-type"].startswith("text/event-stream")
        assert mine_.named("ready") == [{"unread": 1}]
        t0 = time.monotonic()
        await comment(s, case["id"], "admin")
        await wait_for(lambda: bool(mine_.named("notification")), 5, "the notification on the stream")
        took = mine_.events[-1][2] - t0
        got = mine_.named("notification")
        assert len(got) == 1 and got[0]["kind"] == "case.commented"
        assert got[0]["title"] == f"Nuevo comentario en la solicitud {case['number']}"
        assert "Notaría responde el lunes." in got[0]["body"]
        assert took < 1.0, f"the stream got it after {took:.2f}s"
        await asyncio.sleep(0.3)
        assert admins.named("notification") == []  # the admin watching is not told
    commented = await case_told(s, case["id"], "case.commented")
    assert [r.user_id for r in commented] == [ejecutiva]
    assert await rows(s, user_id=admin) == []
    assert str(commented[0].id) == got[0]["id"]


async def test_the_responsible_acting_on_her_own_case_is_not_told(rabbit_system: System) -> None:
    s = rabbit_system
    case = await s.create_case(case_body(2), as_user="ejecutiva")  # her own: not even "created"
    await comment(s, case["id"], "ejecutiva", "Llamé al cliente.")
    r = await s.intake.post(f"/cases/{case['id']}/execute", json={"text": "En revisión."}, headers=await s.auth("ejecutiva"))
    assert r.status_code == 200, r.text
    await comment(s, case["id"], "admin", "¿Novedades?")  # the marker: handled after hers
    await case_told(s, case["id"], "case.commented")
    kinds = [r.kind for r in await rows(s, case_id=uuid.UUID(case["id"]))]
    assert kinds == ["case.commented"]  # only the admin's comment


async def test_texts_in_the_users_language(rabbit_system: System) -> None:
    s = rabbit_system
    ejecutiva = await user_id(s, "ejecutiva")
    r = await s.intake.patch(f"/users/{ejecutiva}", json={"language": "en"}, headers=await s.auth())
    assert r.status_code == 200, r.text

    async def english() -> bool:
        async with s.rt["notifier"].db.read() as conn:
            return (await conn.execute(select(user_directory.c.language)
                                       .where(user_directory.c.user_id == ejecutiva))).scalar() == "en"

    await wait_for(english, 20, "notifier's directory in English")
    case = await s.create_case(case_body(3))
    await comment(s, case["id"], "admin")
    [n] = await case_told(s, case["id"], "case.commented")
    assert n.title == f"New comment on case {case['number']}"


async def test_list_unread_count_mark_read_and_read_all(rabbit_system: System) -> None:
    s = rabbit_system
    cases = [await s.create_case(case_body(10 + i)) for i in range(2)]
    await comment(s, cases[0]["id"], "admin")
    await case_told(s, cases[0]["id"], "case.commented")
    await case_told(s, cases[1]["id"], "case.created")
    assert await unread(s, "ejecutiva") == 3
    assert await unread(s, "admin") == 0

    first = await mine(s, "ejecutiva", limit=2)
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = await mine(s, "ejecutiva", limit=2, cursor=first["next_cursor"])
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    items = first["items"] + rest["items"]
    assert [i["created_at"] for i in items] == sorted((i["created_at"] for i in items), reverse=True)
    assert items[0]["kind"] == "case.commented" and all(i["read_at"] is None for i in items)
    assert (await mine(s, "admin"))["items"] == []

    nc, one = s.clients["notifier"], items[0]["id"]
    r = await nc.post(f"/notifications/{one}/read", headers=await s.auth("admin"))  # not hers… his
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await nc.post(f"/notifications/{one}/read", headers=await s.auth("admin", OTHER_TENANT))
    assert r.status_code == 404
    r = await nc.post(f"/notifications/{uuid.uuid4()}/read", headers=await s.auth("ejecutiva"))
    assert r.status_code == 404 and r.json()["status"] == 404
    r = await nc.post(f"/notifications/{one}/read", headers=await s.auth("ejecutiva"))
    assert r.status_code == 200 and r.json()["read_at"] is not None
    again = await nc.post(f"/notifications/{one}/read", headers=await s.auth("ejecutiva"))
    assert again.json()["read_at"] == r.json()["read_at"]  # marked once
    assert await unread(s, "ejecutiva") == 2
    assert [i["id"] for i in (await mine(s, "ejecutiva", unread="true"))["items"]] == [i["id"] for i in items[1:]]
    r = await nc.post("/notifications/read-all", headers=await s.auth("ejecutiva"))
    assert r.status_code == 200 and r.json() == {"marked": 2, "unread": 0}
    assert await unread(s, "ejecutiva") == 0
    assert (await nc.get("/notifications")).status_code == 401
    r = await nc.get("/notifications", params={"cursor": "bogus"}, headers=await s.auth("ejecutiva"))
    assert r.status_code == 422


async def test_the_stream_refuses_without_a_valid_token_and_takes_the_header(rabbit_system: System) -> None:
    s = rabbit_system
    async with served(s.rt["notifier"]) as base:
        async with httpx.AsyncClient() as c:
            r = await c.get(f"{base}/notifications/stream")
            assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
            r = await c.get(f"{base}/notifications/stream", params={"access_token": "nope"})
            assert r.status_code == 401
        async with open_stream(base, await token(s, "ejecutiva"), header=True) as st:
            assert st.status == 200 and st.named("ready") == [{"unread": 0}]


async def test_an_escalation_tells_in_app_recipients_once_per_event(rabbit_system: System) -> None:
    s = rabbit_system
    case = await s.create_case(case_body(4))
    await case_told(s, case["id"], "case.created")
    ejecutiva, ejecutivo = await user_id(s, "ejecutiva"), await user_id(s, "ejecutivo")
    env = Envelope(source="atiende/workflow", type="case.escalated.v1", subject=case["id"], tenant=TENANT, data={
        "case_id": case["id"], "case_version": 1, "kind": "case_overdue", "level": 1, "cycle": 1,
        "recipients": [{"user_id": str(ejecutiva), "reason": "responsible", "channels": ["email"]},
                       {"user_id": str(ejecutivo), "reason": "manager", "channels": ["in_app"]}],
        "at": "2030-01-15T15:00:00+00:00"})
    for _ in range(2):  # a redelivery stores nothing twice
        await s.bus.publish([OutgoingMessage(env.id, env.type, env.to_bytes())])
    [n] = await case_told(s, case["id"], "case.escalated")
    assert n.user_id == ejecutivo and n.title == f"Solicitud {case['number']} escalada (nivel 1)"
    await asyncio.sleep(1.0)
    assert len(await rows(s, case_id=uuid.UUID(case["id"]), kind="case.escalated")) == 1


# -- several replicas ----------------------------------------------------------------------------
async def test_a_stream_on_another_replica_receives_what_one_stored(rabbit_settings: Settings) -> None:
    s = await System(rabbit_settings).start()
    b = build_notifier(rabbit_settings)  # replica B: its own broker connection and live queue
    b.processor.handlers.clear()  # B consumes no events: replica A stores every notification
    await b.start()
    try:
        await wait_for(lambda: b.subscribed, 20, "replica B listening")
        assert b.replica_id != s.rt["notifier"].replica_id
        ejecutiva = await user_id(s, "ejecutiva")
        async with served(s.rt["notifier"]) as base_a, served(b) as base_b, \
                open_stream(base_b, await token(s, "ejecutiva")) as on_b, \
                open_stream(base_a, await token(s, "ejecutiva")) as on_a:
            case = await s.create_case(case_body(5))
            await wait_for(lambda: len(on_b.named("notification")) == 1, 10, "replica B's stream")
            await wait_for(lambda: len(on_a.named("notification")) == 1, 10, "replica A's stream")
            [stored] = await rows(s, case_id=uuid.UUID(case["id"]))
            assert stored.user_id == ejecutiva
            assert on_b.named("notification")[0]["id"] == str(stored.id) == on_a.named("notification")[0]["id"]
            assert b.processor.handled == 0
    finally:
        await b.stop()
        await s.stop()


async def test_a_reconnecting_stream_gets_what_it_missed(rabbit_system: System) -> None:
    s = rabbit_system
    first = await s.create_case(case_body(6))
    [seen] = await case_told(s, first["id"], "case.created")
    second = await s.create_case(case_body(7))
    [missed] = await case_told(s, second["id"], "case.created")
    async with served(s.rt["notifier"]) as base, httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as c:
        async with c.stream("GET", f"{base}/notifications/stream",
                            params={"access_token": await token(s, "ejecutiva")},
                            headers={"Last-Event-ID": str(seen.id)}) as r:
            lines: list[str] = []
            async for line in r.aiter_lines():
                lines.append(line)
                if line.startswith("id:"):
                    break
    assert lines[-1] == f"id: {missed.id}"


# -- embedded mode --------------------------------------------------------------------------------
async def test_embedded_a_comment_reaches_the_responsibles_stream(embedded_system: System) -> None:
    s = embedded_system
    case = await s.create_case(case_body(8))
    await case_told(s, case["id"], "case.created")
    async with served(s.rt["notifier"]) as base, open_stream(base, await token(s, "ejecutiva")) as st:
        assert st.named("ready") == [{"unread": 1}]
        await comment(s, case["id"], "admin")
        await wait_for(lambda: bool(st.named("notification")), 5, "the notification on the stream")
        assert [n["kind"] for n in st.named("notification")] == ["case.commented"]
    assert len(await rows(s, case_id=uuid.UUID(case["id"]), kind="case.commented")) == 1
    assert await unread(s, "ejecutiva") == 2


@pytest.mark.parametrize("heartbeat", [0.2])
async def test_heartbeats_and_a_revoked_token_ends_the_stream(embedded_system: System, heartbeat: float) -> None:
    s = embedded_system
    s.rt["notifier"].extras["live"].heartbeat_s = heartbeat
    async with served(s.rt["notifier"]) as base, open_stream(base, await token(s, "ejecutiva")) as st:
        await wait_for(lambda: len(st.named("heartbeat")) >= 2, 5, "heartbeats")
        r = await s.intake.post("/auth/logout", headers=await s.auth("ejecutiva"))
        assert r.status_code in (200, 204), r.text
        await wait_for(lambda: bool(st.named("end")), 10, "the stream ended")
        assert st.named("end") == [{"reason": "unauthenticated"}]


async def test_a_server_told_to_exit_ends_its_streams_and_stops(embedded_system: System) -> None:
    """uvicorn waits for responses in progress: an open stream must not hold a shutdown."""
    s = embedded_system
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(s.rt["notifier"].app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))  # no graceful-shutdown timeout
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, 10, "uvicorn started")
    async with open_stream(f"http://127.0.0.1:{port}", await token(s, "ejecutiva")) as st:
        server.handle_exit(signal.SIGTERM, None)
        server._captured_signals.clear()  # uvicorn re-raises captured signals on exit: not in a test
        await asyncio.wait_for(task, 5)
        await wait_for(lambda: bool(st.named("end")), 5, "the stream ended")
        assert st.named("end") == [{"reason": "shutdown"}]
