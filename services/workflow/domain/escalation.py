"""Who is told when a clock slips, when, and by which channels. Plain Python: no I/O.

- Level 0 is the breach itself: the responsible (R4.8) and the profiles subscribed to the
  escalation kind (R4.9: one e-mail per case per breach; reopened and late again is a new cycle).
- The ladder (per tenant, seeded from the procedures): level 1 at the breach → the responsible's
  manager; level 2 after a configurable business time → the manager's manager; further levels up
  to the area head. A manager missing from the chain falls back to the area head.
- Quiet hours: e-mail and SMS escalations of non-urgent cases wait for working time.
- R0.4: a priority raise tells the roles the scheme names (responsible, manager, area head).
- R3.4 rules 6–8: the supervisor of the original case's area gets the triage's message.
- R1.1: a "total retention (alerts only)" request alerts the customer's commercial executive and
  ``levels`` managers above them (the unit head, the management line), by e-mail AND SMS."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.workflow.domain.calendar import WorkCalendar

DEFAULT_WARNINGS = (50, 75)
DEFAULT_LADDER: list[dict[str, Any]] = [
    {"level": 1, "after": {"unit": "business_hours", "amount": 0}, "to": "manager_chain", "steps_up": 1,
     "channels": ["email", "in_app"]},
    {"level": 2, "after": {"unit": "business_hours", "amount": 4}, "to": "manager_chain", "steps_up": 2,
     "channels": ["email", "sms"]},
    {"level": 3, "after": {"unit": "business_days", "amount": 1}, "to": "area_head", "steps_up": 1,
     "channels": ["email", "sms", "in_app"]},
]
BREACH_CHANNELS = ["email", "in_app"]  # level 0: the responsible
CHURN_ALERT_CHANNELS = ["email", "sms"]  # R1.1: "vía email y SMS"
CHURN_ALERT_KIND = "churn_alert"
DEFAULT_CHURN_ALERT_LEVELS = 2
SUBSCRIBER_CHANNELS = ["email"]  # R4.9: "receive an e-mail"
WARNING_CHANNELS = ["email", "in_app"]

# Which escalation kind (a catalog code users subscribe to) each clock's breach is.
KIND_OF_CLOCK = {"resolution": "case_overdue", "first_response": "first_response_overdue",
                 "internal_commitment": "commitment_passed"}
LADDER_CLOCKS = frozenset({"resolution", "first_response"})  # the others tell the responsible only
ALERT_OF_CLOCK = {"resolution": "case_overdue", "internal_commitment": "commitment_passed"}  # GET /alerts


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID
    manager_id: uuid.UUID | None = None
    active: bool = True
    subscriptions: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Recipient:
    user_id: uuid.UUID
    reason: str
    channels: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"user_id": str(self.user_id), "reason": self.reason, "channels": list(self.channels)}


def alert_id(subject: str, kind: str, cycle: int) -> uuid.UUID:
    """Stable per (subject, kind, cycle): a redelivered breach raises the same alert."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"atiende:alert:{subject}:{kind}:{cycle}")


def level_time(cal: WorkCalendar, breached_at: datetime, after: Mapping[str, Any]) -> datetime:
    """When a ladder level is due: business hours after the breach, or the same local time on
    the N-th business day after it."""
    amount = int(after["amount"])
    if after["unit"] == "business_hours":
        return cal.add(breached_at, amount * 3600)
    local = breached_at.astimezone(cal.tz)
    day = cal.add_business_days(local.date(), amount)
    return breached_at + timedelta(days=(day - local.date()).days)


def quiet_release(cal: WorkCalendar, at: datetime, channels: Iterable[str], *, urgent: bool, quiet_hours: bool) -> datetime:
    """Quiet hours: an e-mail or SMS escalation of a non-urgent case waits for working time
    (never at midnight: zammad#4432)."""
    if urgent or not quiet_hours or not {"email", "sms"} & set(channels):
        return at
    return cal.next_working(at)


def ladder_times(cal: WorkCalendar, breached_at: datetime, ladder: list[dict[str, Any]], *, urgent: bool,
                 quiet_hours: bool, climbs: bool) -> list[tuple[int, datetime]]:
    """(level, when) for the breach (level 0, at once) and, when the clock ``climbs``, each rung."""
    out = [(0, breached_at)]
    if climbs:
        out += [(int(lv["level"]), quiet_release(cal, level_time(cal, breached_at, lv["after"]), lv["channels"],
                                                 urgent=urgent, quiet_hours=quiet_hours)) for lv in ladder]
    return out


