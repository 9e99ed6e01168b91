"""The catalog's use cases ("mantenedores", R4.2): channels, areas, projects, the category tree
(R3.2), case types with their rules (R4.2, R3.1, R3.2, R0.3, R1.2, R2.3, R3.5) and the business
calendar. Admins write; every user of the tenant reads.

Each write is one transaction: the entry is locked, checked (every problem at once), changed
with its version bumped, and its ``catalog.*_changed.v1`` event written to the outbox (the
adapters' ``save_*``, shared with the seed). After the commit this process's catalog cache is
cleared, so the change shows at once here; other replicas clear theirs from the event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters import catalog_tables as store
from services.intake.domain import catalog as rules
from services.intake.domain.access import Principal
from services.intake.service_layer.unit_of_work import UnitOfWork
from shared.contracts.events import ClosedDay, DeadlineRule, EscalationLevel, SlaPolicy, WorkPeriod
from shared.db import Database
from shared.refusals import FieldErrors, Text, field_error, invalid, not_found


class Cache(Protocol):
    def clear(self) -> None: ...


@dataclass(frozen=True)
class EntryKind:
    what: Text  # "Canal" / "Channel"
    article: Text  # "un canal" / "channel": "Ya existe un canal con ese código."

    @property
    def missing(self) -> Text:
        return (f"{self.what[0]} no encontrado", f"{self.what[1]} not found")


ENTRY_KINDS = {"channel": EntryKind(("Canal", "Channel"), ("un canal", "channel")),
               "area": EntryKind(("Área", "Area"), ("un área", "area")),
               "project": EntryKind(("Proyecto", "Project"), ("un proyecto", "project")),
               "escalation_kind": EntryKind(("Tipo de escalamiento", "Escalation kind"),
                                            ("un tipo de escalamiento", "escalation kind"))}
CATEGORY_NOT_FOUND = ("Categoría no encontrada", "Category not found")
CALENDAR_NOT_FOUND = ("Calendario no encontrado", "Calendar not found")
CASE_TYPE_NOT_FOUND = ("Tipo de solicitud no encontrado", "Case type not found")
DUPLICATE_CATEGORY = ("Ya existe esa categoría en ese nivel.", "That category exists at that level.")
UNKNOWN_HEAD = ("El jefe de área no es un usuario activo de este cliente.",
                "The area head is not an active user of this tenant.")


def _duplicate_text(article: Text) -> Text:
    return (f"Ya existe {article[0]} con ese código.", f"A {article[1]} with that code exists.")


def _duplicate_code(article: Text) -> Exception:
    return invalid(field_error("code", _duplicate_text(article), "duplicate_code"))


def _names(given: dict[str, Any], current: Any = None) -> dict[str, Any]:
    """name_en defaults to name_es (an English name is optional for a Spanish-speaking desk):
    a new ``name_es`` carries over to ``name_en`` unless the English name differs already."""
    out = {k: v for k, v in given.items() if k in ("name_es", "name_en") and v is not None}
    if "name_es" in out and "name_en" not in out and (current is None or current.name_en == current.name_es):
        out["name_en"] = out["name_es"]
    return out


# -- channels, areas, projects ---------------------------------------------------------------
async def list_entries(db: Database, who: Principal, kind: str, active: bool | None) -> list[Row[Any]]:
    async with db.read() as conn:
        return await store.list_entries(conn, kind, who.tenant, active)


async def get_entry(db: Database, who: Principal, kind: str, code: str) -> Row[Any]:
    async with db.read() as conn:
        row = await store.get_entry(conn, kind, who.tenant, code)
    if row is None:
        raise not_found(ENTRY_KINDS[kind].missing)
    return row


async def _head_errors(conn: AsyncConnection, who: Principal, values: dict[str, Any]) -> list[dict[str, Any]]:
    """An area's head must be an active user of the tenant, its calendar an active calendar."""
    errors = []
    head = values.get("head_user_id")
    if head is not None and not await store.is_active_user(conn, who.tenant, head):
        errors.append(field_error("head_user_id", UNKNOWN_HEAD, "unknown_user"))
    cal = values.get("calendar")
    if cal is not None and not (await store.calendar_states(conn, who.tenant)).get(cal):
        errors.append(field_error("calendar", rules.UNKNOWN_CALENDAR, "unknown_calendar"))
    return errors


