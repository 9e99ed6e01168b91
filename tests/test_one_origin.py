"""One origin for frontends (issue 11 item 8): ``shared/one_origin.py`` hands each path to the
service that answers it, so that a browser reaches intake's API and notifier's notifications
(list and SSE stream) from one origin with one token — what embedded mode serves on intake's
port and what the reverse proxy of docker-compose does (tests/test_deploy_files.py).

Also here, because they go through that origin: phone numbers (issue 11 item 1) read in the
tenant's country and stored as E.164."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from pydantic_core import PydanticCustomError

from services.intake.seed import DEMO_PASSWORD
from shared.fields import e164
from shared.one_origin import DEFAULT, ROUTES, OneOrigin, service_for
from tests.support.system import CASE, TENANT, System, demo, wait_for


def origin_client(s: System) -> httpx.AsyncClient:
    app = OneOrigin({name: rt.app for name, rt in s.rt.items()})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://one-origin")


@pytest.fixture
async def origin(embedded_system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with origin_client(embedded_system) as client:
        yield client


async def _token(client: httpx.AsyncClient, local: str = "admin", tenant: str = TENANT) -> dict[str, str]:
    """Intake's login, through ``client`` (the origin)."""
    r = await client.post("/auth/token", data={"username": demo(local, tenant), "password": DEMO_PASSWORD,
                                                "tenant": tenant})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


# -- the dispatcher -------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "service"), [
    ("/notifications", "notifier"), ("/notifications/stream", "notifier"),
    ("/notifications/unread-count", "notifier"), (f"/notifications/{uuid.uuid4()}/read", "notifier"),
    (f"/sms/status/{uuid.uuid4()}", "notifier"), ("/deliveries/mine", "notifier"), ("/deliveries", "notifier"),
    (f"/cases/{uuid.uuid4()}/deliveries", "notifier"),
    ("/reports/case-counts", "reporting"), (f"/deadlines/{uuid.uuid4()}", "workflow"),
    ("/cases", "intake"), (f"/cases/{uuid.uuid4()}", "intake"), (f"/cases/{uuid.uuid4()}/history", "intake"),
    ("/auth/token", "intake"), ("/users", "intake"), ("/health", "intake"), ("/docs", "intake"),
    ("/openapi.json", "intake"), ("/", "intake"), ("/notificationsx", "intake"), ("/reportsx", "intake"),
    ("/sms", "intake"), ("/cases/deliveries", "intake"),
])
def test_each_prefix_goes_to_its_service(path: str, service: str) -> None:
    assert service_for(path) == service


def test_the_route_table() -> None:
    assert DEFAULT == "intake"
    assert {s for _, s in ROUTES} == {"notifier", "reporting", "workflow", "console"}
    with pytest.raises(ValueError, match="notifier"):
        OneOrigin({"intake": object(), "workflow": object(), "reporting": object()})


async def test_one_origin_one_token_reaches_every_service(embedded_system: System,
                                                          origin: httpx.AsyncClient) -> None:
    s = embedded_system
    h = await _token(origin)  # intake's login, through the origin
    made = await origin.post("/cases", json={**_case(), "subject": "Por un solo origen"}, headers=h)
    assert made.status_code == 201, made.text
    case_id = made.json()["id"]
    assert (await origin.get(f"/cases/{case_id}", headers=h)).json()["id"] == case_id  # intake

    r = await origin.get("/health")
    assert r.json()["service"] == "intake"
    r = await origin.get("/notifications", headers=h)  # notifier, same token
    assert r.status_code == 200, r.text
    assert set(r.json()) >= {"items", "next_cursor"}
    assert (await origin.get("/notifications/unread-count", headers=h)).json().keys() == {"unread"}
    assert (await origin.get("/notifications")).status_code == 401  # and not without it

    async def reported() -> bool:
        r = await origin.get("/reports/case-counts", headers=h)  # reporting
        return r.status_code == 200 and r.json()["total"] >= 1

    await wait_for(reported, 20, "reporting's count through the origin")

    async def deadline() -> bool:
        return (await origin.get(f"/deadlines/{case_id}", headers=h)).status_code == 200  # workflow

    await wait_for(deadline, 20, "workflow's deadline through the origin")

    async def delivered() -> bool:
        r = await origin.get(f"/cases/{case_id}/deliveries", headers=h)  # notifier, under /cases
        return r.status_code == 200 and len(r.json()) >= 1

    await wait_for(delivered, 20, "the case's deliveries through the origin")
    r = await origin.get("/deliveries/mine", headers=await _token(origin, "ejecutiva"))
    assert r.status_code == 200 and case_id in {d["case_id"] for d in r.json()["items"]}
    r = await origin.post(f"/sms/status/{uuid.uuid4()}", data={"MessageStatus": "delivered"})
    assert r.status_code == 403  # notifier's callback: unsigned is refused
    assert s.all_subscribed()


