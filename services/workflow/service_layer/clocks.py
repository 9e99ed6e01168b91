"""A case's clocks (issue 10): first response, resolution (R4.2/R4.8), the internal commitment
(R2.3) and the R1.4 hold. One row per case (``case_clocks``) locked for each change; each clock
keeps one timer row (kind ``sla.clock``) moved in place to its next step, so a tick's work grows
with what is due, not with what is open. Every change emits ``case.sla_changed.v1`` (what intake
shows); steps emit warnings, breaches, ``case.overdue.v1``, alerts and escalations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update

from services.workflow.adapters.db import case_clocks, case_deadlines, timers
from services.workflow.domain import deadlines, escalation
from services.workflow.domain.calendar import WorkCalendar
from services.workflow.domain.clocks import Clock, Target, start_clock
from services.workflow.service_layer import copies
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    AlertEnded,
    AlertRaised,
    CaseClockBreached,
    CaseClockMet,
    CaseCreated,
    CaseDeadlineSet,
    CaseEscalated,
    CaseHoldSet,
    CaseOverdue,
    CaseSlaChanged,
    CaseSlaWarning,
    DeadlineRule,
)
from shared.db import Tx, utcnow
from shared.logs import correlation_id
from shared.messaging.bus import NotYet
from shared.timers import cancel, reschedule, schedule

SOURCE = "atiende/workflow"
TIMER = "sla.clock"
MAX_STEPS_PER_FIRING = 64
CHURN_ALERT_MESSAGE = {"es": "El cliente pide el rescate de su póliza: gestione su retención.",
                       "en": "The customer asks to surrender their policy: work on keeping them."}  # a clock far behind (e.g. after an outage) catches up in bounded work


def timer_subject(case_id: uuid.UUID | str, kind: str) -> str:
    return str(case_id) if kind == "resolution" else f"{case_id}:{kind}"


@dataclass
class CaseTime:
    """The aggregate: a case's clocks and what deciding on them needs."""

    row: dict[str, Any]
    clocks: dict[str, Clock]
    cal: WorkCalendar
    cause: Envelope | None = None  # the event being handled (None: a timer)
    correlation: str | None = None
    emitted: list[Envelope] = field(default_factory=list)

    @property
    def case_id(self) -> uuid.UUID:
        return self.row["case_id"]  # type: ignore[no-any-return]

    @property
    def tenant(self) -> str:
        return self.row["tenant"]  # type: ignore[no-any-return]

    @property
    def policy(self) -> dict[str, Any]:
        return self.row["policy"]  # type: ignore[no-any-return]

    @property
    def urgent(self) -> bool:
        return bool(self.row["priority"] == "urgent")

    async def emit(self, tx: Tx, type_: str, data: Any) -> None:
        payload = data.model_dump(mode="json")
        if self.cause is not None:
            env = self.cause.follow(source=SOURCE, type=type_, data=payload, subject=str(self.case_id))
        else:
            env = Envelope(source=SOURCE, type=type_, subject=str(self.case_id), tenant=self.tenant,
                           correlationid=self.correlation or correlation_id.get(), data=payload)
        await tx.emit(env)


# -- policy ------------------------------------------------------------------------------------
def _rule(d: dict[str, Any] | None) -> Target | None:
    return (d["unit"], int(d["amount"])) if d else None


def resolution_target(policy: dict[str, Any], priority: str) -> Target | None:
    """The type's deadline (R4.2), or the SLA policy's target for this priority."""
    by_priority = (policy.get("sla") or {}).get("resolution_by_priority") or {}
    return _rule(by_priority.get(priority) or policy["deadline"])


def first_response_target(policy: dict[str, Any]) -> Target | None:
    """Only the policy's own first-response target: never another one (zammad#5177)."""
    return _rule((policy.get("sla") or {}).get("first_response"))


def warn_percents(policy: dict[str, Any], settings: copies.TimeSettings) -> tuple[int, ...]:
    own = (policy.get("sla") or {}).get("warning_percents")
    return tuple(own) if own is not None else settings.warning_percents