async def create_entry(db: Database, cache: Cache, who: Principal, kind: str, code: str,
                       fields: dict[str, Any]) -> Row[Any]:
    """``fields``: names, ``active`` and the kind's own columns (an area's head, a project's
    business line)."""
    info = ENTRY_KINDS[kind]
    values = {**fields, **_names(fields)}
    try:
        async with UnitOfWork(db) as uow:
            errors = FieldErrors()
            if await store.get_entry(uow.conn, kind, who.tenant, code) is not None:
                errors.add("code", _duplicate_text(info.article), "duplicate_code")
            errors.extend(await _head_errors(uow.conn, who, values))
            errors.raise_if_any()
            row = await store.save_entry(uow.tx, kind, who.tenant, code, values, create=True)
    except IntegrityError:  # the same code created concurrently
        raise _duplicate_code(info.article) from None
    cache.clear()
    return row


async def change_entry(db: Database, cache: Cache, who: Principal, kind: str, code: str,
                       changes: dict[str, Any]) -> Row[Any]:
    """``changes``: the fields given (explicit nulls only where a column may be empty)."""
    async with UnitOfWork(db) as uow:
        current = await store.get_entry(uow.conn, kind, who.tenant, code, lock=True)
        if current is None:
            raise not_found(ENTRY_KINDS[kind].missing)
        values = {**changes, **_names(changes, current)}
        head = await _head_errors(uow.conn, who, values)
        if head:
            raise invalid(*head)
        row = await store.save_entry(uow.tx, kind, who.tenant, code, values, create=False)
    cache.clear()
    return row


# -- category tree (R3.2: up to three levels) --------------------------------------------------
async def list_categories(db: Database, who: Principal, active: bool | None, under: str | None = None
                          ) -> list[Row[Any]]:
    """Every node ordered by path (a parent before its children); ``under``: one subtree."""
    async with db.read() as conn:
        rows = await store.list_categories(conn, who.tenant, active)
    return [r for r in rows if under is None or rules.in_subtree(r.path, under)]


async def category_tree(db: Database, who: Principal, active: bool | None) -> list[rules.TreeNode]:
    return rules.category_tree(await list_categories(db, who, active))


async def lookup_category(db: Database, who: Principal, path: str) -> tuple[Row[Any], list[Row[Any]]]:
    """A node by its path, with the nodes from the root down to it."""
    prefixes = rules.path_prefixes(path)
    async with db.read() as conn:
        rows = await store.categories_by_paths(conn, who.tenant, prefixes)
    if len(rows) != len(prefixes):
        raise not_found(CATEGORY_NOT_FOUND)
    return rows[prefixes[-1]], [rows[x] for x in prefixes]


async def get_category(db: Database, who: Principal, category_id: uuid.UUID) -> Row[Any]:
    async with db.read() as conn:
        row = await store.category_by_id(conn, who.tenant, category_id)
    if row is None:
        raise not_found(CATEGORY_NOT_FOUND)
    return row


async def create_category(db: Database, cache: Cache, who: Principal, *, parent: str | None, code: str,
                          name_es: str, name_en: str | None) -> Row[Any]:
    """A first-level category (no ``parent``) or a child of an active one; at most three levels."""
    duplicate = invalid(field_error("code", DUPLICATE_CATEGORY, "duplicate_code"))
    try:
        async with UnitOfWork(db) as uow:
            above = None
            if parent is not None:
                above = await store.category_by_path(uow.conn, who.tenant, parent)
                if above is None or not above.active:
                    raise invalid(field_error("parent", ("La categoría superior no existe o está inactiva.",
                                                         "The parent category does not exist or is inactive."),
                                              "unknown_category"))
                too_deep = rules.path_depth_problem(above.level)
                if too_deep:
                    raise invalid(field_error("parent", too_deep, "too_deep"))
            if await store.category_by_path(uow.conn, who.tenant, rules.child_path(parent, code)):
                raise duplicate
            row = await store.save_category(uow.tx, who.tenant, {"code": code, "name_es": name_es,
                                                                 "name_en": name_en or name_es}, parent=above)
    except IntegrityError:
        raise duplicate from None
    cache.clear()
    return row


