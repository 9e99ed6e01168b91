"""The SLA and workload reports and R2.9's activity report, as pure computations over case,
interaction and task facts (rows with the columns of ``case_facts``…). No I/O.

Conventions every report shares:

- Periods are the tenant's: ``from``/``to`` are dates in its time zone, ``from`` inclusive, ``to``
  exclusive (``from=2026-11-01&to=2026-12-01`` is November); a case is in a period by its entry
  time (``created_at``) on the tenant's wall clock.
- A clock is *met* when met by its due time, *breached* when it breached or was met late,
  *open* while it runs (or is paused); a stopped clock (its policy was removed) or a case without
  that clock does not count. Facts are each case's latest cycle (a reopened case counts again
  from its new resolution cycle).
- Times are business time (the clock's own calendar, pauses excluded), in hours. The median is
  the middle value (the mean of the two middle ones for an even count); p90 is the nearest-rank
  90th percentile (the smallest value with at least 90 % of the values at or below it).
- Backlog age is in calendar days on the tenant's wall clock, from the entry date to today."""

from __future__ import annotations

import math
import statistics
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

Period = Literal["day", "week", "month"]
FINISHED = ("finished_success", "finished_failure")


# -- periods -----------------------------------------------------------------------------------
def day_start(d: date, zone: str) -> datetime:
    """The instant (UTC) a local day starts in ``zone``."""
    return datetime.combine(d, time(0), ZoneInfo(zone)).astimezone(UTC)


def bounds(since: date | None, until: date | None, zone: str) -> tuple[datetime | None, datetime | None]:
    """``[from, to)`` as instants: local midnights in ``zone``."""
    return (day_start(since, zone) if since else None, day_start(until, zone) if until else None)


def period_key(at: datetime, period: Period, zone: str) -> str:
    """The day (YYYY-MM-DD), ISO week (YYYY-Www) or month (YYYY-MM) ``at`` falls in, in ``zone``."""
    local = at.astimezone(ZoneInfo(zone))
    if period == "day":
        return local.strftime("%Y-%m-%d")
    if period == "week":
        y, w, _ = local.isocalendar()
        return f"{y}-W{w:02d}"
    return local.strftime("%Y-%m")


# -- labels ------------------------------------------------------------------------------------
Text = dict[str, str]
CLOCK_NAMES: dict[str, Text] = {"first_response": {"es": "Primera respuesta", "en": "First response"},
                                "resolution": {"es": "Resolución", "en": "Resolution"}}
OUTCOME_NAMES: dict[str, Text] = {"met": {"es": "Cumplido", "en": "Met"},
                                  "breached": {"es": "Incumplido", "en": "Breached"},
                                  "open": {"es": "En curso", "en": "Open"}}
NONE_LABEL: Text = {"es": "(sin dato)", "en": "(none)"}


def say(text: Text, lang: str) -> str:
    return text.get(lang, text["es"])


# -- SLA compliance ----------------------------------------------------------------------------
def outcome(row: Any, clock: str) -> str | None:
    """met | breached | open for one clock of a case (None: no such clock, or stopped)."""
    state = getattr(row, f"{clock}_state")
    met_at, breached_at, due_at = (getattr(row, f"{clock}_{c}") for c in ("met_at", "breached_at", "due_at"))
    if state is None and met_at is None and breached_at is None:
        return None
    if breached_at is not None or (met_at is not None and due_at is not None and met_at > due_at):
        return "breached"
    if met_at is not None:
        return "met"
    return None if state == "stopped" else "open"


class Compliance(BaseModel):
    met: int = 0
    breached: int = 0
    open: int = 0
    met_pct: float | None = None  # met / (met + breached); None until one is decided
    breached_pct: float | None = None


class ComplianceRow(BaseModel):
    key: str
    label: str
    first_response: Compliance
    resolution: Compliance


class SlaCompliance(BaseModel):
    tenant: str
    time_zone: str
    since: date | None
    until: date | None
    by: str
    rows: list[ComplianceRow]
    total: ComplianceRow


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _compliance(rows: list[Any], clock: str) -> Compliance:
    c = Compliance()
    for r in rows:
        o = outcome(r, clock)
        if o is not None:
            setattr(c, o, getattr(c, o) + 1)
    decided = c.met + c.breached
    c.met_pct, c.breached_pct = _pct(c.met, decided), _pct(c.breached, decided)
    return c


Keyer = Callable[[Any], tuple[str, str]]  # a row → (key, label)


def group(rows: Iterable[Any], keyer: Keyer) -> list[tuple[str, str, list[Any]]]:
    """Rows grouped by ``keyer``, sorted by key; each group's label is its last row's."""
    groups: dict[str, tuple[str, list[Any]]] = {}
    for r in rows:
        key, label = keyer(r)
        groups.setdefault(key, (label, []))[1].append(r)
    return [(k, label, rs) for k, (label, rs) in sorted(groups.items())]


