"""Business calendars: when a tenant works, in its own time zone. Plain Python: no I/O.

A calendar has working hours per ISO weekday, each day one or more periods (e.g. 09:00–13:00
and 14:00–18:00: a lunch break is not working time), the country's national holidays (and the
subdivision's, ``holidays`` package), extra closed days an admin adds, and extra working days
(a Saturday worked to make up a bridge holiday: those win over weekends and holidays).

Clock arithmetic is in *business seconds*: ``elapsed(a, b)`` counts the working time between
two instants, ``add(a, s)`` is the instant ``s`` working seconds after ``a``. Periods are built
in the tenant's zone and compared in UTC, so a DST change is an hour more or less of work and
never depends on the server's zone (glpi#15429)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

WEEKDAYS = frozenset({1, 2, 3, 4, 5})  # ISO weekdays, Monday to Friday
Period = tuple[time, time]
DEFAULT_HOURS: tuple[Period, ...] = ((time(9, 0), time(18, 0)),)
# A calendar closed for this long in a row is a mistake: stop instead of looping for ever.
_MAX_CLOSED_RUN_DAYS = 3660
_MAX_TRACE_DAYS = 370


@lru_cache(maxsize=512)
def _holidays(country: str, subdivision: str | None, year: int) -> Mapping[date, str]:
    try:
        found = holidays.country_holidays(country, subdiv=subdivision, years=year, language="es")
    except (NotImplementedError, ValueError, TypeError):  # no Spanish names for that country
        found = holidays.country_holidays(country, subdiv=subdivision, years=year)
    return dict(found)


@dataclass(frozen=True)
class TraceDay:
    """One local day of a clock's span: the working intervals counted, or why none was."""

    date: date
    counted: tuple[tuple[datetime, datetime], ...] = ()
    skipped: str | None = None  # weekend | holiday | closed
    name: str | None = None


@dataclass(frozen=True, eq=False)
class WorkCalendar:
    country: str
    timezone: str
    hours: Mapping[int, tuple[Period, ...]] = field(default_factory=lambda: {d: DEFAULT_HOURS for d in WEEKDAYS})
    subdivision: str | None = None
    extra_closed: Mapping[date, str | None] = field(default_factory=dict)
    extra_working: frozenset[date] = frozenset()
    code: str = "default"
    version: int | None = None

    # -- what the older single-period calendar answered ------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def work_days(self) -> frozenset[int]:
        return frozenset(d for d, p in self.hours.items() if p)

    @property
    def work_start(self) -> time:
        return min(p[0][0] for p in self.hours.values() if p)

    @property
    def work_end(self) -> time:
        return max(p[-1][1] for p in self.hours.values() if p)

    # -- days ------------------------------------------------------------------------------
    def holiday_name(self, d: date) -> str | None:
        return _holidays(self.country, self.subdivision, d.year).get(d)

    def day_off(self, d: date) -> tuple[str, str | None] | None:
        """Why ``d`` is not worked (("weekend" | "holiday" | "closed", name)), or None."""
        if d in self.extra_working:
            return None
        if d in self.extra_closed:
            return "closed", self.extra_closed[d]
        name = self.holiday_name(d)
        if name is not None:
            return "holiday", name
        if not self.hours.get(d.isoweekday()):
            return "weekend", None
        return None

    def is_business_day(self, d: date) -> bool:
        return self.day_off(d) is None

    def _hours_of(self, d: date) -> tuple[Period, ...]:
        # An extra working day on a weekend works the hours of the first working weekday.
        return self.hours.get(d.isoweekday()) or next((self.hours[w] for w in sorted(self.hours) if self.hours[w]), ())

    def periods(self, d: date) -> list[tuple[datetime, datetime]]:
        """Day ``d``'s working periods as UTC instants (none on a day off)."""
        if not self.is_business_day(d):
            return []
        tz = self.tz
        return [(datetime.combine(d, s, tz).astimezone(UTC), datetime.combine(d, e, tz).astimezone(UTC))
                for s, e in self._hours_of(d)]

    def _next_business_day(self, d: date) -> date:
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

    def business_days_between(self, start: date, end: date) -> int:
        """Business days in (start, end]."""
        return sum(1 for i in range(1, (end - start).days + 1) if self.is_business_day(start + timedelta(days=i)))

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def end_of_day(self, d: date) -> datetime:
        """The last second of local day ``d``, as an aware datetime (tenant zone)."""
        return datetime.combine(d, time(23, 59, 59), self.tz)

    # -- business seconds --------------------------------------------------------------------
    def _periods_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working periods that end after ``start``, in order (the day before too: a period of the
        previous local day may still be open in UTC terms)."""
        d = self.local_date(start) - timedelta(days=1)
        closed_run = 0
        while True:
            ps = self.periods(d)
            closed_run = 0 if ps else closed_run + 1
            if closed_run > _MAX_CLOSED_RUN_DAYS:
                raise ValueError("the calendar has no working time for ten years")
            for a, b in ps:
                if b > start:
                    yield a, b
            d += timedelta(days=1)

    def working_intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The working time in [start, end], as UTC intervals."""
        out: list[tuple[datetime, datetime]] = []
        if end <= start:
            return out
        for a, b in self._periods_from(start):
            if a >= end:
                break
            out.append((max(a, start), min(b, end)))
        return out

    def is_working(self, at: datetime) -> bool:
        return any(a <= at < b for a, b in self.periods(self.local_date(at)))

    def next_working(self, at: datetime) -> datetime:
        """``at`` if it is working time, else the next opening."""
        for a, _b in self._periods_from(at):
            return max(a, at)
        raise AssertionError("unreachable")

    def elapsed(self, start: datetime, end: datetime) -> int:
        """Business seconds between two instants (0 when end <= start)."""
        return int(sum((b - a).total_seconds() for a, b in self.working_intervals(start, end)))

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant ``seconds`` business seconds after ``start`` (0: ``start`` itself). A span that
        uses up a period exactly ends at that period's closing, not at the next opening."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        if seconds == 0:
            return start
        left = timedelta(seconds=seconds)
        for a, b in self._periods_from(start):
            begin = max(a, start)
            if left <= b - begin:
                return begin + left
            left -= b - begin
        raise AssertionError("unreachable")

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """The instant ``hours`` working hours after ``start``, in the tenant's zone; a start outside
        working hours counts from the next opening."""
        if hours < 0:
            raise ValueError("hours must be >= 0")
        at = self.add(start, hours * 3600) if hours else self.next_working(start)
        return at.astimezone(self.tz)

    def due_for(self, start: datetime, unit: str, amount: int) -> datetime:
        """A target rule applied from ``start`` (UTC): N business hours, or the end of the N-th
        business day after the start's local day (R4.2)."""
        if unit == "business_hours":
            return self.add_business_hours(start, amount).astimezone(UTC)
        if unit == "business_days":
            return self.end_of_day(self.add_business_days(self.local_date(start), amount)).astimezone(UTC)
        raise ValueError(f"unknown deadline unit {unit!r}")

    def explain(self, start: datetime, end: datetime,
                pauses: Iterable[tuple[datetime, datetime]] = ()) -> list[TraceDay]:
        """Each local day from ``start`` to ``end``: the working intervals counted (outside the
        pauses) or why the day was skipped. At most a year of days."""
        out: list[TraceDay] = []
        paused = sorted(pauses)
        d, last = self.local_date(start), self.local_date(end)
        while d <= last and len(out) < _MAX_TRACE_DAYS:
            off = self.day_off(d)
            if off is not None:
                out.append(TraceDay(d, skipped=off[0], name=off[1]))
            else:
                counted = []
                for a, b in self.periods(d):
                    a, b = max(a, start), min(b, end)
                    if a < b:
                        counted.extend(minus(a, b, paused))
                out.append(TraceDay(d, counted=tuple(counted)))
            d += timedelta(days=1)
        return out