async def change_category(db: Database, cache: Cache, who: Principal, category_id: uuid.UUID,
                          changes: dict[str, Any]) -> Row[Any]:
    """Rename, deactivate or reactivate a node (its code and place in the tree never change:
    cases and case types refer to its path). A node with active children stays active; a
    node under an inactive parent stays inactive."""
    async with UnitOfWork(db) as uow:
        current = await store.category_by_id(uow.conn, who.tenant, category_id, lock=True)
        if current is None:
            raise not_found(CATEGORY_NOT_FOUND)
        values = {**changes, **_names(changes, current)}
        if values.get("active") is False and current.active and await store.has_active_children(uow.conn, current.id):
            raise invalid(field_error("active", ("Primero desactive sus subcategorías.",
                                                 "Deactivate its subcategories first."), "has_active_children"))
        if values.get("active") is True and current.parent_id is not None:
            parent = await store.category_by_id(uow.conn, who.tenant, current.parent_id)
            if parent is None or not parent.active:
                raise invalid(field_error("active", ("Su categoría superior está inactiva.",
                                                     "Its parent category is inactive."), "parent_inactive"))
        row = await store.save_category(uow.tx, who.tenant, values, category_id=current.id)
    cache.clear()
    return row


# -- case types (R4.2, R3.1, R3.2, R0.3, R1.2, R2.3, R3.5) ---------------------------------------
async def list_case_types(db: Database, who: Principal, *, active: bool | None, project: str | None,
                          channel: str | None) -> list[Row[Any]]:
    """``project``: types available there (a type without a project scope is everywhere);
    ``channel``: types accepted through it."""
    async with db.read() as conn:
        rows = await store.list_case_types(conn, who.tenant, active)
    return [r for r in rows
            if (project is None or r.projects is None or project in r.projects)
            and (channel is None or r.allowed_channels is None or channel in r.allowed_channels)]


async def get_case_type(db: Database, who: Principal, code: str) -> Row[Any]:
    async with db.read() as conn:
        row = await store.get_case_type(conn, who.tenant, code)
    if row is None:
        raise not_found(CASE_TYPE_NOT_FOUND)
    return row


def _dedupe(values: list[str] | None) -> list[str] | None:
    return None if values is None else list(dict.fromkeys(values))