def _resolution_base(cal: WorkCalendar, policy: dict[str, Any], start: datetime, priority: str) -> datetime:
    explicit = policy.get("explicit_due")
    if explicit:  # an admin fixed the date instead of the type's rule
        return cal.end_of_day(date.fromisoformat(explicit)).astimezone(UTC)
    return cal.due_for(start, *resolution_target(policy, priority))  # type: ignore[misc]


def executable_from(cal: WorkCalendar, entered_at: datetime, business_days: int) -> datetime:
    """R1.4: "waits 10 business days from its entry": executable on the N-th business day after
    the entry day, from its opening (the day before it is still refused)."""
    day = cal.add_business_days(cal.local_date(entered_at), business_days)
    return cal.next_working(datetime.combine(day, time(0), cal.tz).astimezone(UTC)).astimezone(UTC)


# -- loading and saving ------------------------------------------------------------------------
async def _calendar_for_row(tx: Tx, row: dict[str, Any]) -> WorkCalendar:
    return await copies.calendar_of(tx.conn, row["tenant"], row["calendar_code"], country=row["country"],
                                    timezone=row["timezone"])


async def load(tx: Tx, case_id: uuid.UUID | str, cause: Envelope | None = None) -> CaseTime:
    """The case's clocks, locked (``FOR UPDATE``) for this transaction; NotYet until they exist."""
    ct = await load_if_any(tx, case_id, cause)
    if ct is None:
        raise NotYet(f"case {case_id} has no clocks yet")
    return ct


async def load_if_any(tx: Tx, case_id: uuid.UUID | str, cause: Envelope | None = None) -> CaseTime | None:
    found = (await tx.conn.execute(select(case_clocks).where(case_clocks.c.case_id == uuid.UUID(str(case_id)))
                                   .with_for_update())).mappings().first()
    if found is None:
        return None
    row = dict(found)
    return CaseTime(row, {k: Clock.from_dict(v) for k, v in row["clocks"].items()}, await _calendar_for_row(tx, row),
                    cause=cause)


def views(ct: CaseTime, now: datetime) -> list[dict[str, Any]]:
    out = [c.view(ct.cal, now) for c in ct.clocks.values()]
    hold = ct.policy.get("hold")
    if hold:
        ef = datetime.fromisoformat(hold["executable_from"])
        out.append({"kind": "hold", "target": {"unit": "business_days", "amount": hold["business_days"]},
                    "state": "met" if now >= ef else "running", "started_at": ct.row["entered_at"].isoformat(),
                    "due_at": ef.isoformat(), "target_seconds": ct.cal.elapsed(ct.row["entered_at"], ef),
                    "calendar": ct.cal.code, "met_at": ef.isoformat() if now >= ef else None,
                    "counted": [{"start": a.isoformat(), "end": b.isoformat()}
                                for a, b in ct.cal.working_intervals(max(now, ct.row["entered_at"]), ef)],
                    "trace": []})
    return out


async def arm(tx: Tx, ct: CaseTime, now: datetime, settings: copies.TimeSettings, *, new: bool = False) -> None:
    """Move each clock's timer to its next step (or cancel it: paused, met, stopped, done).
    ``new``: a case just started has no timers yet, so each is inserted (no update or cancel first)."""
    for kind, clock in ct.clocks.items():
        step = clock.next_step(ct.cal, now, _ladder_times(ct, clock, settings))
        subject = timer_subject(ct.case_id, kind)
        if step is None:
            if not new:
                await cancel(tx, timers, kind=TIMER, subject=subject)
            continue
        payload = {"case_id": str(ct.case_id), "clock": kind, "step": step[1],
                   "correlation_id": ct.correlation or (ct.cause.correlationid if ct.cause else None)}
        if new:
            await schedule(tx, timers, kind=TIMER, tenant=ct.tenant, subject=subject, due_at=step[0],
                           payload=payload, first=True)
        else:
            await reschedule(tx, timers, kind=TIMER, tenant=ct.tenant, subject=subject, due_at=step[0],
                             payload=payload)