def minus(a: datetime, b: datetime, pauses: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """[a, b] without the pauses (sorted, closed intervals)."""
    out, cur = [], a
    for ps, pe in pauses:
        if pe <= cur or ps >= b:
            continue
        if ps > cur:
            out.append((cur, ps))
        cur = max(cur, pe)
        if cur >= b:
            break
    if cur < b:
        out.append((cur, b))
    return out


BusinessCalendar = WorkCalendar  # the name earlier code and tests use


def calendar_for(country: str, timezone: str, extra_closed: Iterable[date] | Mapping[date, str | None] = (),
                 work_days: Iterable[int] | None = None, work_start: time | None = None,
                 work_end: time | None = None, *, hours: Mapping[int, Iterable[Period]] | None = None,
                 subdivision: str | None = None, extra_working: Iterable[date] = (), code: str = "default",
                 version: int | None = None) -> WorkCalendar:
    """A validated calendar. ``hours`` (ISO weekday → periods) wins over the single daily span
    ``work_days``/``work_start``/``work_end`` (default Monday–Friday 09:00–18:00)."""
    ZoneInfo(timezone)  # raises for an unknown zone
    if hours is None:
        days = frozenset(work_days) if work_days is not None else WEEKDAYS
        span = ((work_start or time(9, 0), work_end or time(18, 0)),)
        hours = {d: span for d in days}
    table: dict[int, tuple[Period, ...]] = {}
    for day, ps in hours.items():
        day = int(day)
        if day not in range(1, 8):
            raise ValueError("weekdays must be ISO weekdays (1..7)")
        ordered = tuple(sorted(tuple(p) for p in ps))
        for s, e in ordered:
            if s >= e:
                raise ValueError("working hours must end after they start")
        for (_s1, e1), (s2, _e2) in zip(ordered, ordered[1:], strict=False):
            if s2 < e1:
                raise ValueError("working periods of a day must not overlap")
        if ordered:
            table[day] = ordered  # type: ignore[assignment]
    if not table:
        raise ValueError("work_days must be ISO weekdays (1..7), at least one")
    closed = dict(extra_closed) if isinstance(extra_closed, Mapping) else {d: None for d in extra_closed}
    return WorkCalendar(country=country.upper(), timezone=timezone, hours=table, subdivision=subdivision,
                        extra_closed=closed, extra_working=frozenset(extra_working), code=code, version=version)


def calendar_from_event(e: Any) -> WorkCalendar:
    """A calendar from a ``CalendarChanged`` payload (``hours`` wins over the single span)."""
    hours = None
    if e.hours:
        hours = {int(d): [(p.start, p.end) for p in ps] for d, ps in e.hours.items()}
    return calendar_for(e.country, e.timezone, {c.date: c.name for c in e.extra_closed_days}, e.work_days,
                        e.work_start, e.work_end, hours=hours, subdivision=e.subdivision,
                        extra_working=[c.date for c in e.extra_working_days], code=e.code, version=e.version)