async def _case_type_values(conn: AsyncConnection, who: Principal, fields: dict[str, Any],
                            current: Any = None) -> dict[str, Any]:
    """Check the given case-type fields against the catalog and the rules, field by field (all
    errors at once), and return the column values to store."""
    errors = FieldErrors()
    values: dict[str, Any] = {}
    if "deadline" in fields:
        d = fields["deadline"]
        problem = rules.deadline_problem(d["unit"], d["amount"])
        if problem:
            errors.add("deadline.amount", problem, "deadline_out_of_range")
        values.update(deadline_unit=d["unit"], deadline_amount=d["amount"])
    for name, kind, message in (
            ("allowed_channels", "channel", ("No existe un canal activo con ese código.",
                                             "No active channel with that code.")),
            ("projects", "project", ("No existe un proyecto activo con ese código.",
                                     "No active project with that code."))):
        if name in fields:
            codes = _dedupe(fields[name])
            if codes is not None:
                known = await store.active_codes(conn, kind, who.tenant, set(codes))
                for i, c in enumerate(fields[name]):
                    if c not in known:
                        errors.add(f"{name}.{i}", message, f"unknown_{kind}")
            values[name] = codes
    pinned = fields.get("pinned")
    if pinned is not None:
        if pinned.get("category"):
            cat = await store.category_by_path(conn, who.tenant, pinned["category"])
            if cat is None or not cat.active:
                errors.add("pinned.category", ("No existe una categoría activa con esa ruta.",
                                               "No active category with that path."), "unknown_category")
        if pinned.get("area") and not await store.active_codes(conn, "area", who.tenant, {pinned["area"]}):
            errors.add("pinned.area", ("No existe un área activa con ese código.", "No active area with that code."),
                       "unknown_area")
        problem = rules.priority_problem(pinned.get("priority"))
        if problem:
            errors.add("pinned.priority", problem, "urgent_not_allowed")
        values["pinned"] = pinned
    # Default priority: the pinned one when pinned (R3.2); never urgent (R0.3).
    pinned_priority = (pinned if pinned is not None else (current.pinned if current is not None else None) or {}
                       ).get("priority")
    if "default_priority" in fields:
        default = fields["default_priority"]
    elif current is None or pinned_priority is not None:
        default = None
    else:
        default = current.default_priority
    problem = rules.priority_problem(default)
    if problem:
        errors.add("default_priority", problem, "urgent_not_allowed")
    elif pinned_priority != "urgent":
        effective, problem = rules.effective_default_priority(default, pinned_priority)
        if problem:
            errors.add("default_priority", problem, "conflicts_with_pinned")
        values["default_priority"] = effective
    if "required_fields" in fields:
        values["required_fields"] = _dedupe(fields["required_fields"] or [])
    for flag in ("is_follow_up", "requires_attachments_to_finish", "requires_interaction", "churn_alert", "active"):
        if fields.get(flag) is not None:
            values[flag] = fields[flag]
    if "follow_up_kind" in fields:
        values["follow_up_kind"] = fields["follow_up_kind"]
    # R3.1: on the type as it will be (the locked row's values where the request leaves them).
    is_follow_up = values.get("is_follow_up", current.is_follow_up if current is not None else False)
    follow_up_kind = values.get("follow_up_kind", current.follow_up_kind if current is not None else None)
    problem = rules.follow_up_kind_problem(is_follow_up, follow_up_kind)
    if problem:
        errors.add("follow_up_kind", problem, "not_a_follow_up")
    if "preceded_by" in fields:  # R1.4: another type of the tenant (not itself); None: none
        pre = fields["preceded_by"]
        if pre is not None and (await store.get_case_type(conn, who.tenant, pre) is None
                                or (current is not None and pre == current.code)):
            errors.add("preceded_by", ("No existe otro tipo de solicitud con ese código.",
                                       "No other case type with that code."), "unknown_case_type")
        values["preceded_by"] = pre
    if "sla" in fields:  # issue 10: replaced as a whole; None: only the deadline
        sla = fields["sla"]
        if sla is not None:
            for f, text, code in rules.sla_policy_problems(sla, await store.calendar_states(conn, who.tenant)):
                errors.add(f, text, code)
        values["sla"] = None if sla is None else SlaPolicy.model_validate(sla).model_dump(mode="json")
    errors.raise_if_any()
    return values


async def create_case_type(db: Database, cache: Cache, who: Principal, code: str, fields: dict[str, Any]
                           ) -> Row[Any]:
    """A case type with its deadline rule (R4.2) and, for a typified kind, the channels it is
    accepted through and the fields it pins (R3.2). ``fields``: every field of the request but
    the code (``pinned`` and ``deadline`` as wholes)."""
    duplicate = _duplicate_code(("un tipo de solicitud", "case type"))
    try:
        async with UnitOfWork(db) as uow:
            if await store.get_case_type(uow.conn, who.tenant, code) is not None:
                raise duplicate
            values = await _case_type_values(uow.conn, who, {k: v for k, v in fields.items()
                                                             if k not in ("name_es", "name_en")})
            values.update(_names(fields))
            row = await store.save_case_type(uow.tx, who.tenant, code, values, create=True)
    except IntegrityError:
        raise duplicate from None
    cache.clear()
    return row


async def change_case_type(db: Database, cache: Cache, who: Principal, code: str, changes: dict[str, Any]
                           ) -> Row[Any]:
    """Change a type's rules or deactivate it. A changed deadline rule applies to cases entered
    after the change; earlier cases keep theirs."""
    async with UnitOfWork(db) as uow:
        current = await store.get_case_type(uow.conn, who.tenant, code, lock=True)
        if current is None:
            raise not_found(CASE_TYPE_NOT_FOUND)
        values = await _case_type_values(uow.conn, who, {k: v for k, v in changes.items()
                                                         if k not in ("name_es", "name_en")}, current)
        values.update(_names(changes, current))
        row = await store.save_case_type(uow.tx, who.tenant, code, values, create=False)
    cache.clear()
    return row


