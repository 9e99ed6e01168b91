"""The one place where the console calls Atiende: the public HTTP API of the one origin (intake's
API, notifier's /notifications, reporting's /reports), with the user's bearer token. Whatever the
console lacks, the API lacks.

A refusal (an RFC 9457 problem document, ``errors: [{field, message, code}]`` for 422) becomes an
``ApiError`` whose ``fields`` maps each named field to its message, already in the user's language
because every call sends ``Accept-Language``; pages render those messages beside their fields."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

# Query parameters: a mapping, or a list of pairs for repeated keys (httpx takes both; its own
# alias for them is private).
Params = Any


@dataclass
class ApiError(Exception):
    """The API refused (or failed): its status, title and detail, and the messages per field."""

    status: int
    title: str
    detail: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    code: str | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail or ''}"

    def message_for(self, name: str) -> str | None:
        """The message of ``name`` or of a field under it (``contact`` → ``contact.email``)."""
        if name in self.fields:
            return self.fields[name]
        return next((m for f, m in self.fields.items() if f.startswith(name + ".")), None)

    @classmethod
    def of(cls, r: httpx.Response) -> ApiError:
        try:
            body = r.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        fields: dict[str, str] = {}
        for e in body.get("errors") or []:
            if isinstance(e, dict) and e.get("field") is not None:
                # "status.0" (an item of a list parameter) is shown beside the list's control: "status".
                parts = str(e["field"]).split(".")
                while len(parts) > 1 and parts[-1].isdigit():
                    parts.pop()
                fields.setdefault(".".join(parts), str(e.get("message", "")))
        code = str(body.get("type", "")).rsplit("/", 1)[-1] or None
        return cls(status=r.status_code, title=str(body.get("title") or r.reason_phrase),
                   detail=body.get("detail"), fields=fields, code=code)


class Unauthenticated(ApiError):
    """401: no token, or the API no longer accepts it (expired, logged out): log in again."""


@dataclass(frozen=True)
class Session:
    """Who is calling: the token and the language to answer in."""

    token: str
    lang: str = "es"


class Api:
    """Thin async client of the public API. One instance per console app (one connection pool)."""

    def __init__(self, base_url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.base_url, transport=transport,
                                      timeout=httpx.Timeout(15.0, connect=5.0))

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- plumbing (internal) ----------------------------------------------------------------------
    @staticmethod
    def _headers(s: Session | None, lang: str = "es") -> dict[str, str]:
        h = {"Accept-Language": s.lang if s else lang, "Accept": "application/json"}
        if s is not None:
            h["Authorization"] = f"Bearer {s.token}"
        return h

    @staticmethod
    def _check(r: httpx.Response, anonymous: bool = False) -> httpx.Response:
        """A refusal raises ``ApiError``; a 401 on a session's call raises ``Unauthenticated`` (log
        in again). On an ``anonymous`` one (log-in, public pages) a 401 is a refusal to show."""
        if r.status_code == 401 and not anonymous:
            raise Unauthenticated(**vars(ApiError.of(r)))
        if r.status_code >= 400:
            raise ApiError.of(r)
        return r

    @staticmethod
    def _decoded(r: httpx.Response) -> Any:
        return r.json() if r.content and r.headers.get("content-type", "").endswith("json") else None

    # -- generic calls: what pages use for any path of the public API ------------------------------
    async def request(self, s: Session | None, method: str, path: str, *, json: Any | None = None,
                      params: Params | None = None, content: bytes | str | None = None,
                      headers: dict[str, str] | None = None, lang: str = "es") -> httpx.Response:
        """One call with the session's token and language (``s=None``: an anonymous call in
        ``lang``); ``headers`` are added to (or override) the console's. Returns the response once
        checked: a refusal raises ``ApiError`` (``Unauthenticated`` for a session's 401)."""
        sent = {**self._headers(s, lang), **(headers or {})}
        r = await self.http.request(method, path, json=json, params=params, content=content, headers=sent)
        return self._check(r, anonymous=s is None)

    async def call(self, s: Session | None, method: str, path: str, *, body: Any | None = None,
                   params: Params | None = None) -> Any:
        """A JSON call: the decoded answer (``None`` for an empty one such as 204)."""
        return self._decoded(await self.request(s, method, path, json=body, params=params))

    async def get(self, s: Session | None, path: str, params: Params | None = None) -> Any:
        return await self.call(s, "GET", path, params=params)

    async def post(self, s: Session | None, path: str, body: Any | None = None) -> Any:
        return await self.call(s, "POST", path, body=body if body is not None else {})

    async def patch(self, s: Session | None, path: str, body: Any | None = None) -> Any:
        return await self.call(s, "PATCH", path, body=body if body is not None else {})

    async def put(self, s: Session | None, path: str, body: Any | None = None) -> Any:
        return await self.call(s, "PUT", path, body=body if body is not None else {})

    async def delete(self, s: Session | None, path: str, params: Params | None = None) -> Any:
        return await self.call(s, "DELETE", path, params=params)

    async def all_pages(self, s: Session, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a paged list (shared/paging.py's ``items`` + ``next_cursor``)."""
        out: list[Any] = []
        cursor: str | None = None
        while True:
            page = await self.get(s, path, {**(params or {}), "limit": 200, **({"cursor": cursor} if cursor else {})})
            out += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return out

    async def open_stream(self, s: Session, path: str, params: Params | None = None,
                          headers: dict[str, str] | None = None, live: bool = False) -> httpx.Response:
        """A GET whose body is read as it comes (an export, a chart; ``live``: server-sent events,
        which may stay quiet for long: no read timeout). A refusal raises like any call (the
        response already closed); otherwise the caller must ``await r.aclose()`` when done (e.g.
        as a ``StreamingResponse``'s background task)."""
        sent = {**self._headers(s), **(headers or {})}
        timeout = httpx.Timeout(15.0, read=None) if live else self.http.timeout
        req = self.http.build_request("GET", path, params=params, headers=sent, timeout=timeout)
        r = await self.http.send(req, stream=True)
        if r.status_code >= 400:
            await r.aread()
            await r.aclose()
            self._check(r)
        return r

    # -- accounts ---------------------------------------------------------------------------------
    async def log_in(self, tenant: str, email: str, password: str, lang: str) -> str:
        # No session: a wrong password (401 here) is a refusal to show, not a lost session.
        r = await self.http.post("/auth/token", data={"username": email, "password": password, "tenant": tenant},
                                 headers=self._headers(None, lang))
        return str(self._check(r, anonymous=True).json()["access_token"])

    async def log_out(self, s: Session) -> None:
        with contextlib.suppress(ApiError):  # already revoked or expired: logged out anyway
            await self.post(s, "/auth/logout")

    async def set_password(self, token: str, password: str, lang: str) -> None:
        await self.request(None, "POST", "/auth/password-setup", json={"token": token, "password": password},
                           lang=lang)

    async def me(self, s: Session) -> dict[str, Any]:
        return dict(await self.get(s, "/auth/me"))

    async def tenant(self, s: Session) -> dict[str, Any]:
        return dict(await self.get(s, "/tenant"))

    async def user(self, s: Session, user_id: str) -> dict[str, Any]:
        return dict(await self.get(s, f"/users/{user_id}"))

    async def users(self, s: Session) -> list[dict[str, Any]]:
        """The tenant's active users (every page: assignment lists all of them)."""
        return await self.all_pages(s, "/users", {"active": "true"})

    # -- cases ------------------------------------------------------------------------------------
    async def inbox(self, s: Session, params: Params) -> dict[str, Any]:
        return dict(await self.get(s, "/inbox", params))

    async def case(self, s: Session, case_id: str) -> dict[str, Any]:
        return dict(await self.get(s, f"/cases/{case_id}"))

    async def sla(self, s: Session, case_id: str) -> dict[str, Any]:
        return dict(await self.get(s, f"/cases/{case_id}/sla"))

    async def history(self, s: Session, case_id: str, cursor: str | None = None, limit: int = 100) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        return dict(await self.get(s, f"/cases/{case_id}/history", params))

    async def deliveries(self, s: Session, case_id: str) -> list[dict[str, Any]]:
        """notifier's deliveries for the case (e-mail, SMS, in-app: to whom, state). notifier learns
        of a case from its events, a moment after intake: until then it answers 404, which here
        means "nothing delivered yet" (intake, asked first, has already said the case exists)."""
        try:
            return list(await self.get(s, f"/cases/{case_id}/deliveries"))
        except ApiError as e:
            if e.status == 404:
                return []
            raise

    async def case_action(self, s: Session, case_id: str, action: str, body: dict[str, Any] | None) -> Any:
        """One of the case's actions (execute, comments, finish, pause, resume, reopen, priority, assign)."""
        return await self.post(s, f"/cases/{case_id}/{action}", body)

    async def create_case(self, s: Session, body: dict[str, Any]) -> dict[str, Any]:
        return dict(await self.post(s, "/cases", body))

    async def parties_by_national_id(self, s: Session, national_id: str) -> list[dict[str, Any]]:
        return list((await self.get(s, "/parties", {"national_id": national_id, "limit": 2}))["items"])

    # -- catalog ----------------------------------------------------------------------------------
    async def case_types(self, s: Session) -> list[dict[str, Any]]:
        return list(await self.get(s, "/catalog/case-types", {"active": "true"}))

    async def entries(self, s: Session, kind: str) -> list[dict[str, Any]]:
        """A catalog list: ``channels``, ``areas`` or ``projects`` (each with code, name_es, name_en)."""
        return [e for e in await self.get(s, f"/catalog/{kind}") if e.get("active", True)]

    async def case_type(self, s: Session, code: str) -> dict[str, Any]:
        return dict(await self.get(s, f"/catalog/case-types/{code}"))

    # -- the bell: alerts (R4.8) and in-app notifications (R4.7) -----------------------------------
    async def alerts(self, s: Session, limit: int = 20) -> dict[str, Any]:
        return dict(await self.get(s, "/alerts", {"limit": limit}))

    async def alerts_unread(self, s: Session) -> int:
        return int((await self.get(s, "/alerts/unread-count"))["unread"])

    async def alerts_seen(self, s: Session) -> None:
        await self.post(s, "/alerts/seen", {"alert_ids": []})

    async def notifications(self, s: Session, limit: int = 20) -> dict[str, Any]:
        return dict(await self.get(s, "/notifications", {"limit": limit}))

    async def notifications_unread(self, s: Session) -> int:
        return int((await self.get(s, "/notifications/unread-count"))["unread"])

    async def notification_read(self, s: Session, notification_id: str) -> None:
        await self.post(s, f"/notifications/{notification_id}/read")

    async def notifications_read_all(self, s: Session) -> None:
        await self.post(s, "/notifications/read-all")

    @contextlib.asynccontextmanager
    async def notification_stream(self, s: Session, last_event_id: str | None) -> AsyncIterator[httpx.Response]:
        """notifier's server-sent events, opened with the bearer header (the browser's EventSource
        cannot send it, and the token stays in its HttpOnly cookie instead of a URL)."""
        headers = {"Accept": "text/event-stream", **({"Last-Event-ID": last_event_id} if last_event_id else {})}
        r = await self.open_stream(s, "/notifications/stream", headers=headers, live=True)
        try:
            yield r
        finally:
            await r.aclose()
