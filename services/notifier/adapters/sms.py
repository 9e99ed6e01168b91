"""SMS through Twilio: the real ``twilio`` library's async client.

The client (and its aiohttp session) is built lazily inside the running loop, on the first
send, and closed at shutdown (``close``, one of the runtime's closers). ``twilio_base_url``
points the library at another host (a stand-in in tests, staging): the library has no such
option, so ``BaseUrlHttpClient`` (its documented ``http_client`` hook) rewrites each request's
scheme and host. Every request has a timeout.

Errors are told apart for the delivery path (handlers.py):
- ``SmsRetryable`` (a ``Retryable``): 429, 5xx, a refused connection — the message was not
  taken; retried through the retry queues.
- ``SmsRejected`` (a ``PermanentError``): a 4xx such as 21211 (invalid number), 21610 (opted
  out), 21614 (not a mobile) — recorded as failed, never retried.
- ``SmsOutcomeUnknown``: a timeout or a dropped connection after the request went out — Twilio
  may have created the message. Before any resend the caller looks it up (``find``)."""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from shared.messaging.bus import PermanentError, Retryable
from shared.settings import Settings

log = logging.getLogger("atiende.notifier.sms")
# The library logs every request's headers at INFO: only its warnings and errors are kept.
_quiet = logging.getLogger("atiende.notifier.sms.twilio")
_quiet.setLevel(logging.WARNING)

RETRYABLE_STATUSES = frozenset({429})


class SmsRetryable(Retryable):
    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class SmsRejected(PermanentError):
    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class SmsOutcomeUnknown(Exception):
    """The request may have reached Twilio (timeout, connection dropped mid-request)."""


@dataclass(frozen=True)
class SentSms:
    sid: str
    status: str  # Twilio's: accepted, queued, sending, sent, delivered, undelivered, failed...
    error_code: str | None = None


def _twilio_http_client_class() -> type:
    from twilio.http.async_http_client import AsyncTwilioHttpClient

    class BaseUrlHttpClient(AsyncTwilioHttpClient):
        """``AsyncTwilioHttpClient`` sending to ``base_url`` instead of https://api.twilio.com,
        and with the client's timeout on every request (the library passes none by default)."""

        def __init__(self, base_url: str, timeout: float) -> None:
            super().__init__(timeout=timeout, logger=_quiet)
            parts = urlsplit(base_url) if base_url else None
            self._base = (parts.scheme, parts.netloc, parts.path.rstrip("/")) if parts else None

        async def request(self, method: str, url: str, *args: Any, timeout: float | None = None,  # noqa: ASYNC109
                          **kwargs: Any) -> Any:
            if self._base is not None:
                u = urlsplit(url)
                url = urlunsplit((self._base[0], self._base[1], self._base[2] + u.path, u.query, u.fragment))
            auth = kwargs.pop("auth", None)
            if auth is not None:  # as a header: aiohttp deprecates its ``auth`` argument
                token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
                kwargs["headers"] = {**(kwargs.get("headers") or {}), "Authorization": f"Basic {token}"}
            t = timeout or self.timeout
            async with asyncio.timeout(t):  # the whole request, body included
                return await super().request(method, url, *args, timeout=t, **kwargs)

    return BaseUrlHttpClient


class SmsSender:
    def __init__(self, settings: Settings) -> None:
        self.account_sid = settings.twilio_account_sid
        self.auth_token = settings.twilio_auth_token
        self.sender = settings.twilio_from
        self.messaging_service_sid = settings.twilio_messaging_service_sid
        self.base_url = settings.twilio_base_url
        self.timeout_s = settings.twilio_timeout_s
        self._client: Any = None
        self._http: Any = None

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token and (self.sender or self.messaging_service_sid))

    def _messages(self) -> Any:
        if self._client is None:  # inside the running loop: aiohttp's session binds to it
            from twilio.rest import Client

            self._http = _twilio_http_client_class()(self.base_url, self.timeout_s)
            self._client = Client(self.account_sid, self.auth_token, http_client=self._http)
        return self._client.messages

    async def send(self, to: str, body: str, status_callback: str) -> SentSms:
        kw: dict[str, Any] = {"to": to, "body": body, "status_callback": status_callback}
        if self.messaging_service_sid:
            kw["messaging_service_sid"] = self.messaging_service_sid
        else:
            kw["from_"] = self.sender
        try:
            m = await self._messages().create_async(**kw)
        except Exception as exc:
            raise _classify(exc, request_sent=True) from exc
        return SentSms(m.sid, m.status or "queued", _code(m.error_code))

    async def find(self, to: str, body: str, since: datetime,
                   exclude: set[str] | frozenset[str] = frozenset()) -> SentSms | None:
        """The message a lost answer may hide: sent to ``to`` with ``body`` since ``since`` (a
        minute of slack for clocks), not one of ``exclude`` (sids other deliveries hold).
        Raises ``SmsRetryable`` when the provider cannot be asked now."""
        after = since - timedelta(minutes=1)
        try:
            found = await self._messages().list_async(to=to, date_sent_after=after, limit=200)
        except Exception as exc:
            err = _classify(exc, request_sent=False)
            raise err if isinstance(err, SmsRetryable) else SmsRetryable(f"lookup failed: {exc}") from exc
        for m in found:
            created = m.date_created or m.date_sent
            if m.sid in exclude or (m.body or "") != body:
                continue
            if created is not None and created < after:
                continue
            return SentSms(m.sid, m.status or "queued", _code(m.error_code))
        return None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._client = self._http = None


def _code(v: Any) -> str | None:
    return None if v in (None, "", 0) else str(v)


def _classify(exc: BaseException, *, request_sent: bool) -> Exception:
    import aiohttp
    from twilio.base.exceptions import TwilioRestException

    if isinstance(exc, TwilioRestException):
        code = _code(exc.code)
        msg = f"Twilio {exc.status} {code or ''}: {exc.msg}".strip()
        if exc.status in RETRYABLE_STATUSES or exc.status >= 500:
            return SmsRetryable(msg, code)
        return SmsRejected(msg, code)
    if isinstance(exc, aiohttp.ClientConnectorError):  # never connected: nothing was sent
        return SmsRetryable(f"Twilio unreachable: {exc}")
    if isinstance(exc, (TimeoutError, aiohttp.ClientError)):
        if request_sent:
            return SmsOutcomeUnknown(f"no answer from Twilio ({type(exc).__name__}: {exc})")
        return SmsRetryable(f"Twilio: {type(exc).__name__}: {exc}")
    return SmsRetryable(f"Twilio: {type(exc).__name__}: {exc}")