def sla_compliance(tenant: str, zone: str, since: date | None, until: date | None, by: str, rows: list[Any],
                   keyer: Keyer, lang: str) -> SlaCompliance:
    def line(key: str, label: str, rs: list[Any]) -> ComplianceRow:
        return ComplianceRow(key=key, label=label, first_response=_compliance(rs, "first_response"),
                             resolution=_compliance(rs, "resolution"))

    return SlaCompliance(tenant=tenant, time_zone=zone, since=since, until=until, by=by,
                         rows=[line(k, label, rs) for k, label, rs in group(rows, keyer)],
                         total=line("total", "Total", rows))


# -- response times ----------------------------------------------------------------------------
def median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``p`` % of them at or below."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1])


class TimeStats(BaseModel):
    count: int
    median_hours: float | None
    p90_hours: float | None


def time_stats(seconds: list[int]) -> TimeStats:
    hours = [s / 3600 for s in seconds]
    med, p90 = median(hours), percentile(hours, 90)
    return TimeStats(count=len(hours), median_hours=None if med is None else round(med, 2),
                     p90_hours=None if p90 is None else round(p90, 2))


class TimesRow(BaseModel):
    key: str
    label: str
    first_response: TimeStats
    resolution: TimeStats


class ResponseTimes(BaseModel):
    tenant: str
    time_zone: str
    since: date | None
    until: date | None
    by: str
    rows: list[TimesRow]
    total: TimesRow


def _seconds(rows: list[Any], clock: str) -> list[int]:
    return [s for r in rows if getattr(r, f"{clock}_met_at") is not None
            and (s := getattr(r, f"{clock}_business_seconds")) is not None]


def response_times(tenant: str, zone: str, since: date | None, until: date | None, by: str, rows: list[Any],
                   keyer: Keyer) -> ResponseTimes:
    def line(key: str, label: str, rs: list[Any]) -> TimesRow:
        return TimesRow(key=key, label=label, first_response=time_stats(_seconds(rs, "first_response")),
                        resolution=time_stats(_seconds(rs, "resolution")))

    return ResponseTimes(tenant=tenant, time_zone=zone, since=since, until=until, by=by,
                         rows=[line(k, label, rs) for k, label, rs in group(rows, keyer)],
                         total=line("total", "Total", rows))


# -- backlog aging -----------------------------------------------------------------------------
AGE_BUCKETS: list[tuple[str, int, int | None]] = [("0-2", 0, 2), ("3-5", 3, 5), ("6-10", 6, 10),
                                                  ("11-20", 11, 20), (">20", 21, None)]


def age_bucket(days: int) -> str:
    for name, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days <= high):
            return name
    return AGE_BUCKETS[0][0]  # entered "in the future" (clock skew): the youngest bucket


class AgingRow(BaseModel):
    key: str
    label: str
    buckets: dict[str, int]
    total: int


class BacklogAging(BaseModel):
    tenant: str
    time_zone: str
    since: date | None
    until: date | None
    as_of: date
    by: str
    buckets: list[str]
    rows: list[AgingRow]
    total: AgingRow


def backlog_aging(tenant: str, zone: str, since: date | None, until: date | None, by: str, rows: list[Any],
                  keyer: Keyer, now: datetime) -> BacklogAging:
    """Open cases (not finished) by their age in calendar days, as of ``now``."""
    today = now.astimezone(ZoneInfo(zone)).date()
    open_rows = [r for r in rows if r.status not in FINISHED]

    def line(key: str, label: str, rs: list[Any]) -> AgingRow:
        counts = {name: 0 for name, _, _ in AGE_BUCKETS}
        for r in rs:
            counts[age_bucket((today - r.created_at.astimezone(ZoneInfo(zone)).date()).days)] += 1
        return AgingRow(key=key, label=label, buckets=counts, total=len(rs))

    return BacklogAging(tenant=tenant, time_zone=zone, since=since, until=until, as_of=today, by=by,
                        buckets=[b for b, _, _ in AGE_BUCKETS],
                        rows=[line(k, label, rs) for k, label, rs in group(open_rows, keyer)],
                        total=line("total", "Total", open_rows))


# -- volumes -----------------------------------------------------------------------------------
class VolumeSeries(BaseModel):
    key: str
    label: str
    counts: list[int]  # one per period, in ``periods`` order
    total: int


class Volumes(BaseModel):
    tenant: str
    time_zone: str
    since: date | None
    until: date | None
    by: str
    period: Period
    periods: list[str]
    series: list[VolumeSeries]
    total: int