async def save(tx: Tx, ct: CaseTime, now: datetime, *, reason: str, announce: bool = False,
               settings: copies.TimeSettings | None = None, new: bool = False) -> None:
    """Store the clocks, re-arm their timers and tell intake (``case.sla_changed.v1``). ``new``:
    the case's first save, which inserts its row and timers (one statement each, nothing to move)."""
    settings = settings or await copies.settings_of(tx.conn, ct.tenant)
    ct.row["revision"] += 1
    ct.row["clocks"] = {k: c.to_dict() for k, c in ct.clocks.items()}
    if new:
        await tx.conn.execute(insert(case_clocks), ct.row)
    else:
        values = {k: v for k, v in ct.row.items() if k != "case_id"}
        await tx.conn.execute(update(case_clocks).where(case_clocks.c.case_id == ct.case_id).values(**values))
    await arm(tx, ct, now, settings, new=new)
    await ct.emit(tx, "case.sla_changed.v1", CaseSlaChanged.model_validate({
        "case_id": ct.case_id, "case_version": ct.row["case_version"], "clocks": views(ct, now), "reason": reason,
        "announce": announce, "revision": ct.row["revision"]}))


def _ladder_times(ct: CaseTime, clock: Clock, settings: copies.TimeSettings) -> list[tuple[int, datetime]]:
    if clock.breached_at is None:
        return []
    times = escalation.ladder_times(ct.cal, clock.breached_at, settings.ladder, urgent=ct.urgent,
                                    quiet_hours=settings.quiet_hours, climbs=clock.kind in escalation.LADDER_CLOCKS)
    # Level 0 (the responsible and R4.9's subscribers, by e-mail) waits for working time too.
    level0 = escalation.quiet_release(ct.cal, clock.breached_at, escalation.SUBSCRIBER_CHANNELS, urgent=ct.urgent,
                                      quiet_hours=settings.quiet_hours)
    return [(lv, level0 if lv == 0 else at) for lv, at in times]


# -- starting ----------------------------------------------------------------------------------
async def start_case_clocks(tx: Tx, env: Envelope, e: CaseCreated) -> None:
    """A new case: its resolution clock (the explicit date, the priority's target or the type's
    deadline), first response (when the policy has one), the internal commitment date (R2.3) and
    the R1.4 hold; the promised date as ``case.deadline_set.v1``."""
    area = await copies.area_of(tx.conn, env.tenant, e.area)
    code = e.calendar_code
    if code == "default" and e.case_type.sla is not None and e.case_type.sla.calendar:
        code = e.case_type.sla.calendar
    elif code == "default" and area is not None and area.calendar:
        code = area.calendar
    cal = await copies.calendar_of(tx.conn, env.tenant, code, country=e.tenant_country, timezone=e.tenant_timezone,
                                   at_least=e.calendar_version)
    settings = await copies.settings_of(tx.conn, env.tenant)
    sla = e.case_type.sla.model_dump(mode="json") if e.case_type.sla is not None else None
    policy: dict[str, Any] = {"deadline": e.case_type.deadline.model_dump(mode="json"), "sla": sla,
                              "explicit_due": e.explicit_due_date.isoformat() if e.explicit_due_date else None,
                              "type_version": 0}
    at = e.created_at.astimezone(UTC)
    percents = warn_percents(policy, settings)
    clocks = {"resolution": start_clock("resolution", at, cal, resolution_target(policy, e.priority),
                                        base_due=_resolution_base(cal, policy, at, e.priority),
                                        warn_percents=percents)}
    first = first_response_target(policy)
    if first is not None:
        clocks["first_response"] = start_clock("first_response", at, cal, first, warn_percents=percents)
    if e.internal_commitment_date is not None:
        clocks["internal_commitment"] = start_clock(
            "internal_commitment", at, cal, None,
            base_due=cal.end_of_day(e.internal_commitment_date).astimezone(UTC))
    hold_days = (sla or {}).get("hold_business_days")
    if hold_days:
        policy["hold"] = {"business_days": hold_days, "executable_from": executable_from(cal, at, hold_days).isoformat()}
    row = {"case_id": e.case_id, "tenant": env.tenant, "type_code": e.case_type.code, "area": e.area,
           "priority": e.priority, "status": e.status, "responsible_id": e.responsible_id,
           "contact_email": e.contact.email.lower(), "calendar_code": cal.code, "country": cal.country,
           "timezone": cal.timezone, "entered_at": at, "case_version": env.sequence or 1, "revision": 0,
           "policy": policy, "clocks": {k: c.to_dict() for k, c in clocks.items()}, "open": True}
    ct = CaseTime(row, clocks, cal, cause=env)  # its row is inserted by the first save below
    await _record_deadline(tx, ct, e, cal)
    if hold_days:
        ef = datetime.fromisoformat(policy["hold"]["executable_from"])
        await ct.emit(tx, "case.hold_set.v1", CaseHoldSet(
            case_id=e.case_id, case_version=row["case_version"], business_days=hold_days, executable_from=ef,
            executable_from_date=cal.local_date(ef)))
    await save(tx, ct, utcnow(), reason="started", settings=settings, new=True)
    if e.case_type.churn_alert and e.party_executive_id is not None:
        # R1.1: the churn alert goes out at once, e-mail and SMS: urgent, so it never waits for
        # quiet hours. The executive's line comes from our people copy: wait until it has them all.
        people = await copies.people_of(tx.conn, env.tenant)
        told = escalation.churn_recipients(e.party_executive_id, people, settings.churn_alert_levels)
        if unknown := [str(r.user_id) for r in told if r.user_id not in people]:
            raise NotYet(f"user(s) {', '.join(unknown)} not known to workflow yet")
        await tell(tx, ct, kind=escalation.CHURN_ALERT_KIND, recipients=told, message=CHURN_ALERT_MESSAGE[e.language],
                   urgent=True, at=at)