def manager_above(user_id: uuid.UUID | None, people: Mapping[uuid.UUID, Person], steps: int) -> uuid.UUID | None:
    """The ``steps``-th manager above ``user_id`` (None: the chain ends first, or loops)."""
    seen: set[uuid.UUID] = set()
    cur = user_id
    for _ in range(steps):
        p = people.get(cur) if cur is not None else None
        if p is None or p.manager_id is None or p.manager_id in seen:
            return None
        seen.add(p.manager_id)
        cur = p.manager_id
    return cur


def _add(out: list[Recipient], people: Mapping[uuid.UUID, Person], user_id: uuid.UUID | None, reason: str,
         channels: list[str], exclude: uuid.UUID | None = None) -> None:
    if user_id is None or user_id == exclude or any(r.user_id == user_id for r in out):
        return  # each person once, at their first reason
    person = people.get(user_id)
    if person is not None and not person.active:
        return
    out.append(Recipient(user_id, reason, list(channels)))


def recipients_for_level(level: int, ladder: list[dict[str, Any]], people: Mapping[uuid.UUID, Person], *,
                         responsible_id: uuid.UUID | None, area_head_id: uuid.UUID | None,
                         kind: str) -> list[Recipient]:
    out: list[Recipient] = []
    if level == 0:
        _add(out, people, responsible_id, "responsible", BREACH_CHANNELS)
        for p in sorted(people.values(), key=lambda p: str(p.user_id)):
            if kind in p.subscriptions:
                _add(out, people, p.user_id, "subscriber", SUBSCRIBER_CHANNELS)
        return out
    rung = next((lv for lv in ladder if int(lv["level"]) == level), None)
    if rung is None:
        return out
    if rung["to"] == "manager_chain":
        manager = manager_above(responsible_id, people, int(rung.get("steps_up", 1)))
        if manager is not None:
            _add(out, people, manager, "manager", rung["channels"])
            return out
    _add(out, people, area_head_id, "area_head", rung["channels"])
    return out


def priority_raise_recipients(notify: Iterable[str], people: Mapping[uuid.UUID, Person], *,
                              responsible_id: uuid.UUID | None, area_head_id: uuid.UUID | None,
                              by: uuid.UUID | None) -> list[Recipient]:
    """R0.4: the roles the new level's scheme names; the person who raised it is not told."""
    out: list[Recipient] = []
    wanted = set(notify)
    if "responsible" in wanted:
        _add(out, people, responsible_id, "responsible", ["email", "in_app"], exclude=by)
    if "manager" in wanted:
        _add(out, people, manager_above(responsible_id, people, 1), "manager", ["email", "in_app"], exclude=by)
    if "area_head" in wanted:
        _add(out, people, area_head_id, "area_head", ["email", "in_app"], exclude=by)
    return out


def supervisor_recipients(people: Mapping[uuid.UUID, Person], *, area_head_id: uuid.UUID | None) -> list[Recipient]:
    """R3.4 rules 6–8: the supervisor of the case's area (its head), else the tenant's supervisors."""
    out: list[Recipient] = []
    _add(out, people, area_head_id, "supervisor", ["email", "in_app"])
    if not out:
        for p in sorted(people.values(), key=lambda p: str(p.user_id)):
            if "supervisor" in p.roles:
                _add(out, people, p.user_id, "supervisor", ["email", "in_app"])
    return out


def churn_recipients(executive_id: uuid.UUID | None, people: Mapping[uuid.UUID, Person],
                     levels: int = DEFAULT_CHURN_ALERT_LEVELS) -> list[Recipient]:
    """R1.1: the customer's commercial executive ("responsible") and the ``levels`` managers above
    them ("manager": the unit head, then the management line), by e-mail and SMS; each person
    once, an inactive one skipped (the chain goes on above them). No executive: nobody."""
    out: list[Recipient] = []
    if executive_id is None:
        return out
    _add(out, people, executive_id, "responsible", CHURN_ALERT_CHANNELS)
    for step in range(1, levels + 1):
        manager = manager_above(executive_id, people, step)
        if manager is None:
            break
        _add(out, people, manager, "manager", CHURN_ALERT_CHANNELS)
    return out
