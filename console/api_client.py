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

    # -- plumbing ---------------------------------------------------------------------------------
    @staticmethod
    def _headers(s: Session | None, lang: str = "es") -> dict[str, str]:
        h = {"Accept-Language": s.lang if s else lang, "Accept": "application/json"}
        if s is not None:
            h["Authorization"] = f"Bearer {s.token}"
        return h

    @staticmethod
    def _check(r: httpx.Response) -> httpx.Response:
        if r.status_code == 401:
            raise Unauthenticated(**vars(ApiError.of(r)))
        if r.status_code >= 400:
            raise ApiError.of(r)
        return r

    async def _get(self, s: Session, path: str, params: Params | None = None) -> Any:
        return self._check(await self.http.get(path, params=params, headers=self._headers(s))).json()

    async def _post(self, s: Session, path: str, body: Any | None = None) -> Any:
        r = self._check(await self.http.post(path, json=body if body is not None else {}, headers=self._headers(s)))
        return r.json() if r.content and r.headers.get("content-type", "").endswith("json") else None

    # -- accounts ---------------------------------------------------------------------------------
    async def log_in(self, tenant: str, email: str, password: str, lang: str) -> str:
        r = await self.http.post("/auth/token", data={"username": email, "password": password, "tenant": tenant},
                                 headers=self._headers(None, lang))
        if r.status_code >= 400:  # a wrong password is 401 here: a refusal to show, not a lost session
            raise ApiError.of(r)
        return str(r.json()["access_token"])

    async def log_out(self, s: Session) -> None:
        with contextlib.suppress(ApiError):  # already revoked or expired: logged out anyway
            await self._post(s, "/auth/logout")

    async def set_password(self, token: str, password: str, lang: str) -> None:
        r = await self.http.post("/auth/password-setup", json={"token": token, "password": password},
                                 headers=self._headers(None, lang))
        if r.status_code >= 400:
            raise ApiError.of(r)

    async def me(self, s: Session) -> dict[str, Any]:
        return dict(await self._get(s, "/auth/me"))

    async def tenant(self, s: Session) -> dict[str, Any]:
        return dict(await self._get(s, "/tenant"))

    async def user(self, s: Session, user_id: str) -> dict[str, Any]:
        return dict(await self._get(s, f"/users/{user_id}"))

    async def users(self, s: Session) -> list[dict[str, Any]]:
        """The tenant's active users (every page: assignment lists all of them)."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"active": "true", "limit": 200, **({"cursor": cursor} if cursor else {})}
            page = await self._get(s, "/users", params)
            out += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return out

    # -- cases ------------------------------------------------------------------------------------
    async def inbox(self, s: Session, params: Params) -> dict[str, Any]:
        return dict(await self._get(s, "/inbox", params))

    async def case(self, s: Session, case_id: str) -> dict[str, Any]:
        return dict(await self._get(s, f"/cases/{case_id}"))

    async def sla(self, s: Session, case_id: str) -> dict[str, Any]:
        return dict(await self._get(s, f"/cases/{case_id}/sla"))

    async def history(self, s: Session, case_id: str, cursor: str | None = None, limit: int = 100) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        return dict(await self._get(s, f"/cases/{case_id}/history", params))

    async def deliveries(self, s: Session, case_id: str) -> list[dict[str, Any]]:
        """notifier's deliveries for the case (e-mail, SMS, in-app: to whom, state). notifier learns
        of a case from its events, a moment after intake: until then it answers 404, which here
        means "nothing delivered yet" (intake, asked first, has already said the case exists)."""
        try:
            return list(await self._get(s, f"/cases/{case_id}/deliveries"))
        except ApiError as e:
            if e.status == 404:
                return []
            raise

    async def case_action(self, s: Session, case_id: str, action: str, body: dict[str, Any] | None) -> Any:
        """One of the case's actions (execute, comments, finish, pause, resume, reopen, priority, assign)."""
        return await self._post(s, f"/cases/{case_id}/{action}", body)

    async def create_case(self, s: Session, body: dict[str, Any]) -> dict[str, Any]:
        return dict(await self._post(s, "/cases", body))

    async def parties_by_national_id(self, s: Session, national_id: str) -> list[dict[str, Any]]:
        return list((await self._get(s, "/parties", {"national_id": national_id, "limit": 2}))["items"])

    # -- catalog ----------------------------------------------------------------------------------
    async def case_types(self, s: Session) -> list[dict[str, Any]]:
        return list(await self._get(s, "/catalog/case-types", {"active": "true"}))

    async def entries(self, s: Session, kind: str) -> list[dict[str, Any]]:
        """A catalog list: ``channels``, ``areas`` or ``projects`` (each with code, name_es, name_en)."""
        return [e for e in await self._get(s, f"/catalog/{kind}") if e.get("active", True)]

    async def case_type(self, s: Session, code: str) -> dict[str, Any]:
        return dict(await self._get(s, f"/catalog/case-types/{code}"))

    # -- the bell: alerts (R4.8) and in-app notifications (R4.7) -----------------------------------
    async def alerts(self, s: Session, limit: int = 20) -> dict[str, Any]:
        return dict(await self._get(s, "/alerts", {"limit": limit}))

    async def alerts_unread(self, s: Session) -> int:
        return int((await self._get(s, "/alerts/unread-count"))["unread"])

    async def alerts_seen(self, s: Session) -> None:
        await self._post(s, "/alerts/seen", {"alert_ids": []})

    async def notifications(self, s: Session, limit: int = 20) -> dict[str, Any]:
        return dict(await self._get(s, "/notifications", {"limit": limit}))

    async def notifications_unread(self, s: Session) -> int:
        return int((await self._get(s, "/notifications/unread-count"))["unread"])

    async def notification_read(self, s: Session, notification_id: str) -> None:
        await self._post(s, f"/notifications/{notification_id}/read")

    async def notifications_read_all(self, s: Session) -> None:
        await self._post(s, "/notifications/read-all")

    @contextlib.asynccontextmanager
    async def notification_stream(self, s: Session, last_event_id: str | None) -> AsyncIterator[httpx.Response]:
        """notifier's server-sent events, opened with the bearer header (the browser's EventSource
        cannot send it, and the token stays in its HttpOnly cookie instead of a URL)."""
        headers = {**self._headers(s), "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        req = self.http.build_request("GET", "/notifications/stream", headers=headers,
                                      timeout=httpx.Timeout(15.0, read=None))
        r = await self.http.send(req, stream=True)
        try:
            if r.status_code >= 400:
                await r.aread()
                self._check(r)
            yield r
        finally:
            await r.aclose()