def _case() -> dict[str, object]:
    return dict(CASE)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def _served(app: OneOrigin) -> AsyncIterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning",
                                           timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, 10, "uvicorn started")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_the_notification_stream_through_the_origin_is_not_buffered(embedded_system: System) -> None:
    """On a real server (as `atiende run` serves it on intake's port): the SSE stream's first event
    arrives while the stream stays open, with intake's token in ``?access_token=``."""
    app = OneOrigin({name: rt.app for name, rt in embedded_system.rt.items()})
    async with _served(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        token = (await _token(client))["Authorization"].split()[1]
        async with client.stream("GET", "/notifications/stream", params={"access_token": token}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = r.aiter_lines()
            first = await asyncio.wait_for(anext(lines), 5)
            assert first.startswith(("event: ready", "retry:", ":")), first


# -- phone numbers (issue 11 item 1) --------------------------------------------------------------
@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("912345678", "CL", "+56912345678"), ("9 1234 5678", "CL", "+56912345678"),
    ("+56 9 8765 4321", None, "+56987654321"), ("+56987654321", "SV", "+56987654321"),
    ("(2) 2123 4567", "CL", "+56221234567"), ("7012 3456", "SV", "+50370123456"),
    ("+1 202 555 0123", "CL", "+12025550123"),
])
def test_e164_reads_national_numbers_in_the_tenants_country(raw: str, region: str | None, expected: str) -> None:
    assert e164(raw, region) == expected


@pytest.mark.parametrize(("raw", "region"), [("123", "CL"), ("912345678", None), ("+999 1234 5678", None),
                                             ("hola", "CL"), ("+5691", None), ("91234567890123", "CL")])
def test_e164_refuses_what_is_not_a_number(raw: str, region: str | None) -> None:
    with pytest.raises(PydanticCustomError) as exc:
        e164(raw, region)
    assert exc.value.type == "phone_invalid"


async def test_a_users_mobile_is_read_in_the_tenants_country(origin: httpx.AsyncClient) -> None:
    h = await _token(origin)
    me = await origin.get("/auth/me", headers=await _token(origin, "ejecutiva"))
    uid = me.json()["user_id"]
    r = await origin.patch(f"/users/{uid}", json={"mobile": "9 1234 5678"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["mobile"] == "+56912345678"
    assert (await origin.get(f"/users/{uid}", headers=h)).json()["mobile"] == "+56912345678"

    for bad, where in (("123", "schema"), ("1234567", "tenant's country")):
        r = await origin.patch(f"/users/{uid}", json={"mobile": bad}, headers={**h, "Accept-Language": "en"})
        assert r.status_code == 422, (where, r.text)
        [err] = r.json()["errors"]
        assert (err["field"], err["code"]) == ("mobile", "phone_invalid")
        assert "phone" in err["message"].lower()
        r = await origin.patch(f"/users/{uid}", json={"mobile": bad}, headers=h)
        assert "teléfono" in r.json()["errors"][0]["message"]
    assert (await origin.get(f"/users/{uid}", headers=h)).json()["mobile"] == "+56912345678"  # unchanged

    # Another tenant's country: El Salvador.
    sv = await _token(origin, "admin", "electrica-demo")
    r = await origin.post("/users", json={"email": "nuevo.tecnico@example.sv", "name": "Nuevo Técnico",
                                          "mobile": "7012 3456", "roles": ["viewer"]}, headers=sv)
    assert r.status_code == 201, r.text
    assert r.json()["mobile"] == "+50370123456"


async def test_a_case_contacts_phone_is_read_in_the_tenants_country(origin: httpx.AsyncClient) -> None:
    h = await _token(origin)
    body = _case()
    r = await origin.post("/cases", json={**body, "contact": {**body["contact"], "phone": "9 8765 4321"}},  # type: ignore[dict-item]
                          headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["contact"]["phone"] == "+56987654321"
    r = await origin.post("/cases", json={**body, "subject": "", "contact": {**body["contact"],  # type: ignore[dict-item]
                                                                             "phone": "1234567"}}, headers=h)
    assert r.status_code == 422
    assert {(e["field"], e["code"]) for e in r.json()["errors"]} >= {("contact.phone", "phone_invalid"),
                                                                       ("subject", "string_too_short")}