# -- business calendars (R4.2; issue 10: several per tenant, periods, regions) -----------------
async def get_calendar(db: Database, who: Principal, year: int | None, code: str = rules.DEFAULT_CALENDAR
                       ) -> tuple[Row[Any], int]:
    """One of the tenant's calendars (the "default" one always answers) and the year to show
    its holidays of (default: this year in the calendar's time zone)."""
    async with db.read() as conn:
        row = await store.get_calendar(conn, who.tenant, code)
    if row is None:
        raise not_found(CALENDAR_NOT_FOUND)
    return row, year or datetime.now(ZoneInfo(row.timezone)).year


async def list_calendars(db: Database, who: Principal) -> list[Row[Any]]:
    async with db.read() as conn:
        return await store.list_calendars(conn, who.tenant)


Periods = dict[str, list[tuple[time, time]]]


def _minute(t: time) -> time:
    return t.replace(second=0, microsecond=0)


async def put_calendar(db: Database, cache: Cache, who: Principal, *, country: str, timezone: str,
                       extra_closed_days: list[tuple[date, str | None]], work_days: list[int] | None = None,
                       work_start: time | None = None, work_end: time | None = None, hours: Periods | None = None,
                       code: str = rules.DEFAULT_CALENDAR, name: str | None = None, subdivision: str | None = None,
                       extra_working_days: list[tuple[date, str | None]] | None = None, active: bool = True,
                       keep_extras: bool = False, end_field: str = "working_hours.end") -> tuple[Row[Any], int]:
    """Create or replace one of the tenant's calendars: country (its national holidays, and the
    subdivision's regional ones, count as closed), time zone, working periods per weekday
    (``hours``; or one period a day from ``work_days``/``work_start``/``work_end``), extra closed
    and extra working days. Cases entered after the change use it; earlier cases keep theirs.
    The "default" calendar is never deactivated; another one only when no active area or case
    type runs on it. ``keep_extras`` (the single-calendar API): name, subdivision (same country)
    and extra working days stay as stored. ``end_field``: where a ``work_end`` before
    ``work_start`` is reported."""
    both = hours is not None and (work_days is not None or work_start is not None or work_end is not None)
    legacy = hours is None
    if hours is not None:  # "01" is Monday too
        hours = {str(int(d)) if d.isdigit() else d: ps for d, ps in hours.items()}
    else:
        days = sorted(set(work_days or rules.DEFAULT_WORK_DAYS))
        hours = {str(d): [(work_start or rules.DEFAULT_WORK_START, work_end or rules.DEFAULT_WORK_END)] for d in days}
    hours = {d: [(_minute(a), _minute(b)) for a, b in ps] for d, ps in hours.items()}
    working = list(extra_working_days or [])
    async with UnitOfWork(db) as uow:
        await store.lock_calendar(uow.conn, who.tenant)
        if keep_extras:
            current = await store.get_calendar(uow.conn, who.tenant, code)
            if current is not None and current.version is not None:
                name = current.name
                subdivision = current.subdivision if current.country == country else None
                working = [(date.fromisoformat(d["date"]), d.get("name")) for d in current.extra_working_days or []]
        errors = FieldErrors()
        if both:
            errors.add("hours", ("Indique hours o work_days/work_start/work_end, no ambos.",
                                 "Give hours or work_days/work_start/work_end, not both."), "hours_and_work_days")
        for f, text, c in rules.time_calendar_problems(country=country, subdivision=subdivision, timezone=timezone,
                                                       hours=hours, closed=[d for d, _ in extra_closed_days],
                                                       working=[d for d, _ in working]):
            if legacy and f.startswith("hours"):  # one period a day, as given: name the field given
                if c == "end_before_start" and not any(e["code"] == c for e in errors.items):
                    errors.add(end_field, text, c)
                continue
            errors.add(f, text, c)
        if not active:
            if code == rules.DEFAULT_CALENDAR:
                errors.add("active", ("El calendario por defecto no se desactiva.",
                                      "The default calendar cannot be deactivated."), "default_calendar")
            elif users := await store.calendar_users(uow.conn, who.tenant, code):
                errors.add("active", ("Hay áreas o tipos de solicitud activos con este calendario: "
                                      + ", ".join(users) + ".",
                                      "Active areas or case types run on this calendar: " + ", ".join(users) + "."),
                           "calendar_in_use")
        errors.raise_if_any()
        row = await store.save_calendar(
            uow.tx, who.tenant, code=code, name=name, country=country, subdivision=subdivision, timezone=timezone,
            hours={d: [WorkPeriod(start=a, end=b) for a, b in ps] for d, ps in hours.items()},
            extra_closed_days=[ClosedDay(date=d, name=n or None) for d, n in sorted(extra_closed_days,
                                                                                   key=lambda x: x[0])],
            extra_working_days=[ClosedDay(date=d, name=n or None) for d, n in sorted(working, key=lambda x: x[0])],
            active=active)
    cache.clear()
    return row, datetime.now(ZoneInfo(row.timezone)).year


