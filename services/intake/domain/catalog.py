"""The catalog's rules ("mantenedores", R4.2, R3.2, R0.3). Plain Python: no I/O.

What admins maintain per tenant: channels, areas (with a head user), projects or business
lines, a category tree of up to three levels, case types with their deadline rule and, for
typified kinds (R3.2), the channels allowed and the fields they pin; and the business calendar.
The API (services/intake/api/catalog.py) checks input against these rules and answers field by
field; the case API can use ``case_type_problems`` to apply a type to a case being entered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from services.intake.domain.triage import BusinessLine, FollowUpKind

Text = tuple[str, str]  # (es, en)

# Priorities a case type may set (default or pinned). R0.3: a case is never *created* urgent
# (raising to urgent is a separate, justified change), so no type may start one there.
PRIORITIES = ("low", "normal", "high", "urgent")
CREATABLE_PRIORITIES = ("low", "normal", "high")

# Document classes a typified kind may pin (R3.2: "clase de documento": Reclamo).
DOCUMENT_CLASSES: dict[str, Text] = {
    "complaint": ("Reclamo", "Complaint"),
    "request": ("Solicitud", "Request"),
    "inquiry": ("Consulta", "Inquiry"),
    "suggestion": ("Sugerencia", "Suggestion"),
    "compliment": ("Felicitación", "Compliment"),
}

# Case fields a type may make mandatory (R3.2: contact name, phone, e-mail and description).
REQUIRED_FIELD_CHOICES = ("contact.phone", "contact.email", "description", "project")

# R3.1/R3.5: the follow-up kind a follow-up type stands for (triage reads it from the catalog,
# not from the type's code), and the business line of a project (meter customers file their
# follow-ups themselves; packaged and bulk gas: the agent does).
FOLLOW_UP_KINDS = tuple(k.value for k in FollowUpKind)
BUSINESS_LINES = tuple(b.value for b in BusinessLine)

MAX_CATEGORY_DEPTH = 3  # R3.2: Medidor > Cobranza > Gestión de cobranza
PATH_SEPARATOR = "/"

# A deadline beyond these is a typo, not a service level.
MAX_DEADLINE = {"business_days": 365, "business_hours": 2000}

DEFAULT_WORK_DAYS = (1, 2, 3, 4, 5)  # ISO weekdays: Monday to Friday
DEFAULT_WORK_START = time(9, 0)
DEFAULT_WORK_END = time(18, 0)


def split_path(path: str) -> list[str]:
    """``"medidor/cobranza/gestion-cobranza"`` → its codes (surrounding blanks and slashes ignored)."""
    return [p.strip() for p in path.strip().strip(PATH_SEPARATOR).split(PATH_SEPARATOR)]


def join_path(codes: Sequence[str]) -> str:
    return PATH_SEPARATOR.join(codes)


def child_path(parent_path: str | None, code: str) -> str:
    return code if not parent_path else join_path([*split_path(parent_path), code])


def path_depth_problem(parent_level: int | None) -> Text | None:
    """A new node under a parent at ``parent_level`` (None: a root) must stay within three levels."""
    if parent_level is not None and parent_level >= MAX_CATEGORY_DEPTH:
        return (f"Las categorías tienen como máximo {MAX_CATEGORY_DEPTH} niveles.",
                f"Categories have at most {MAX_CATEGORY_DEPTH} levels.")
    return None


def deadline_problem(unit: str, amount: int) -> Text | None:
    """R4.2: the type's deadline rule, N business days or N business hours, N ≥ 1 and sensible."""
    top = MAX_DEADLINE[unit]
    if amount < 1 or amount > top:
        word = ("días hábiles", "business days") if unit == "business_days" else ("horas hábiles", "business hours")
        return (f"El plazo debe estar entre 1 y {top} {word[0]}.", f"The deadline must be 1 to {top} {word[1]}.")
    return None


def priority_problem(priority: str | None) -> Text | None:
    """R0.3: creating a case as urgent is forbidden, so no type may default or pin it."""
    if priority == "urgent":
        return ("Una solicitud nunca se crea con prioridad urgente (R0.3); se eleva después, con un motivo.",
                "A case is never created urgent (R0.3); it is raised later, with a reason.")
    return None


def effective_default_priority(default: str | None, pinned: str | None) -> tuple[str | None, Text | None]:
    """The priority a type's cases start with: the pinned one if any (R3.2), else the default
    (normal when unset, R0.3). A default that contradicts the pinned priority is a mistake."""
    if pinned is not None:
        if default is not None and default != pinned:
            return None, ("La prioridad por defecto contradice la prioridad fijada del tipo.",
                          "The default priority contradicts the type's pinned priority.")
        return pinned, None
    return default or "normal", None


