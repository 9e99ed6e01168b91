"""The bell: overdue alerts (R4.8, GET /alerts) and in-app notifications (R4.7, GET /notifications),
live without reloading.

notifier's stream (GET /notifications/stream) takes the bearer header, or the token in the URL
for EventSource. The console keeps the token in an HttpOnly cookie, so the browser's EventSource
connects to ``/console/live`` instead and the console relays notifier's events as they come,
adding the header: the token never reaches page scripts or URLs. On each ``notification`` event
htmx reloads the bell's count (``hx-trigger="sse:notification"``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from console.api_client import ApiError
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
    try:
        s = session_of(request)
    except LoginRequired:
        return Response(status_code=204)  # EventSource stops retrying on 204
    api = api_of(request)
    stack = contextlib.AsyncExitStack()
    try:
        upstream = await stack.enter_async_context(api.notification_stream(s, request.headers.get("last-event-id")))
    except ApiError:
        await stack.aclose()
        return Response(status_code=204)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            # The browser left (the response is being cancelled): close notifier's stream all the
            # same, or it would count against the user's streams until its next heartbeat fails.
            with anyio.CancelScope(shield=True):
                await stack.aclose()

    return StreamingResponse(relay(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
