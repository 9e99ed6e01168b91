"""What people see of time (issue 10): their alerts (R4.8: an overdue case for its responsible
and the admins; R2.3 internal commitment passed; R2.4 task past its due date), most overdue
first; which they have seen; and a case's clocks (GET /cases/{id}/sla). workflow raises, ends
and times everything; intake shows it. Who sees which alert: ``domain/timing.py``.

``GET /alerts/stream`` pushes the caller's unread count as server-sent events (``ready``, then
``alert`` on each change, ``heartbeat`` when quiet, ``end`` once the session is no longer valid),
so a bell need not poll; how soon a change arrives: ``service_layer/alerts.py``."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from services.intake.api.deps import CurrentPrincipal, Db, TokenSecret, bearer_scheme
from services.intake.domain import timing
from services.intake.service_layer import accounts, alerts
from shared import clock
from shared.contracts.events import ClockView, remaining_seconds
from shared.fields import InputModel
from shared.openapi import problem_responses, sse_response
from shared.paging import Page, PageParams
from shared.runtime import runtime_of

router = APIRouter(tags=["alerts"])


class AlertCase(BaseModel):
    id: uuid.UUID
    number: str
    subject: str


class AlertOut(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="case_overdue | commitment_passed | task_overdue")
    case: AlertCase
    task_id: uuid.UUID | None = None
    due_at: datetime
    raised_at: datetime | None
    overdue_seconds: int = Field(description="How late it is now (wall-clock seconds)")
    seen: bool = Field(description="The caller marked it seen")


class UnreadOut(BaseModel):
    unread: int


class SeenIn(InputModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"alert_ids": []}})
    alert_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500,
                                       description="The alerts to mark seen; empty: all of the caller's")


class SeenOut(BaseModel):
    marked: int
    unread: int


class ClockOut(BaseModel):
    """A clock as workflow computed it, with the business seconds left now."""

    model_config = ConfigDict(extra="allow")
    kind: str
    state: str
    due_at: datetime | None
    remaining_seconds: int | None = Field(description="Business seconds left now (None once met or stopped)")
    elapsed_seconds: int | None = Field(description=(
        "Business seconds of the target used so far, pauses excluded (the whole target once due; None once met "
        "or stopped)"))


class SlaOut(BaseModel):
    case_id: uuid.UUID
    revision: int = Field(description="workflow's count of changes to the clocks (0: none published yet)")
    clocks: list[ClockOut]
    executable_from: datetime | None = Field(default=None, description="R1.4: executable only from then")
    executable_from_date: date | None = None
    now: datetime


def _alert(r: Any, now: datetime) -> AlertOut:
    return AlertOut(id=r.alert_id, kind=r.kind, case=AlertCase(id=r.case_id, number=r.number, subject=r.subject),
                    task_id=r.task_id, due_at=r.due_at, raised_at=r.raised_at,
                    overdue_seconds=timing.overdue_seconds(r.due_at, now), seen=bool(r.seen))


@router.get("/alerts", response_model=Page[AlertOut], responses=problem_responses(401, 403, 422))
async def list_alerts(request: Request, p: CurrentPrincipal, page: PageParams) -> Page[AlertOut]:
    """The caller's open alerts, most overdue first (R4.8). Admins and supervisors see every alert
    of the tenant; anyone else those of the cases they are responsible for now (viewers: none)."""
    after = page.after("alerts", datetime, uuid.UUID)
    rows = await alerts.alerts(runtime_of(request).db, p, after, page.limit)
    now = clock.now()
    return Page[AlertOut].of(rows, page, "alerts", key=lambda r: (r.due_at, r.alert_id),
                             item=lambda r: _alert(r, now))


@router.get("/alerts/unread-count", response_model=UnreadOut, responses=problem_responses(401, 403))
async def unread_count(request: Request, p: CurrentPrincipal) -> UnreadOut:
    """Open alerts the caller sees and has not marked seen."""
    return UnreadOut(unread=await alerts.unread(runtime_of(request).db, p))


class AlertStream(StreamingResponse):
    media_type = "text/event-stream"


def _sse(event: str, unread: int) -> str:
    return f"event: {event}\ndata: {json.dumps({'unread': unread})}\n\n"


@router.get("/alerts/stream", response_class=AlertStream, responses={
    200: sse_response("Server-sent events: `ready`, `alert`, `heartbeat`, `end`, each with `{\"unread\": n}`",
                      ["ready", "alert", "heartbeat", "end"]),
    **problem_responses(401, 403)})
async def alert_stream(p: CurrentPrincipal, db: Db, secret: TokenSecret,
                       token: Annotated[str | None, Depends(bearer_scheme)] = None) -> AlertStream:
    """The caller's unread alert count, live (R4.8): ``ready`` at once, ``alert`` whenever it
    changes (an alert raised, ended or marked seen), ``heartbeat`` when quiet, ``end`` once the
    session ends. People only (an API key is refused, as on GET /alerts)."""
    first, changes = await alerts.watch_unread(db, p, lambda: accounts.principal_of_token(db, secret, token or ""))

    async def events() -> AsyncIterator[str]:
        yield "retry: 3000\n" + _sse("ready", first)
        async for event, unread in changes:
            yield _sse(event, unread)

    return AlertStream(events(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/alerts/seen", response_model=SeenOut, responses=problem_responses(401, 403, 422))
async def mark_seen(body: SeenIn, request: Request, p: CurrentPrincipal) -> SeenOut:
    """Mark alerts seen, for the caller only (the named ones, or all the caller sees when empty)."""
    marked, unread = await alerts.mark_seen(runtime_of(request).db, p, body.alert_ids or None)
    return SeenOut(marked=marked, unread=unread)


def clock_out(c: dict[str, Any], now: datetime) -> ClockOut:
    view = ClockView.model_validate(c)
    left = None if view.state in ("met", "stopped") else remaining_seconds(view, now)
    used = None if left is None or view.target_seconds is None else max(0, view.target_seconds - left)
    return ClockOut(**{**view.model_dump(mode="json"), "remaining_seconds": left, "elapsed_seconds": used})


@router.get("/cases/{case_id}/sla", response_model=SlaOut, responses=problem_responses(401, 404, 422))
async def case_sla(case_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> SlaOut:
    """The case's clocks (first response, resolution, hold, internal commitment) as workflow last
    computed them, with the business seconds left now; and R1.4's ``executable_from``."""
    case, stored = await alerts.case_sla(runtime_of(request).db, p, case_id)
    now = clock.now()
    if stored is None:
        return SlaOut(case_id=case.id, revision=0, clocks=[], now=now)
    return SlaOut(case_id=case.id, revision=stored.revision, clocks=[clock_out(c, now) for c in stored.clocks],
                  executable_from=stored.executable_from, executable_from_date=stored.executable_from_date, now=now)


__all__ = ["router"]
