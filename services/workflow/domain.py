"""Business calendar and deadline rules. Plain Python: no I/O.

Business days exclude Saturdays, Sundays, the country's national holidays (``holidays``
package) and any extra closed days a tenant adds. A case's deadline is the end of the N-th
business day after the day it was entered (the entry day itself never counts), in the tenant's
time zone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays


@lru_cache(maxsize=256)
def _national_holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year).keys())


@dataclass(frozen=True)
class BusinessCalendar:
    country: str
    timezone: str
    extra_closed: frozenset[date] = field(default_factory=frozenset)

    def is_business_day(self, d: date) -> bool:
        return d.weekday() < 5 and d not in _national_holidays(self.country, d.year) and d not in self.extra_closed

    def add_business_days(self, start: date, n: int) -> date:
        """The n-th business day after ``start`` (``start`` itself is not counted)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        d = start
        while n > 0:
            d += timedelta(days=1)
            if self.is_business_day(d):
                n -= 1
        return d

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
    business_days: int


def response_deadline(entered_at: datetime, business_days: int, calendar: BusinessCalendar) -> Deadline:
    """R4.2: the case type's rule (N business days) applied from the entry date."""
    due = calendar.add_business_days(calendar.local_date(entered_at), business_days)
    return Deadline(due_date=due, due_at=calendar.end_of_day(due), business_days=business_days)


def calendar_for(country: str, timezone: str, extra_closed: Iterable[date] = ()) -> BusinessCalendar:
    ZoneInfo(timezone)  # raises for an unknown zone
    return BusinessCalendar(country=country.upper(), timezone=timezone, extra_closed=frozenset(extra_closed))
