"""The bell: overdue alerts (R4.8, GET /alerts) and in-app notifications (R4.7, GET /notifications),
live without reloading (both pushed: notifier's in-app stream and intake's alert stream).

notifier's stream (GET /notifications/stream) takes the bearer header, or the token in the URL
for EventSource. The console keeps the token in an HttpOnly cookie, so the browser's EventSource
connects to ``/console/live`` instead and the console relays notifier's events as they come,
adding the header: the token never reaches page scripts or URLs. On each ``notification`` event
htmx reloads the bell's count (``hx-trigger="sse:notification"``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import anyio
import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from console.api_client import Api, ApiError, Session
from console.web import PREFIX, CurrentVisit, LoginRequired, Visit, api_of, is_htmx, page, redirect, session_of

router = APIRouter()


async def _unread_alerts(request: Request, v: Visit) -> int:
    try:
        return await api_of(request).alerts_unread(v.session)
    except ApiError:  # a role without alerts (viewers): none
        return 0


@router.get("/bell")
async def bell(request: Request, v: CurrentVisit) -> Response:
    notes, alerts = await asyncio.gather(api_of(request).notifications_unread(v.session), _unread_alerts(request, v))
    return page(request, v, "bell/_count.html", total=notes + alerts, notes=notes, alerts=alerts)


@router.get("/notifications")
async def notifications(request: Request, v: CurrentVisit) -> Response:
    api = api_of(request)

    async def alerts() -> dict[str, object]:
        try:
            return await api.alerts(v.session)
        except ApiError:
            return {"items": []}

    notes, found = await asyncio.gather(api.notifications(v.session), alerts())
    template = "bell/_lists.html" if is_htmx(request) else "bell/notifications.html"
    return page(request, v, template, notes=notes, alerts=found)


@router.post("/notifications/{notification_id}/read")
async def mark_read(notification_id: str, request: Request, v: CurrentVisit) -> Response:
    await api_of(request).notification_read(v.session, notification_id)
    return await _after(request, v)


@router.post("/notifications/read-all")
async def read_all(request: Request, v: CurrentVisit) -> Response:
    await api_of(request).notifications_read_all(v.session)
    return await _after(request, v)


@router.post("/alerts/seen")
async def alerts_seen(request: Request, v: CurrentVisit) -> Response:
    await api_of(request).alerts_seen(v.session)
    return await _after(request, v)


async def _after(request: Request, v: Visit) -> Response:
    if is_htmx(request):  # the lists again, and the bell recounts
        response = await notifications(request, v)
        response.headers["HX-Trigger"] = "bell-changed"
        return response
    return redirect(f"{PREFIX}/notifications", request)


@router.get("/live")
async def live(request: Request) -> Response:
    """notifier's server-sent events, relayed byte for byte (``Last-Event-ID`` passed on, so a
    reconnecting browser gets what it missed)."""
    last_id = request.headers.get("last-event-id")
    return await _relayed(request, lambda api, s: api.notification_stream(s, last_id))


@router.get("/live/alerts")
async def live_alerts(request: Request) -> Response:
    """intake's alert events (R4.8: ``alert`` whenever the user's unread count changes), relayed
    the same way: the bell recounts on ``sse:alert`` instead of polling."""

    @contextlib.asynccontextmanager
    async def alert_stream(api: Api, s: Session) -> AsyncIterator[httpx.Response]:
        upstream = await api.open_stream(s, "/alerts/stream", headers={"Accept": "text/event-stream"}, live=True)
        try:
            yield upstream
        finally:
            await upstream.aclose()

    return await _relayed(request, alert_stream)


async def _relayed(request: Request,
                   open_upstream: Callable[[Api, Session], contextlib.AbstractAsyncContextManager[httpx.Response]],
                   ) -> Response:
    """An upstream event stream of the API, relayed to the browser's EventSource with the token
    of the console's cookie; 204 (EventSource stops retrying) without a session or when refused."""
    try:
        s = session_of(request)
    except LoginRequired:
        return Response(status_code=204)
    stack = contextlib.AsyncExitStack()
    try:
        upstream = await stack.enter_async_context(open_upstream(api_of(request), s))
    except ApiError:
        await stack.aclose()
        return Response(status_code=204)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            # The browser left (the response is being cancelled): close the upstream all the
            # same, or it would count against the user's streams until its next heartbeat fails.
            with anyio.CancelScope(shield=True):
                await stack.aclose()

    return StreamingResponse(relay(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