def follow_up_kind_problem(is_follow_up: bool, follow_up_kind: str | None) -> Text | None:
    """R3.1: only a follow-up type names the follow-up kind it stands for."""
    if follow_up_kind is not None and not is_follow_up:
        return ("Sólo un tipo de seguimiento (is_follow_up) tiene clase de seguimiento.",
                "Only a follow-up type (is_follow_up) has a follow-up kind.")
    return None


def working_hours_problem(start: time, end: time) -> Text | None:
    if start >= end:
        return ("La hora de término debe ser posterior a la de inicio.", "The end time must be after the start time.")
    return None


def calendar_problems(country: str, timezone: str, start: time, end: time, closed: Sequence[date]
                      ) -> list[tuple[str, Text, str]]:
    """What is wrong with a business calendar (R4.2), field by field: (field, text, code)."""
    out: list[tuple[str, Text, str]] = []
    if country not in holidays.list_supported_countries():
        out.append(("country", ("No hay calendario de feriados para ese país.", "No holiday calendar for that country."),
                    "unknown_country"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        out.append(("timezone", ("Zona horaria IANA desconocida (p. ej. America/Santiago).",
                                 "Unknown IANA time zone (e.g. America/Santiago)."), "unknown_timezone"))
    problem = working_hours_problem(start, end)
    if problem:
        out.append(("working_hours.end", problem, "end_before_start"))
    out += [(f"extra_closed_days.{i}.date", ("Ese día ya está en la lista.", "That day is listed twice."),
             "duplicate_date") for i in duplicates(closed)]
    return out


# -- several calendars with periods (issue 10) -------------------------------------------------
WEEKDAYS = range(1, 8)  # ISO: 1 = Monday … 7 = Sunday
DEFAULT_CALENDAR = "default"


def subdivisions(country: str) -> list[str]:
    """The regions of a country the ``holidays`` package knows regional holidays of."""
    return list(holidays.list_supported_countries().get(country, []))


def hours_problems(hours: Mapping[str, Sequence[tuple[time, time]]], prefix: str = "hours"
                   ) -> list[tuple[str, Text, str]]:
    """Working periods per ISO weekday ("1".."7"): each ends after it starts, and a day's periods
    do not overlap (e.g. 09:00–13:00 and 14:00–18:00 for a lunch break)."""
    out: list[tuple[str, Text, str]] = []
    for day, periods in hours.items():
        if not day.isdigit() or int(day) not in WEEKDAYS:
            out.append((f"{prefix}.{day}", ("El día debe ser 1 (lunes) a 7 (domingo).",
                                            "The weekday must be 1 (Monday) to 7 (Sunday)."), "unknown_weekday"))
            continue
        for i, (start, end) in enumerate(periods):
            problem = working_hours_problem(start, end)
            if problem:
                out.append((f"{prefix}.{day}.{i}.end", problem, "end_before_start"))
        ordered = sorted(enumerate(periods), key=lambda p: p[1][0])
        for (_, (_, end_before)), (i, (start, _)) in zip(ordered, ordered[1:], strict=False):
            if start < end_before:
                out.append((f"{prefix}.{day}.{i}.start", ("Los tramos de un mismo día se traslapan.",
                                                          "The periods of one day overlap."), "overlapping_periods"))
    if not any(periods for periods in hours.values()):
        out.append((prefix, ("El calendario necesita al menos un tramo de trabajo.",
                             "The calendar needs at least one working period."), "no_working_hours"))
    return out


def time_calendar_problems(*, country: str, subdivision: str | None, timezone: str,
                           hours: Mapping[str, Sequence[tuple[time, time]]], closed: Sequence[date],
                           working: Sequence[date]) -> list[tuple[str, Text, str]]:
    """What is wrong with one of a tenant's calendars, field by field: country and subdivision
    known to the ``holidays`` package, an IANA zone, periods per weekday, no day listed twice or
    both closed and working."""
    out: list[tuple[str, Text, str]] = []
    if country not in holidays.list_supported_countries():
        out.append(("country", ("No hay calendario de feriados para ese país.", "No holiday calendar for that country."),
                    "unknown_country"))
    elif subdivision is not None and subdivision not in subdivisions(country):
        out.append(("subdivision", ("Esa región no existe en el calendario de feriados del país.",
                                    "No such region in the country's holiday calendar."), "unknown_subdivision"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        out.append(("timezone", ("Zona horaria IANA desconocida (p. ej. America/Santiago).",
                                 "Unknown IANA time zone (e.g. America/Santiago)."), "unknown_timezone"))
    out += hours_problems(hours)
    twice = ("Ese día ya está en la lista.", "That day is listed twice.")
    out += [(f"extra_closed_days.{i}.date", twice, "duplicate_date") for i in duplicates(closed)]
    out += [(f"extra_working_days.{i}.date", twice, "duplicate_date") for i in duplicates(working)]
    shut = set(closed)
    out += [(f"extra_working_days.{i}.date", ("Ese día también está entre los días cerrados.",
                                              "That day is also listed as closed."), "closed_and_working")
            for i, d in enumerate(working) if d in shut]
    return out


# -- SLA settings and policies (issue 10; R4.8 warnings, R4.9 escalation, R1.4 hold) ---------
CHANNELS = ("email", "sms", "in_app")
MAX_HOLD_DAYS = 365


def percents_problems(percents: Sequence[int], prefix: str) -> list[tuple[str, Text, str]]:
    """Warning thresholds: percents of a target's business time, 1..99, ascending, each once."""
    out: list[tuple[str, Text, str]] = []
    for i, p in enumerate(percents):
        if not 1 <= p <= 99:
            out.append((f"{prefix}.{i}", ("El porcentaje debe estar entre 1 y 99.", "The percent must be 1 to 99."),
                        "percent_out_of_range"))
        elif i and p <= percents[i - 1]:
            out.append((f"{prefix}.{i}", ("Los porcentajes van en orden creciente y sin repetir.",
                                          "Percents go in ascending order, each once."), "not_ascending"))
    return out


def ladder_problems(ladder: Sequence[Any]) -> list[tuple[str, Text, str]]:
    """The escalation ladder: levels 1..n in order; each ``after`` the breach ≥ 0 (level 1: at
    once, 0); channels a non-empty set of e-mail, SMS and in-app."""
    out: list[tuple[str, Text, str]] = []
    for i, lv in enumerate(ladder):
        if lv.level != i + 1:
            out.append((f"ladder.{i}.level", (f"Los niveles van de 1 en 1: aquí corresponde el {i + 1}.",
                                              f"Levels go one by one: this one must be {i + 1}."),
                        "levels_not_consecutive"))
        amount, unit = lv.after.amount, lv.after.unit
        if amount < 0 or amount > MAX_DEADLINE[unit]:
            out.append((f"ladder.{i}.after.amount", (f"Debe estar entre 0 y {MAX_DEADLINE[unit]}.",
                                                     f"It must be 0 to {MAX_DEADLINE[unit]}."), "out_of_range"))
        elif i == 0 and amount != 0:
            out.append((f"ladder.{i}.after.amount", ("El nivel 1 escala al vencer (0).",
                                                     "Level 1 escalates at the breach (0)."), "first_level_not_at_breach"))
        if not lv.channels:
            out.append((f"ladder.{i}.channels", ("Indique al menos un canal.", "Give at least one channel."),
                        "no_channels"))
        out += [(f"ladder.{i}.channels.{j}", ("Canal desconocido (email, sms, in_app).",
                                              "Unknown channel (email, sms, in_app)."), "unknown_channel")
                for j, c in enumerate(lv.channels) if c not in CHANNELS]
    return out


def sla_policy_problems(sla: dict[str, Any], calendars: dict[str, bool], prefix: str = "sla"
                        ) -> list[tuple[str, Text, str]]:
    """A case type's SLA policy: targets within the deadline limits (> 0), thresholds as the
    settings', a hold of 1..365 business days (R1.4), an active calendar of the tenant."""
    out: list[tuple[str, Text, str]] = []
    targets = [("first_response", sla.get("first_response"))]
    targets += [(f"resolution_by_priority.{k}", v) for k, v in (sla.get("resolution_by_priority") or {}).items()]
    for name, target in targets:
        if target is not None:
            problem = deadline_problem(target["unit"], target["amount"])
            if problem:
                out.append((f"{prefix}.{name}.amount", problem, "deadline_out_of_range"))
    if sla.get("warning_percents") is not None:
        out += percents_problems(sla["warning_percents"], f"{prefix}.warning_percents")
    hold = sla.get("hold_business_days")
    if hold is not None and not 1 <= hold <= MAX_HOLD_DAYS:
        out.append((f"{prefix}.hold_business_days", (f"La espera debe estar entre 1 y {MAX_HOLD_DAYS} días hábiles.",
                                                     f"The hold must be 1 to {MAX_HOLD_DAYS} business days."),
                    "hold_out_of_range"))
    cal = sla.get("calendar")
    if cal is not None and not calendars.get(cal):
        out.append((f"{prefix}.calendar", UNKNOWN_CALENDAR, "unknown_calendar"))
    return out


UNKNOWN_CALENDAR: Text = ("No existe un calendario activo con ese código.", "No active calendar with that code.")


def holidays_of(country: str, subdivision: str | None, year: int, lang: str) -> list[tuple[date, str]]:
    """The country's holidays in ``year``, with the subdivision's regional ones."""
    hol = holidays.country_holidays(country, subdiv=subdivision, years=year,
                                    language="es" if lang == "es" else "en_US")
    return sorted(hol.items())


def national_holidays(country: str, year: int, lang: str) -> list[tuple[date, str]]:
    """The country's holidays in ``year`` (they count as closed days), named in ``lang``."""
    hol = holidays.country_holidays(country, years=year, language="es" if lang == "es" else "en_US")
    return sorted(hol.items())


@dataclass
class TreeNode:
    code: str
    path: str
    name_es: str
    name_en: str
    active: bool
    children: list[TreeNode] = field(default_factory=list)


def category_tree(rows: Iterable[Any]) -> list[TreeNode]:
    """Nest category rows ordered by path (a parent before its children); a node whose parent
    is not among the rows is left out with it."""
    nodes: dict[str, TreeNode] = {}
    roots: list[TreeNode] = []
    for r in rows:
        node = TreeNode(code=r.code, path=r.path, name_es=r.name_es, name_en=r.name_en, active=r.active)
        nodes[r.path] = node
        parent = r.path.rsplit(PATH_SEPARATOR, 1)[0] if r.level > 1 else None
        if parent is None:
            roots.append(node)
        elif parent in nodes:
            nodes[parent].children.append(node)
    return roots


def in_subtree(path: str, under: str) -> bool:
    return path == under or path.startswith(under + PATH_SEPARATOR)


def path_prefixes(path: str) -> list[str]:
    """``a/b/c`` → ``["a", "a/b", "a/b/c"]`` (the trail from the root)."""
    codes = split_path(path)
    return [join_path(codes[:i]) for i in range(1, len(codes) + 1)]


def duplicates(values: Iterable[Any]) -> list[int]:
    """Positions of values already seen earlier in the sequence."""
    seen: set[Any] = set()
    out = []
    for i, v in enumerate(values):
        if v in seen:
            out.append(i)
        seen.add(v)
    return out


# -- applying a case type to a case being entered (for the case API) --------------------------
@dataclass(frozen=True)
class CaseTypeRules:
    allowed_channels: tuple[str, ...] | None  # None: any active channel
    projects: tuple[str, ...] | None  # None: any project
    required_fields: tuple[str, ...] = ()

    @classmethod
    def of(cls, row: Any) -> CaseTypeRules:
        """From a ``case_types`` row."""
        return cls(allowed_channels=tuple(row.allowed_channels) if row.allowed_channels is not None else None,
                   projects=tuple(row.projects) if row.projects is not None else None,
                   required_fields=tuple(row.required_fields or ()))


def case_type_problems(rules: CaseTypeRules, *, channel: str | None, project: str | None,
                       present: Iterable[str] = ()) -> list[tuple[str, Text, str]]:
    """What a case of this type breaks, as (field, (es, en), code): a channel the type does not
    allow (R3.2: in person is not allowed for collections management), a project outside the
    type's scope (R4.2), or a field the type requires left empty (R3.2). ``present`` names the
    fields the case has (``"contact.phone"``…)."""
    out: list[tuple[str, Text, str]] = []
    if channel is not None and rules.allowed_channels is not None and channel not in rules.allowed_channels:
        out.append(("channel", ("Este tipo de solicitud no se recibe por ese canal.",
                                "This case type is not accepted through that channel."), "channel_not_allowed"))
    if rules.projects is not None and project not in rules.projects:
        out.append(("project", ("Este tipo de solicitud no existe en ese proyecto.",
                                "This case type does not exist in that project."), "type_not_in_project"))
    have = set(present)
    for f in rules.required_fields:
        if f not in have:
            out.append((f, ("Este tipo de solicitud exige este dato.", "This case type requires this field."),
                        "required_by_type"))
    return out