# -- SLA settings (R4.8 warnings, R4.9 escalation ladder, quiet hours) --------------------------
DEFAULT_WARNING_PERCENTS = [50, 75]


@dataclass(frozen=True)
class SlaSettings:
    warning_percents: list[int]
    ladder: list[EscalationLevel]
    quiet_hours: bool
    version: int | None  # None: never set (the defaults)
    updated_at: datetime | None
    churn_alert_levels: int = store.DEFAULT_CHURN_ALERT_LEVELS  # R1.1: managers above the executive


CHURN_ALERT_LEVELS = range(1, 6)


def _settings(row: Any) -> SlaSettings:
    if row is None:
        return SlaSettings(list(DEFAULT_WARNING_PERCENTS), [], True, None, None)
    levels = row.churn_alert_levels if row.churn_alert_levels is not None else store.DEFAULT_CHURN_ALERT_LEVELS
    return SlaSettings(list(row.warning_percents), [EscalationLevel.model_validate(lv) for lv in row.ladder],
                       bool(row.quiet_hours), row.version, row.updated_at, int(levels))


async def get_sla_settings(db: Database, who: Principal) -> SlaSettings:
    async with db.read() as conn:
        return _settings(await store.get_sla_settings(conn, who.tenant))


async def put_sla_settings(db: Database, cache: Cache, who: Principal, *, warning_percents: list[int],
                           ladder: list[dict[str, Any]], quiet_hours: bool,
                           churn_alert_levels: int = store.DEFAULT_CHURN_ALERT_LEVELS) -> SlaSettings:
    """Replace the tenant's warning thresholds, escalation ladder, quiet hours and (R1.1) how many
    managers above the customer's executive the churn alerts reach (admin).
    ``ladder``: levels as dicts (level, after {unit, amount}, to, steps_up, channels)."""
    levels = [EscalationLevel(level=lv["level"], after=DeadlineRule(**lv["after"]), to=lv["to"],
                              steps_up=lv.get("steps_up", 1), channels=list(dict.fromkeys(lv["channels"])))
              for lv in ladder]
    problems = rules.percents_problems(warning_percents, "warning_percents") + rules.ladder_problems(levels)
    if churn_alert_levels not in CHURN_ALERT_LEVELS:
        problems.append(("churn_alert_levels", ("Indique entre 1 y 5 niveles sobre la ejecutiva o el ejecutivo.",
                                                "Give between 1 and 5 levels above the executive."),
                         "out_of_range"))
    if problems:
        raise invalid(*(field_error(f, text, code) for f, text, code in problems))
    async with UnitOfWork(db) as uow:
        await store.lock_calendar(uow.conn, who.tenant)  # the tenant's row: one writer at a time
        row = await store.save_sla_settings(uow.tx, who.tenant, warning_percents=warning_percents, ladder=levels,
                                            quiet_hours=quiet_hours, churn_alert_levels=churn_alert_levels)
    cache.clear()
    return _settings(row)