async def _record_deadline(tx: Tx, ct: CaseTime, e: CaseCreated, cal: WorkCalendar) -> None:
    """The promised date (R4.2) as people read it: ``case_deadlines`` and ``case.deadline_set.v1``."""
    rule = e.case_type.deadline
    dl = deadlines.deadline_for(e.created_at, rule.unit, rule.amount, cal)
    if e.explicit_due_date is not None:
        dl = deadlines.explicit_deadline(e.explicit_due_date, cal, cal.local_date(e.created_at))
    await tx.conn.execute(insert(case_deadlines), {
        "case_id": e.case_id, "tenant": ct.tenant, "type_code": e.case_type.code, "status": e.status,
        "entered_at": e.created_at, "business_days": dl.business_days, "calendar_country": cal.country,
        "due_date": dl.due_date, "due_at": dl.due_at, "overdue_at": None})
    await ct.emit(tx, "case.deadline_set.v1", CaseDeadlineSet(
        case_id=e.case_id, due_at=dl.due_at, due_date=dl.due_date, business_days=dl.business_days,
        calendar_country=cal.country, deadline=DeadlineRule(unit=rule.unit, amount=rule.amount)))


# -- case events -------------------------------------------------------------------------------
def applied(ct: CaseTime, env: Envelope, **row: Any) -> None:
    """Record the case event's effects on the row (status, responsible…) and its version."""
    ct.row.update(row)
    if env.sequence is not None:
        ct.row["case_version"] = max(ct.row["case_version"], env.sequence)


async def _met(tx: Tx, ct: CaseTime, kinds: tuple[str, ...], at: datetime, now: datetime, why: str) -> None:
    """Meet the named clocks still running; end the alerts their breach raised."""
    for kind in kinds:
        clock = ct.clocks.get(kind)
        if clock is None or clock.done:
            continue
        due = clock.due_at(ct.cal, now)
        ct.clocks[kind] = clock.meet(at)
        await ct.emit(tx, "case.clock_met.v1", CaseClockMet(
            case_id=ct.case_id, case_version=ct.row["case_version"], clock=kind, cycle=clock.cycle,
            met_at=at, due_at=due, on_time=at <= due, business_seconds=_used_seconds(ct, clock, at)))
        await end_alert(tx, ct, clock, at, why)


def _used_seconds(ct: CaseTime, clock: Clock, at: datetime) -> int:
    """Business seconds ``clock`` ran from its start to ``at``, its pauses excluded."""
    return max(0, ct.cal.elapsed(clock.started_at, at) - clock.paused_seconds(ct.cal, at))


