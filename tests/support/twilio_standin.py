"""A Twilio stand-in for tests: a real HTTP server on loopback (aiohttp.web, in the test's loop)
speaking the slice of Twilio's REST API that notifier uses, so the real ``twilio`` library
talks to it unchanged (``twilio_base_url``):

- ``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form body, Basic auth): creates a message
  (status ``queued``); bad numbers and opted-out ones refused with Twilio's codes (21211, 21610);
- ``GET …/Messages/{MessageSid}.json`` and ``GET …/Messages.json`` (filtered by ``To`` and
  ``DateSent>``, Twilio's page shape);
- errors as Twilio's JSON: ``{"code", "message", "more_info", "status"}``.

Faults for the next create requests: ``fail_next`` (500, 429, any code), ``timeout_next`` (the
message IS created, then the answer waits past the client's timeout), ``drop_next`` (the
connection is closed, before or after creating). ``callback`` posts a status callback to the
message's StatusCallback, signed as Twilio signs it (``RequestValidator.compute_signature``)."""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
API = "/2010-04-01/Accounts/{account}"


@dataclass
class Fault:
    kind: str  # "status" | "timeout" | "drop"
    status: int = 500
    code: int | None = None
    message: str = ""
    sleep_s: float = 0.0
    after_create: bool = True


@dataclass
class StoredMessage:
    sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    status: str = "queued"
    error_code: int | None = None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    def resource(self, account: str) -> dict[str, Any]:
        stamp = format_datetime(self.created, usegmt=True)
        return {"sid": self.sid, "account_sid": account, "to": self.to, "from": self.from_,
                "messaging_service_sid": self.messaging_service_sid, "body": self.body, "status": self.status,
                "num_segments": "1", "num_media": "0", "direction": "outbound-api", "api_version": "2010-04-01",
                "date_created": stamp, "date_updated": stamp, "date_sent": stamp, "price": None,
                "price_unit": "USD", "error_code": self.error_code, "error_message": None,
                "uri": f"{API.format(account=account)}/Messages/{self.sid}.json", "subresource_uris": {}}


