"""A case's response deadline (R4.2) as the date people are promised. Plain Python: no I/O.

A case type's rule is N business days or N business hours:

- N business days: the end of the N-th business day after the day the case was entered (the
  entry day itself never counts), in the tenant's time zone.
- N business hours: the instant N working hours after entry, counting only the tenant's working
  hours on business days; an entry outside them counts from the next opening."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from services.workflow.domain.calendar import BusinessCalendar


@dataclass(frozen=True)
class Deadline:
    due_date: date
    due_at: datetime
    business_days: int  # business days from the entry date to the due date
    unit: str = "business_days"
    amount: int | None = None  # the rule's N (business days or hours)


def response_deadline(entered_at: datetime, business_days: int, calendar: BusinessCalendar) -> Deadline:
    """R4.2: the case type's rule (N business days) applied from the entry date."""
    due = calendar.add_business_days(calendar.local_date(entered_at), business_days)
    return Deadline(due_date=due, due_at=calendar.end_of_day(due), business_days=business_days,
                    amount=business_days)


def business_hours_deadline(entered_at: datetime, hours: int, calendar: BusinessCalendar) -> Deadline:
    """R4.2 with a business-hours rule: N working hours from the entry instant."""
    due_at = calendar.add_business_hours(entered_at, hours)
    due_date = due_at.date()  # local: add_business_hours answers in the tenant's zone
    return Deadline(due_date=due_date, due_at=due_at, unit="business_hours", amount=hours,
                    business_days=calendar.business_days_between(calendar.local_date(entered_at), due_date))


def deadline_for(entered_at: datetime, unit: str, amount: int, calendar: BusinessCalendar) -> Deadline:
    """The case type's deadline rule (unit and amount, R4.2) applied to a case entered at ``entered_at``."""
    if unit == "business_hours":
        return business_hours_deadline(entered_at, amount, calendar)
    if unit == "business_days":
        return response_deadline(entered_at, amount, calendar)
    raise ValueError(f"unknown deadline unit {unit!r}")


def explicit_deadline(due: date, calendar: BusinessCalendar, entered: date | None = None) -> Deadline:
    """An admin's own due date (issue 4: "an admin may set it explicitly"): due at the end of that
    day in the tenant's time zone; ``business_days`` counts from the entry date when known."""
    start = entered or date.today()
    return Deadline(due_date=due, due_at=calendar.end_of_day(due),
                    business_days=calendar.business_days_between(start, due) if due >= start else 0)