async def end_alert(tx: Tx, ct: CaseTime, clock: Clock, at: datetime, why: str) -> None:
    alert = escalation.ALERT_OF_CLOCK.get(clock.kind)
    if alert is None or clock.breached_at is None:
        return
    await ct.emit(tx, "alert.ended.v1", AlertEnded(
        alert_id=escalation.alert_id(str(ct.case_id), alert, clock.cycle), kind=alert, case_id=ct.case_id,
        ended_at=at, reason=why, case_version=ct.row["case_version"]))


async def on_executed(tx: Tx, env: Envelope, case_id: uuid.UUID, at: datetime, status: str) -> None:
    """Executed ("log what was done", R4.6): the first action the customer sees meets first
    response, and the request counts as attended: R4.8's overdue alert ends (and is not raised
    again in this cycle). The resolution clock runs on until the case is finished; executing a
    case that waited on the customer resumes it."""
    ct = await load(tx, case_id, env)
    now = utcnow()
    applied(ct, env, status=status)
    await _met(tx, ct, ("first_response",), at, now, "executed")
    res = ct.clocks.get("resolution")
    if res is not None:
        ct.clocks["resolution"] = res.resume(at)
        if ct.policy.get("attended_cycle") != res.cycle:
            ct.row["policy"] = {**ct.policy, "attended_cycle": res.cycle}
            await end_alert(tx, ct, res, at, "executed")
    await tx.conn.execute(update(case_deadlines).where(case_deadlines.c.case_id == case_id).values(status=status))
    await save(tx, ct, now, reason="executed")


async def on_finished(tx: Tx, env: Envelope, case_id: uuid.UUID, at: datetime, status: str) -> None:
    """Finished: every clock is met (resolution, first response if still running, the internal
    commitment date) and their alerts end; the case's clocks stop being watched."""
    ct = await load(tx, case_id, env)
    now = utcnow()
    applied(ct, env, status=status, open=False)
    res = ct.clocks.get("resolution")
    attended = res is not None and ct.policy.get("attended_cycle") == res.cycle
    await _met(tx, ct, ("first_response", "internal_commitment"), at, now, "finished")
    if res is not None and not res.done:
        ct.clocks["resolution"] = res.meet(at)
        due = res.due_at(ct.cal, now)
        await ct.emit(tx, "case.clock_met.v1", CaseClockMet(
            case_id=ct.case_id, case_version=ct.row["case_version"], clock="resolution", cycle=res.cycle,
            met_at=at, due_at=due, on_time=at <= due, business_seconds=_used_seconds(ct, res, at)))
        if not attended:  # an executed case's alert has ended already
            await end_alert(tx, ct, res, at, "finished")
    await tx.conn.execute(update(case_deadlines).where(case_deadlines.c.case_id == case_id).values(status=status))
    await save(tx, ct, now, reason="finished")


async def on_first_response(tx: Tx, env: Envelope, case_id: uuid.UUID, at: datetime, to: list[str]) -> None:
    """A mail to the contact is a first response (the first action the customer sees)."""
    ct = await load(tx, case_id, env)
    applied(ct, env)
    if ct.row["contact_email"] in {a.strip().lower() for a in to}:
        await _met(tx, ct, ("first_response",), at, utcnow(), "mail to the contact")
    await save(tx, ct, utcnow(), reason="mail")


async def on_waiting(tx: Tx, env: Envelope, case_id: uuid.UUID, at: datetime, status: str, *, waiting: bool) -> None:
    """Waiting on the customer, the resolution clock stops counting; resumed, it counts again with
    its due time pushed by the business time paused."""
    ct = await load(tx, case_id, env)
    applied(ct, env, status=status)
    res = ct.clocks.get("resolution")
    if res is not None:
        ct.clocks["resolution"] = res.pause(at) if waiting else res.resume(at)
    await save(tx, ct, utcnow(), reason="paused" if waiting else "resumed")


async def on_reopened(tx: Tx, env: Envelope, case_id: uuid.UUID, at: datetime, status: str) -> None:
    """Reopened: resolution starts again on a new cycle (late again is a new breach, R4.9)."""
    ct = await load(tx, case_id, env)
    applied(ct, env, status=status, open=True)
    settings = await copies.settings_of(tx.conn, ct.tenant)
    old = ct.clocks.get("resolution")
    cycle = (old.cycle + 1) if old is not None else 1
    at = at.astimezone(UTC)
    target = resolution_target(ct.policy, ct.row["priority"])
    ct.clocks["resolution"] = start_clock("resolution", at, ct.cal, target, cycle=cycle,
                                          warn_percents=warn_percents(ct.policy, settings))
    await tx.conn.execute(update(case_deadlines).where(case_deadlines.c.case_id == case_id)
                          .values(status=status, overdue_at=None))
    await save(tx, ct, utcnow(), reason="reopened", settings=settings)