class TwilioStandIn:
    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "standin-auth-token") -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: dict[str, StoredMessage] = {}
        self.creates = 0  # create requests received (refused or not)
        self.lookups = 0  # list requests received
        self.faults: deque[Fault] = deque()
        self.opted_out: set[str] = set()
        self.callbacks: list[tuple[str, int]] = []  # (status, HTTP answer) of each callback fired
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> TwilioStandIn:
        app = web.Application()
        base = "/2010-04-01/Accounts/{account}"
        app.router.add_post(base + "/Messages.json", self._create)
        app.router.add_get(base + "/Messages.json", self._list)
        app.router.add_get(base + "/Messages/{sid}.json", self._fetch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- faults ------------------------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 500, code: int | None = None, message: str = "") -> None:
        for _ in range(n):
            self.faults.append(Fault("status", status=status, code=code if code is not None else status,
                                     message=message or f"stand-in fault {status}"))

    def timeout_next(self, sleep_s: float, n: int = 1) -> None:
        """Create the message, then answer only after ``sleep_s`` (past the client's timeout)."""
        for _ in range(n):
            self.faults.append(Fault("timeout", sleep_s=sleep_s))

    def drop_next(self, n: int = 1, after_create: bool = True) -> None:
        for _ in range(n):
            self.faults.append(Fault("drop", after_create=after_create))

    def sent_to(self, to: str) -> list[StoredMessage]:
        return [m for m in self.messages.values() if m.to == to]

    # -- the API -----------------------------------------------------------------------------
    def _error(self, status: int, code: int, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message, "status": status,
                                  "more_info": f"https://www.twilio.com/docs/errors/{code}"}, status=status)

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token \
            and request.match_info["account"] == self.account_sid

    async def _create(self, request: web.Request) -> web.StreamResponse:
        self.creates += 1
        if not self._authorized(request):
            return self._error(401, 20003, "Authenticate")
        form = await request.post()
        fault = self.faults.popleft() if self.faults else None
        if fault and fault.kind == "status":
            return self._error(fault.status, fault.code or fault.status, fault.message)
        if fault and fault.kind == "drop" and not fault.after_create:
            return self._drop(request)
        to, body = str(form.get("To", "")), str(form.get("Body", ""))
        sender, service = form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to in self.opted_out:
            return self._error(400, 21610, "Attempt to send to unsubscribed recipient")
        if not sender and not service:
            return self._error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required.")
        if not body:
            return self._error(400, 21602, "Message body is required.")
        msg = StoredMessage("SM" + secrets.token_hex(16), to, str(sender) if sender else None,
                            str(service) if service else None, body,
                            str(form["StatusCallback"]) if form.get("StatusCallback") else None)
        self.messages[msg.sid] = msg
        if fault and fault.kind == "drop":
            return self._drop(request)
        if fault and fault.kind == "timeout":
            await asyncio.sleep(fault.sleep_s)
        return web.json_response(msg.resource(self.account_sid), status=201)

    def _drop(self, request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.abort()  # no answer at all: the client sees the connection drop
        return web.Response(status=500)  # never reaches the client

    async def _fetch(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, 20003, "Authenticate")
        msg = self.messages.get(request.match_info["sid"])
        if msg is None:
            return self._error(404, 20404, f"The requested resource {request.path} was not found")
        return web.json_response(msg.resource(self.account_sid))

    async def _list(self, request: web.Request) -> web.Response:
        self.lookups += 1
        if not self._authorized(request):
            return self._error(401, 20003, "Authenticate")
        q = request.query
        found = sorted(self.messages.values(), key=lambda m: m.created, reverse=True)  # newest first, as Twilio
        if "To" in q:
            found = [m for m in found if m.to == q["To"]]
        if "DateSent>" in q:
            after = _parse_date(q["DateSent>"])
            found = [m for m in found if m.created >= after]
        if "DateSent<" in q:
            before = _parse_date(q["DateSent<"])
            found = [m for m in found if m.created <= before]
        size = int(q.get("PageSize", "50"))
        page = found[:size]
        uri = f"{API.format(account=self.account_sid)}/Messages.json"
        return web.json_response({"messages": [m.resource(self.account_sid) for m in page], "end": len(page) - 1,
                                  "first_page_uri": uri, "next_page_uri": None, "previous_page_uri": None,
                                  "page": 0, "page_size": size, "start": 0, "uri": uri})

    # -- status callbacks ----------------------------------------------------------------------
    def callback_params(self, msg: StoredMessage, status: str, error_code: int | None = None) -> dict[str, str]:
        params = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "MessageSid": msg.sid,
                  "SmsSid": msg.sid, "MessageStatus": status, "SmsStatus": status, "To": msg.to}
        if msg.from_:
            params["From"] = msg.from_
        if msg.messaging_service_sid:
            params["MessagingServiceSid"] = msg.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    async def callback(self, sid: str, status: str, error_code: int | None = None, *,
                       signature: str | None = None, params: dict[str, str] | None = None) -> int:
        """POST the status callback of message ``sid`` to its StatusCallback, signed with the
        auth token over that exact URL and the form parameters (Twilio's way); ``signature``
        and ``params`` override what is sent (forgeries). Returns the HTTP status."""
        msg = self.messages[sid]
        assert msg.status_callback, "the message has no StatusCallback"
        signed = self.callback_params(msg, status, error_code)
        sent = params if params is not None else signed
        sig = signature if signature is not None else RequestValidator(self.auth_token).compute_signature(
            msg.status_callback, signed)
        headers = {"X-Twilio-Signature": sig} if sig else {}
        async with aiohttp.ClientSession() as session, \
                session.post(msg.status_callback, data=sent, headers=headers) as r:
            await r.read()
            if 200 <= r.status < 300 and params is None:
                msg.status = status
                msg.error_code = error_code
            self.callbacks.append((status, r.status))
            return r.status


def _parse_date(v: str) -> datetime:
    try:
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        t = parsedate_to_datetime(v)
    return t if t.tzinfo else t.replace(tzinfo=UTC)
