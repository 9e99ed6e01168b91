"""notifier's HTTP API for in-app notifications (issue 11 item 3): the caller's own, and only the
caller's: another user's or another tenant's notification is 404.

- ``GET /notifications`` — mine, newest first, paged (shared/paging.py); ``?unread=true`` only unread.
- ``GET /notifications/unread-count`` — ``{"unread": n}``.
- ``POST /notifications/{id}/read`` — mark one read (again: no change).
- ``POST /notifications/read-all`` — mark all mine read.
- ``GET /notifications/stream`` — server-sent events (``text/event-stream``), one stream per
  browser tab. Named events: ``ready`` (first, with the unread count), ``notification`` (a new
  one: the same shape as the list's items; its SSE ``id`` is the notification id), ``heartbeat``
  (every ``LiveHub.heartbeat_s`` seconds; the token is checked again then) and ``end`` (the
  server ends the stream: token no longer valid, too slow a reader, or shutting down).
  A browser reconnecting sends ``Last-Event-ID``: the notifications after it are replayed.

Authentication: the bearer token in ``Authorization``, as everywhere. Because a browser's
``EventSource`` cannot send headers, the stream also takes it as ``?access_token=<token>``
(RFC 6750 §2.3) — only the stream, so that tokens in URLs (which may reach access logs) stay
confined to it; prefer short-lived tokens there."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import and_, func, or_, select, update
from starlette.background import BackgroundTask

from services.notifier.adapters.in_app_tables import notifications
from services.notifier.in_app import LiveHub, LiveStream
from shared.db import utcnow
from shared.openapi import problem_responses, sse_response
from shared.paging import Page, PageParams
from shared.refusals import TITLES, Refused, not_found
from shared.runtime import runtime_of
from shared.sessions import Caller, CurrentCaller, SessionCopies

router = APIRouter(tags=["notifications"])
NOT_FOUND = ("Notificación no encontrada", "Notification not found")
TOO_MANY_STREAMS = ("Demasiadas transmisiones abiertas para este usuario; cierre alguna pestaña.",
                    "Too many open streams for this user; close a tab.")
REPLAY_MAX = 200


class NotificationOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID | None
    kind: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None


class UnreadCount(BaseModel):
    unread: int


class ReadAll(BaseModel):
    marked: int
    unread: int


def _out(r: Any) -> NotificationOut:
    return NotificationOut.model_validate(r, from_attributes=True)


def _mine(who: Caller) -> Any:
    n = notifications.c
    return and_(n.user_id == who.user_id, n.tenant == who.tenant)


async def _unread(conn: Any, who: Caller) -> int:
    n = notifications.c
    return int((await conn.execute(select(func.count()).select_from(notifications)
                                   .where(_mine(who), n.read_at.is_(None)))).scalar_one())


@router.get("/notifications", response_model=Page[NotificationOut], responses=problem_responses(401, 422))
async def list_notifications(request: Request, who: CurrentCaller, page: PageParams,
                             unread: Annotated[bool, Query(description="Only unread ones")] = False,
                             ) -> Page[NotificationOut]:
    """The caller's notifications, newest first."""
    n = notifications.c
    q = select(notifications).where(_mine(who))
    if unread:
        q = q.where(n.read_at.is_(None))
    after = page.after("notifications", datetime, uuid.UUID)
    if after is not None:
        at, last = after
        q = q.where(or_(n.created_at < at, and_(n.created_at == at, n.id < last)))
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(q.order_by(n.created_at.desc(), n.id.desc()).limit(page.limit + 1))).all()
    return Page[NotificationOut].of(rows, page, "notifications", key=lambda r: (r.created_at, r.id), item=_out)


@router.get("/notifications/unread-count", response_model=UnreadCount, responses=problem_responses(401))
async def unread_count(request: Request, who: CurrentCaller) -> UnreadCount:
    async with runtime_of(request).db.read() as conn:
        return UnreadCount(unread=await _unread(conn, who))


@router.post("/notifications/read-all", response_model=ReadAll, responses=problem_responses(401))
async def read_all(request: Request, who: CurrentCaller) -> ReadAll:
    n = notifications.c
    async with runtime_of(request).db.transaction() as tx:
        res = await tx.conn.execute(update(notifications).where(_mine(who), n.read_at.is_(None))
                                    .values(read_at=utcnow()))
    return ReadAll(marked=res.rowcount or 0, unread=0)