async def on_assigned(tx: Tx, env: Envelope, case_id: uuid.UUID, responsible_id: uuid.UUID) -> None:
    ct = await load(tx, case_id, env)
    applied(ct, env, responsible_id=responsible_id)
    await save(tx, ct, utcnow(), reason="assigned")


async def retarget(tx: Tx, ct: CaseTime, now: datetime, *, reason: str, announce: bool) -> None:
    """Apply the case's current policy, priority and calendar to its running clocks, keeping their
    pauses (glpi#6902, glpi#15605); a first-response target the policy no longer has stops that
    clock and its escalations (zammad#4353); breached stays breached."""
    settings = await copies.settings_of(tx.conn, ct.tenant)
    percents = warn_percents(ct.policy, settings)
    res = ct.clocks.get("resolution")
    if res is not None and not res.done:
        target = resolution_target(ct.policy, ct.row["priority"])
        # An admin's explicit date holds for the first cycle; a reopened case runs on the rule.
        base = _resolution_base(ct.cal, ct.policy, res.started_at, ct.row["priority"]) if res.cycle == 1 else None
        ct.clocks["resolution"] = res.retarget(ct.cal, target, base, percents)
    first = first_response_target(ct.policy)
    fr = ct.clocks.get("first_response")
    if fr is not None and not fr.done:
        ct.clocks["first_response"] = fr.stop(now) if first is None else fr.retarget(ct.cal, first, None, percents)
    elif fr is None and first is not None and ct.row["status"] == "new":  # no action the customer saw yet
        ct.clocks["first_response"] = start_clock("first_response", ct.row["entered_at"], ct.cal, first,
                                                  warn_percents=percents)
    ic = ct.clocks.get("internal_commitment")
    if ic is not None and not ic.done:  # a calendar change moves the end of that local day
        day = ic.base_due.astimezone(ZoneInfo(ct.row["timezone"])).date()
        ct.clocks["internal_commitment"] = ic.retarget(ct.cal, None, ct.cal.end_of_day(day).astimezone(UTC))
    ct.row.update(country=ct.cal.country, timezone=ct.cal.timezone)
    await save(tx, ct, now, reason=reason, announce=announce, settings=settings)


async def on_priority_changed(tx: Tx, env: Envelope, case_id: uuid.UUID, new: str) -> CaseTime:
    ct = await load(tx, case_id, env)
    applied(ct, env, priority=new)
    await retarget(tx, ct, utcnow(), reason=f"priority {new}", announce=False)
    return ct


async def on_reclassified(tx: Tx, env: Envelope, case_id: uuid.UUID, type_code: str, deadline: dict[str, Any],
                          sla: dict[str, Any] | None) -> None:
    ct = await load(tx, case_id, env)
    applied(ct, env, type_code=type_code)
    ct.row["policy"] = {**ct.policy, "deadline": deadline, "sla": sla, "type_version": 0}
    await retarget(tx, ct, utcnow(), reason=f"type {type_code}", announce=True)


async def tell(tx: Tx, ct: CaseTime, *, kind: str, recipients: list[escalation.Recipient], message: str | None,
               urgent: bool, at: datetime) -> None:
    """A one-off escalation (R0.4 priority raise, R3.4 supervisor): level 0, no clock."""
    if not recipients:
        return
    await ct.emit(tx, "case.escalated.v1", CaseEscalated(
        case_id=ct.case_id, case_version=ct.row["case_version"], kind=kind, level=0, message=message, urgent=urgent,
        recipients=[r.as_dict() for r in recipients], at=at))