def volumes(tenant: str, zone: str, since: date | None, until: date | None, by: str, period: Period,
            rows: list[Any], keyer: Keyer) -> Volumes:
    """Cases entered per period (the tenant's days, ISO weeks or months) and per ``by``."""
    periods = sorted({period_key(r.created_at, period, zone) for r in rows})
    series = []
    for key, label, rs in group(rows, keyer):
        per = {p: 0 for p in periods}
        for r in rs:
            per[period_key(r.created_at, period, zone)] += 1
        series.append(VolumeSeries(key=key, label=label, counts=[per[p] for p in periods], total=len(rs)))
    return Volumes(tenant=tenant, time_zone=zone, since=since, until=until, by=by, period=period,
                   periods=periods, series=series, total=len(rows))


# -- R2.9 activity of a party or a supply ------------------------------------------------------
class ActivityItem(BaseModel):
    kind: Literal["interaction", "case", "task"]
    id: uuid.UUID
    at: datetime  # when it occurred / was entered / was created
    code: str  # interaction code, case number, or the task's case number
    title: str  # summary, case type, task title
    status: str
    channel: str | None = None
    case_id: uuid.UUID | None = None
    closed_at: datetime | None = None


class Activity(BaseModel):
    tenant: str
    time_zone: str
    since: date | None
    until: date | None
    subject_kind: Literal["party", "asset"]
    subject_id: uuid.UUID
    subject_name: str
    interactions: int
    cases: int
    tasks: int
    items: list[ActivityItem]  # all of them, oldest first


KIND_NAMES: dict[str, Text] = {"interaction": {"es": "Interacción", "en": "Interaction"},
                               "case": {"es": "Solicitud", "en": "Case"}, "task": {"es": "Tarea", "en": "Task"}}
OPEN_CLOSED: dict[str, Text] = {"open": {"es": "Abierta", "en": "Open"}, "closed": {"es": "Cerrada", "en": "Closed"}}
ACTIVITY_COLUMNS: dict[str, list[str]] = {
    "es": ["Tipo", "Fecha", "Código", "Detalle", "Estado", "Canal", "Cierre"],
    "en": ["Kind", "Date", "Code", "Detail", "Status", "Channel", "Closed at"]}
ACTIVITY_SHEET: Text = {"es": "Actividad", "en": "Activity"}


def activity(tenant: str, zone: str, since: date | None, until: date | None, subject_kind: Literal["party", "asset"],
             subject_id: uuid.UUID, subject_name: str, items: list[ActivityItem]) -> Activity:
    items = sorted(items, key=lambda i: (i.at, i.kind, i.code))
    count = {k: sum(1 for i in items if i.kind == k) for k in ("interaction", "case", "task")}
    return Activity(tenant=tenant, time_zone=zone, since=since, until=until, subject_kind=subject_kind,
                    subject_id=subject_id, subject_name=subject_name, interactions=count["interaction"],
                    cases=count["case"], tasks=count["task"], items=items)


def local_naive(at: datetime | None, zone: str) -> datetime | None:
    """``at`` on the tenant's wall clock, without zone (what a spreadsheet shows)."""
    return None if at is None else at.astimezone(ZoneInfo(zone)).replace(tzinfo=None, microsecond=0)


def activity_rows(report: Activity, lang: str, status_label: Callable[[str, str], str]) -> list[list[Any]]:
    """One row per item (columns ``ACTIVITY_COLUMNS``) for the CSV and XLSX downloads."""
    out = []
    for i in report.items:
        status = say(OPEN_CLOSED[i.status], lang) if i.status in OPEN_CLOSED else status_label(i.status, lang)
        out.append([say(KIND_NAMES[i.kind], lang), local_naive(i.at, report.time_zone), i.code, i.title, status,
                    i.channel or "", local_naive(i.closed_at, report.time_zone) or ""])
    return out


# -- grouping keys -----------------------------------------------------------------------------
GROUPINGS = ("type", "area", "channel", "responsible", "priority", "period")


def keyer_for(by: str, names: dict[str, str], lang: str, zone: str, period: Period, rows: list[Any]) -> Keyer:
    """How a case row is grouped for ``by``, with its label in ``lang`` (``names``: the catalog's
    names of that kind; a responsible is named by the latest case that carried the name)."""
    none = say(NONE_LABEL, lang)
    if by == "period":
        return lambda r: (period_key(r.created_at, period, zone), period_key(r.created_at, period, zone))
    if by == "responsible":
        people = {r.responsible_id: r.responsible_name for r in rows if r.responsible_name}
        return lambda r: ((str(r.responsible_id), people.get(r.responsible_id) or str(r.responsible_id))
                          if r.responsible_id else ("", none))
    column = {"type": "type_code"}.get(by, by)

    def key(r: Any) -> tuple[str, str]:
        code = getattr(r, column)
        if not code:
            return "", none
        return code, names.get(code) or (r.type_name if by == "type" else code)

    return key