@router.post("/notifications/{notification_id}/read", response_model=NotificationOut,
             responses=problem_responses(401, 404))
async def mark_read(notification_id: uuid.UUID, request: Request, who: CurrentCaller) -> NotificationOut:
    n = notifications.c
    async with runtime_of(request).db.transaction() as tx:
        await tx.conn.execute(update(notifications).where(n.id == notification_id, _mine(who), n.read_at.is_(None))
                              .values(read_at=utcnow()))
        row = (await tx.conn.execute(select(notifications).where(n.id == notification_id, _mine(who)))).first()
    if row is None:
        raise not_found(NOT_FOUND)
    return _out(row)


# -- the live stream ------------------------------------------------------------------------------
def _sse(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def _authorization(authorization: str | None, access_token: str | None) -> str | None:
    if authorization:
        return authorization
    return f"Bearer {access_token}" if access_token else None


async def _replay(request: Request, who: Caller, last_event_id: str | None) -> list[Any]:
    """The caller's notifications after ``Last-Event-ID`` (one of theirs), oldest first."""
    if not last_event_id:
        return []
    try:
        last = uuid.UUID(last_event_id)
    except ValueError:
        return []
    n = notifications.c
    async with runtime_of(request).db.read() as conn:
        ref = (await conn.execute(select(n.created_at, n.id).where(n.id == last, _mine(who)))).first()
        if ref is None:
            return []
        rows = (await conn.execute(select(notifications).where(
            _mine(who), or_(n.created_at > ref.created_at, and_(n.created_at == ref.created_at, n.id > ref.id)))
            .order_by(n.created_at, n.id).limit(REPLAY_MAX))).all()
    return list(rows)


class EventStream(StreamingResponse):
    media_type = "text/event-stream"


@router.get("/notifications/stream", response_class=EventStream, responses={
    200: sse_response("Server-sent events: `ready`, `notification`, `heartbeat`, `end`",
                      ["ready", "notification", "heartbeat", "end"]),
    **problem_responses(401, 429)})
async def stream(request: Request,
                 access_token: Annotated[str | None, Query(
                     description="The bearer token, for EventSource (which cannot send headers)")] = None,
                 authorization: Annotated[str | None, Header()] = None,
                 last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None) -> EventStream:
    """My new notifications, live (see the module's notes)."""
    rt = runtime_of(request)
    copies: SessionCopies = rt.extras["sessions"]
    secret: str = rt.extras["token_secret"]
    auth = _authorization(authorization, access_token)
    who = await copies.caller(rt.db, secret, auth)
    hub: LiveHub = rt.extras["live"]
    s = hub.open(who.user_id, who.tenant)  # open first, then read: nothing falls in between
    if s is None:
        raise Refused(429, "too-many-streams", TITLES[429], TOO_MANY_STREAMS)
    try:
        replay = await _replay(request, who, last_event_id)
        async with rt.db.read() as conn:
            unread = await _unread(conn, who)
    except BaseException:
        hub.close(s)
        raise
    return EventStream(_events(s, hub, replay, unread, lambda: copies.caller(rt.db, secret, auth)),
                       headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                       background=BackgroundTask(_close, hub, s))  # also when never iterated


async def _close(hub: LiveHub, s: LiveStream) -> None:
    hub.close(s)


async def _events(s: LiveStream, hub: LiveHub, replay: list[Any], unread: int,
                  recheck: Any) -> AsyncIterator[str]:
    try:
        yield "retry: 3000\n" + _sse("ready", {"unread": unread})
        sent: set[str] = set()
        for r in replay:
            item = _out(r).model_dump(mode="json")
            sent.add(item["id"])
            yield _sse("notification", item, item["id"])
        while True:
            if s.closed or s.overflowed:
                yield _sse("end", {"reason": "overflow" if s.overflowed else "shutdown"})
                return
            try:
                got = await asyncio.wait_for(s.queue.get(), hub.heartbeat_s)
            except TimeoutError:
                try:
                    await recheck()
                except Refused:
                    yield _sse("end", {"reason": "unauthenticated"})
                    return
                yield _sse("heartbeat", {"at": utcnow().isoformat()})
                continue
            if got is None:
                continue  # the loop's check above ends the stream
            event, data = got
            if data.get("id") in sent:  # already replayed
                continue
            yield _sse(event, data, data.get("id"))
    finally:
        hub.close(s)