# -- the timer ---------------------------------------------------------------------------------
async def fire_clock(tx: Tx, timer: Any) -> None:
    """Do every step of the clock due by now (warnings, the breach, ladder levels), then move its
    timer to the next one. Each step is recorded on the clock, so none is ever repeated."""
    ct = await load_if_any(tx, timer.payload["case_id"])
    kind = timer.payload.get("clock", "resolution")
    if ct is None or kind not in ct.clocks:
        return
    ct.correlation = timer.payload.get("correlation_id")
    now = utcnow()
    settings = await copies.settings_of(tx.conn, ct.tenant)
    people: dict[uuid.UUID, escalation.Person] | None = None
    did = False
    for _ in range(MAX_STEPS_PER_FIRING):
        clock = ct.clocks[kind]
        step = clock.next_step(ct.cal, now, _ladder_times(ct, clock, settings))
        if step is None or step[0] > now:
            break
        at, what, n = step
        did = True
        if what == "warning":
            ct.clocks[kind] = clock.warn(n)
            await ct.emit(tx, "case.sla_warning.v1", CaseSlaWarning(
                case_id=ct.case_id, case_version=ct.row["case_version"], clock=kind, percent=n,
                due_at=clock.due_at(ct.cal, now), cycle=clock.cycle,
                recipients=[escalation.Recipient(ct.row["responsible_id"], "responsible",
                                                 escalation.WARNING_CHANNELS).as_dict()]
                if ct.row["responsible_id"] else []))
        elif what == "breach":
            await _breach(tx, ct, clock, at)
        else:
            if people is None:
                people = await copies.people_of(tx.conn, ct.tenant)
            await _escalate(tx, ct, clock, n, settings, people, now)
    if did:
        await save(tx, ct, now, reason="time", settings=settings)
    else:  # fired early (the clock moved since): re-arm at its real next step
        await arm(tx, ct, now, settings)


async def _breach(tx: Tx, ct: CaseTime, clock: Clock, due: datetime) -> None:
    ct.clocks[clock.kind] = clock.breach(due)
    v = ct.row["case_version"]
    await ct.emit(tx, "case.clock_breached.v1", CaseClockBreached(
        case_id=ct.case_id, case_version=v, clock=clock.kind, cycle=clock.cycle, due_at=due,
        breached_at=due))
    if clock.kind == "resolution":  # R4.8
        await tx.conn.execute(update(case_deadlines).where(case_deadlines.c.case_id == ct.case_id)
                              .values(overdue_at=utcnow()))
        await ct.emit(tx, "case.overdue.v1", CaseOverdue(case_id=ct.case_id, due_at=due, case_version=v,
                                                          cycle=clock.cycle, responsible_id=ct.row["responsible_id"]))
    alert = escalation.ALERT_OF_CLOCK.get(clock.kind)
    attended = clock.kind == "resolution" and ct.policy.get("attended_cycle") == clock.cycle
    if alert is not None and not attended:  # R4.8: an executed request raises no alert
        await ct.emit(tx, "alert.raised.v1", AlertRaised(
            alert_id=escalation.alert_id(str(ct.case_id), alert, clock.cycle), kind=alert, case_id=ct.case_id,
            responsible_id=ct.row["responsible_id"], due_at=due, raised_at=utcnow(), case_version=v))


async def _escalate(tx: Tx, ct: CaseTime, clock: Clock, level: int, settings: copies.TimeSettings,
                    people: dict[uuid.UUID, escalation.Person], now: datetime) -> None:
    ct.clocks[clock.kind] = clock.escalated(level)
    area = await copies.area_of(tx.conn, ct.tenant, ct.row["area"])
    kind = escalation.KIND_OF_CLOCK[clock.kind]
    recipients = escalation.recipients_for_level(level, settings.ladder, people, responsible_id=ct.row["responsible_id"],
                                                 area_head_id=area.head_user_id if area else None, kind=kind)
    if not recipients:
        return
    due = clock.due_at(ct.cal, now)
    await ct.emit(tx, "case.escalated.v1", CaseEscalated(
        case_id=ct.case_id, case_version=ct.row["case_version"], kind=kind, level=level, cycle=clock.cycle,
        clock=clock.kind, due_at=due, overdue_seconds=max(0, int((now - due).total_seconds())),
        urgent=ct.urgent, recipients=[r.as_dict() for r in recipients], at=now))

