"""Business calendar and deadline rules. Plain Python: no I/O.

Business days exclude Saturdays, Sundays (more precisely: the weekdays the tenant does not
work; Monday to Friday unless its calendar says otherwise), the country's national holidays
(``holidays`` package) and any extra closed days a tenant adds. A case type's deadline rule
(R4.2) is N business days or N business hours:

- N business days: the end of the N-th business day after the day the case was entered (the
  entry day itself never counts), in the tenant's time zone.
- N business hours: the instant N working hours after entry, counting only the tenant's working
  hours (e.g. 09:00–18:00) on business days; an entry outside them counts from the next opening."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays


@lru_cache(maxsize=256)
def _national_holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year).keys())


WEEKDAYS = frozenset({1, 2, 3, 4, 5})  # ISO weekdays, Monday to Friday
# A calendar closed for this long in a row is a mistake: stop instead of looping for ever.
_MAX_CLOSED_RUN_DAYS = 3660


@dataclass(frozen=True)
class BusinessCalendar:
    country: str
    timezone: str
    extra_closed: frozenset[date] = field(default_factory=frozenset)
    work_days: frozenset[int] = WEEKDAYS  # ISO weekdays (1 = Monday)
    work_start: time = time(9, 0)  # working hours, local time (business-hours rules)
    work_end: time = time(18, 0)

    def is_business_day(self, d: date) -> bool:
        return (d.isoweekday() in self.work_days and d not in _national_holidays(self.country, d.year)
                and d not in self.extra_closed)

    def _next_business_day(self, d: date) -> date:
        """The first business day after ``d``."""
        for _ in range(_MAX_CLOSED_RUN_DAYS):
            d += timedelta(days=1)
            if self.is_business_day(d):
                return d
        raise ValueError("the calendar has no business day for ten years")

    def add_business_days(self, start: date, n: int) -> date:
        """The n-th business day after ``start`` (``start`` itself is not counted)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        d = start
        for _ in range(n):
            d = self._next_business_day(d)
        return d

    def add_business_hours(self, start: datetime, hours: int) -> datetime:
        """The instant ``hours`` working hours after ``start``, counting only the working hours
        of business days (local time); a start outside them counts from the next opening. A
        deadline that uses up a day's hours exactly falls at that day's closing time."""
        if hours < 0:
            raise ValueError("hours must be >= 0")
        tz = ZoneInfo(self.timezone)
        remaining = timedelta(hours=hours)
        at = start.astimezone(UTC)
        d = start.astimezone(tz).date()
        if not self.is_business_day(d):
            d = self._next_business_day(d)
        while True:
            # Arithmetic in UTC: a DST change inside working hours is an hour more or less of work.
            opening = datetime.combine(d, self.work_start, tz).astimezone(UTC)
            closing = datetime.combine(d, self.work_end, tz).astimezone(UTC)
            begin = max(at, opening)
            if begin < closing:
                if remaining <= closing - begin:
                    return (begin + remaining).astimezone(tz)
                remaining -= closing - begin
            d = self._next_business_day(d)

    def business_days_between(self, start: date, end: date) -> int:
        """Business days in (start, end]."""
        return sum(1 for i in range(1, (end - start).days + 1) if self.is_business_day(start + timedelta(days=i)))

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(ZoneInfo(self.timezone)).date()

    def end_of_day(self, d: date) -> datetime:
        """The last second of local day ``d``, as an aware datetime."""
        return datetime.combine(d, time(23, 59, 59), ZoneInfo(self.timezone))


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


def calendar_for(country: str, timezone: str, extra_closed: Iterable[date] = (),
                 work_days: Iterable[int] | None = None, work_start: time | None = None,
                 work_end: time | None = None) -> BusinessCalendar:
    ZoneInfo(timezone)  # raises for an unknown zone
    days = frozenset(work_days) if work_days is not None else WEEKDAYS
    if not days or not days <= set(range(1, 8)):
        raise ValueError("work_days must be ISO weekdays (1..7), at least one")
    start, end = work_start or time(9, 0), work_end or time(18, 0)
    if start >= end:
        raise ValueError("working hours must end after they start")
    return BusinessCalendar(country=country.upper(), timezone=timezone, extra_closed=frozenset(extra_closed),
                            work_days=days, work_start=start, work_end=end)


def explicit_deadline(due: date, calendar: BusinessCalendar, entered: date | None = None) -> Deadline:
    """An admin's own due date (issue 4: "an admin may set it explicitly"): due at the end of that
    day in the tenant's time zone; ``business_days`` counts from the entry date when known."""
    start = entered or date.today()
    return Deadline(due_date=due, due_at=calendar.end_of_day(due),
                    business_days=calendar.business_days_between(start, due) if due >= start else 0)
