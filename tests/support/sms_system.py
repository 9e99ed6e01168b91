"""A System whose notifier sends SMS through the real ``twilio`` client to the Twilio stand-in,
and is served over HTTP (uvicorn on a free loopback port) so that the stand-in's signed status
callbacks reach it as Twilio's would."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from shared.settings import Settings
from tests.support.system import BUILDERS, System, wait_for
from tests.support.twilio_standin import TwilioStandIn


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def system_with_sms(base: Settings, twilio: TwilioStandIn,
                          services: tuple[str, ...] = tuple(BUILDERS)) -> AsyncIterator[System]:
    port = _free_port()
    settings = Settings(**{**base.model_dump(), "max_attempts": 6,
                           "twilio_account_sid": twilio.account_sid, "twilio_auth_token": twilio.auth_token,
                           "twilio_from": "+15005550006", "twilio_base_url": twilio.base_url,
                           "twilio_timeout_s": 1.0, "notifier_public_url": f"http://127.0.0.1:{port}"})
    system = await System(settings, services=services).start()
    server = uvicorn.Server(uvicorn.Config(system.rt["notifier"].app, host="127.0.0.1", port=port,
                                           lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await wait_for(lambda: server.started, 10, "notifier listening")
        yield system
    finally:
        server.should_exit = True
        await serving
        await system.stop()
