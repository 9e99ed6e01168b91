"""The catalog ("mantenedores", R4.2): channels, areas, projects, the category tree, case types
and the business calendar. Admins write; every user of the tenant reads (to fill a case in).
Use cases in services/intake/service_layer/catalog.py; rules in services/intake/domain/catalog.py.

Entries are never deleted (cases keep referring to them): they are deactivated with
``active: false``. Every write bumps the entry's version and emits its ``catalog.*_changed.v1``
event in the same transaction. PATCH bodies change only the fields given; an explicit null is
refused (422 ``null_not_allowed``) for a field the entry must have."""

# No ``from __future__ import annotations``: FastAPI must resolve the models the route factory
# below closes over.

import uuid
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.intake.api.deps import AdminPrincipal, CatalogCache, CurrentPrincipal, Db
from services.intake.domain import catalog as rules
from services.intake.service_layer import catalog
from shared.contracts.events import EscalationLevel, SlaPolicy
from shared.fields import InputModel
from shared.openapi import problem_responses
from shared.problems import language, refuse_null

router = APIRouter(tags=["catalog"])

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
# Escalation kinds are named like the events' kinds (e.g. case_overdue): underscores too.
KindCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_-]{0,59}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CategoryPath = Annotated[str, StringConstraints(
    strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,59}(/[a-z0-9][a-z0-9-]{0,59}){0,2}$")]
Priority = Literal["low", "normal", "high", "urgent"]
DocumentClass = Literal[tuple(rules.DOCUMENT_CLASSES)]  # type: ignore[valid-type]
RequiredField = Literal[rules.REQUIRED_FIELD_CHOICES]  # type: ignore[valid-type]
FollowUpKind = Literal[rules.FOLLOW_UP_KINDS]  # type: ignore[valid-type]
BusinessLine = Literal[rules.BUSINESS_LINES]  # type: ignore[valid-type]

READ = problem_responses(401, 404)
LIST = problem_responses(401, 422)
WRITE = problem_responses(401, 403, 404, 422)
CREATE = problem_responses(401, 403, 422)


# -- channels, areas, projects ---------------------------------------------------------------
class EntryIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"code": "whatsapp", "name_es": "WhatsApp"}})
    code: Code
    name_es: Name
    name_en: Name | None = Field(default=None, description="Defaults to name_es")
    active: bool = True


class EntryPatch(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"name_es": "WhatsApp Business", "active": False}})
    name_es: Name | None = None
    name_en: Name | None = None
    active: bool | None = None

    _no_null = refuse_null("name_es", "name_en", "active")


class EntryOut(BaseModel):
    code: str
    name_es: str
    name_en: str
    active: bool
    version: int
    updated_at: datetime


class AreaIn(EntryIn):
    model_config = ConfigDict(json_schema_extra={"example": {
        "code": "reclamos", "name_es": "Reclamos", "head_user_id": "6f1c2a4e-8d7b-4c1e-9a3f-2b5d7e9c1a0f"}})
    head_user_id: uuid.UUID | None = Field(default=None, description="The area's head: an active user of the tenant")
    calendar: Code | None = Field(default=None, description="The tenant calendar its cases run on; null: the default")


class AreaPatch(EntryPatch):
    model_config = ConfigDict(json_schema_extra={"example": {"head_user_id": None}})
    head_user_id: uuid.UUID | None = Field(default=None, description="null: the area has no head")
    calendar: Code | None = Field(default=None, description="null: the tenant's default calendar")


class AreaOut(EntryOut):
    head_user_id: uuid.UUID | None
    calendar: str | None = None


class ProjectIn(EntryIn):
    model_config = ConfigDict(json_schema_extra={"example": {
        "code": "granel", "name_es": "Gas granel", "name_en": "Bulk gas", "business_line": "bulk"}})
    business_line: BusinessLine | None = Field(
        default=None, description="R3.5: the gas line triage applies (meter customers file their follow-ups "
                                  "themselves); null: none")


class ProjectPatch(EntryPatch):
    model_config = ConfigDict(json_schema_extra={"example": {"business_line": "packaged"}})
    business_line: BusinessLine | None = Field(default=None, description="null: none")


class ProjectOut(EntryOut):
    business_line: str | None


class EscalationKindIn(EntryIn):
    model_config = ConfigDict(json_schema_extra={"example": {
        "code": "case_overdue", "name_es": "Solicitud de atención al cliente vencida",
        "name_en": "Customer request overdue"}})
    code: KindCode


def _entry_routes(kind: str, path: str, in_model: type[EntryIn], patch_model: type[EntryPatch],
                  out_model: type[EntryOut]) -> None:
    """GET list, POST, GET one, PATCH for a catalog list of codes and names."""
    what = catalog.ENTRY_KINDS[kind].what[1].lower()

    async def list_entries(p: CurrentPrincipal, db: Db, active: Annotated[bool | None, Query()] = None) -> list[Any]:
        return [out_model.model_validate(r, from_attributes=True)
                for r in await catalog.list_entries(db, p, kind, active)]

    async def get_entry(code: str, p: CurrentPrincipal, db: Db) -> Any:
        return out_model.model_validate(await catalog.get_entry(db, p, kind, code), from_attributes=True)

    async def create_entry(body: in_model, p: AdminPrincipal, db: Db, cache: CatalogCache) -> Any:  # type: ignore[valid-type]
        fields = body.model_dump(exclude={"code"})  # type: ignore[attr-defined]
        row = await catalog.create_entry(db, cache, p, kind, body.code, fields)  # type: ignore[attr-defined]
        return out_model.model_validate(row, from_attributes=True)

    async def change_entry(code: str, body: patch_model, p: AdminPrincipal, db: Db,  # type: ignore[valid-type]
                           cache: CatalogCache) -> Any:
        row = await catalog.change_entry(db, cache, p, kind, code, body.model_dump(exclude_unset=True))  # type: ignore[attr-defined]
        return out_model.model_validate(row, from_attributes=True)

    router.add_api_route(path, list_entries, methods=["GET"], response_model=list[out_model],  # type: ignore[valid-type]
                         responses=LIST,
                         summary=f"List {what}s (every user of the tenant)")
    router.add_api_route(path, create_entry, methods=["POST"], status_code=201, response_model=out_model,
                         responses=CREATE, summary=f"Create a {what} (admin)")
    router.add_api_route(path + "/{code}", get_entry, methods=["GET"], response_model=out_model, responses=READ,
                         summary=f"Read a {what}")
    router.add_api_route(path + "/{code}", change_entry, methods=["PATCH"], response_model=out_model,
                         responses=WRITE, summary=f"Change or deactivate a {what} (admin)")


_entry_routes("channel", "/catalog/channels", EntryIn, EntryPatch, EntryOut)
_entry_routes("area", "/catalog/areas", AreaIn, AreaPatch, AreaOut)
_entry_routes("project", "/catalog/projects", ProjectIn, ProjectPatch, ProjectOut)
# R4.9: what users subscribe to (user.escalation_subscriptions names these codes).
_entry_routes("escalation_kind", "/catalog/escalation-kinds", EscalationKindIn, EntryPatch, EntryOut)


# -- category tree (R3.2: up to three levels) --------------------------------------------------
class CategoryIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "parent": "posventa/terminaciones", "code": "pintura", "name_es": "Pintura", "name_en": "Paint"}})
    parent: CategoryPath | None = Field(default=None, description="The parent's path (None: a first-level category)")
    code: Code
    name_es: Name
    name_en: Name | None = None


class CategoryPatch(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"name_es": "Pintura y terminaciones", "active": False}})
    name_es: Name | None = None
    name_en: Name | None = None
    active: bool | None = None

    _no_null = refuse_null("name_es", "name_en", "active")


class CategoryOut(BaseModel):
    id: uuid.UUID
    code: str
    path: str
    level: int
    parent_id: uuid.UUID | None
    name_es: str
    name_en: str
    active: bool
    version: int
    updated_at: datetime


class TrailStep(BaseModel):
    code: str
    name_es: str
    name_en: str


class CategoryLookup(CategoryOut):
    trail: list[TrailStep]  # from the root down to this node (e.g. Medidor > Cobranza > Gestión de cobranza)


class CategoryNode(BaseModel):
    code: str
    path: str
    name_es: str
    name_en: str
    active: bool
    children: list["CategoryNode"]


def _category_out(row: Any) -> CategoryOut:
    return CategoryOut.model_validate(row, from_attributes=True)


@router.get("/catalog/categories", response_model=list[CategoryOut], responses=LIST)
async def list_categories(p: CurrentPrincipal, db: Db, active: Annotated[bool | None, Query()] = None,
                          under: Annotated[CategoryPath | None, Query(description="only this path's subtree")] = None,
                          ) -> list[CategoryOut]:
    """Every node, ordered by path (a parent before its children)."""
    return [_category_out(r) for r in await catalog.list_categories(db, p, active, under)]


@router.get("/catalog/categories/tree", response_model=list[CategoryNode], responses=LIST)
async def category_tree(p: CurrentPrincipal, db: Db,
                        active: Annotated[bool | None, Query()] = None) -> list[CategoryNode]:
    """The tree, nested (a node whose parent is filtered out is left out with it)."""
    return [CategoryNode.model_validate(n, from_attributes=True) for n in await catalog.category_tree(db, p, active)]


@router.get("/catalog/categories/lookup", response_model=CategoryLookup, responses=problem_responses(401, 404, 422))
async def lookup_category(p: CurrentPrincipal, db: Db,
                          path: Annotated[CategoryPath, Query(description="e.g. medidor/cobranza/gestion-cobranza")],
                          ) -> CategoryLookup:
    """A node by its path, with the names of every level above it."""
    node, trail = await catalog.lookup_category(db, p, path)
    return CategoryLookup(**_category_out(node).model_dump(),
                          trail=[TrailStep.model_validate(r, from_attributes=True) for r in trail])


@router.get("/catalog/categories/{category_id}", response_model=CategoryOut, responses=READ)
async def get_category(category_id: uuid.UUID, p: CurrentPrincipal, db: Db) -> CategoryOut:
    return _category_out(await catalog.get_category(db, p, category_id))


@router.post("/catalog/categories", status_code=201, response_model=CategoryOut, responses=CREATE)
async def create_category(body: CategoryIn, p: AdminPrincipal, db: Db, cache: CatalogCache) -> CategoryOut:
    """A first-level category (no ``parent``) or a child of an active one; at most three levels (R3.2)."""
    return _category_out(await catalog.create_category(db, cache, p, **body.model_dump()))


@router.patch("/catalog/categories/{category_id}", response_model=CategoryOut, responses=WRITE)
async def change_category(category_id: uuid.UUID, body: CategoryPatch, p: AdminPrincipal, db: Db,
                          cache: CatalogCache) -> CategoryOut:
    """Rename, deactivate or reactivate a node (its code and place in the tree never change:
    cases and case types refer to its path)."""
    return _category_out(await catalog.change_category(db, cache, p, category_id, body.model_dump(exclude_unset=True)))


# -- case types (R4.2, R3.1, R3.2, R0.3, R1.2, R2.3, R3.5) -------------------------------------
class DeadlineIn(InputModel):
    unit: Literal["business_days", "business_hours"] = "business_days"
    amount: int


class PinnedIn(InputModel):
    """What a typified kind fixes (R3.2); leave a field out to leave it free."""

    category: CategoryPath | None = Field(default=None, description="Category path, e.g. medidor/cobranza/gestion-cobranza")
    area: Code | None = Field(default=None, description="Responsible team (area code)")
    priority: Priority | None = None
    document_class: DocumentClass | None = None  # type: ignore[valid-type]


class SlaIn(InputModel):
    """A case type's SLA policy (issue 10): the first-response target, resolution targets per
    priority (else the type's deadline), its own warning thresholds (else the tenant's), the
    R1.4 hold and the calendar (else the area's, else the tenant default)."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "first_response": {"unit": "business_hours", "amount": 4},
        "resolution_by_priority": {"high": {"unit": "business_days", "amount": 2}},
        "warning_percents": [50, 80], "hold_business_days": None, "calendar": "default"}})
    first_response: DeadlineIn | None = None
    resolution_by_priority: dict[Priority, DeadlineIn] = Field(default_factory=dict)
    warning_percents: list[int] | None = Field(default=None, max_length=10, description="1..99, ascending")
    hold_business_days: int | None = Field(default=None, description="R1.4: executable only N business days later")
    calendar: Code | None = Field(default=None, description="A tenant calendar's code")


FOLLOW_UP_KIND_DOC = ("R3.1/R3.5: the follow-up kind triage reads (only when is_follow_up): "
                      + ", ".join(rules.FOLLOW_UP_KINDS))


CHURN_ALERT_DOC = ("R1.1: creating one sends churn alerts by e-mail and SMS to the customer's commercial "
                   "executive and the managers above (the tenant's churn_alert_levels)")


PRECEDED_BY_DOC = "R1.4: a case type code of the tenant whose case must exist first for the same policy (asset)"


class CaseTypeIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "code": "gestion-cobranza", "name_es": "Gestión de cobranza", "name_en": "Collections management",
        "deadline": {"unit": "business_days", "amount": 5},
        "allowed_channels": ["telefono", "correo", "redes-sociales"],
        "pinned": {"category": "medidor/cobranza/gestion-cobranza", "area": "gestion-clientes", "priority": "high",
                   "document_class": "complaint"},
        "required_fields": ["contact.phone", "contact.email", "description"],
        "is_follow_up": True, "follow_up_kind": "collections_management", "requires_interaction": False}})
    code: Code
    name_es: Name
    name_en: Name | None = None
    deadline: DeadlineIn
    allowed_channels: list[Code] | None = Field(default=None, min_length=1,
                                                description="Channel codes; null: any active channel (R3.2)")
    pinned: PinnedIn = Field(default_factory=PinnedIn)
    default_priority: Priority | None = Field(default=None, description="normal unless pinned (R0.3: never urgent)")
    is_follow_up: bool = Field(default=False, description="A follow-up of an earlier case (R3.1)")
    follow_up_kind: FollowUpKind | None = Field(default=None, description=FOLLOW_UP_KIND_DOC)
    requires_attachments_to_finish: bool = Field(default=False, description="e.g. the signed letter (R1.2)")
    requires_interaction: bool = Field(default=False, description="R2.3: its cases are entered under an interaction")
    required_fields: list[RequiredField] = Field(default_factory=list)
    projects: list[Code] | None = Field(default=None, min_length=1,
                                        description="Projects where the type exists; null: all (R4.2)")
    sla: SlaIn | None = Field(default=None, description="Issue 10: targets, warnings, hold, calendar")
    churn_alert: bool = Field(default=False, description=CHURN_ALERT_DOC)
    preceded_by: Code | None = Field(default=None, description=PRECEDED_BY_DOC)
    active: bool = True


class CaseTypePatch(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "deadline": {"unit": "business_days", "amount": 10}, "projects": None, "requires_interaction": True}})
    name_es: Name | None = None
    name_en: Name | None = None
    deadline: DeadlineIn | None = None
    allowed_channels: list[Code] | None = Field(default=None, min_length=1, description="null: any active channel")
    pinned: PinnedIn | None = Field(default=None, description="Replaces the pinned fields as a whole")
    default_priority: Priority | None = Field(default=None, description="null: back to normal (or the pinned one)")
    is_follow_up: bool | None = None
    follow_up_kind: FollowUpKind | None = Field(default=None, description=FOLLOW_UP_KIND_DOC)
    requires_attachments_to_finish: bool | None = None
    requires_interaction: bool | None = None
    required_fields: list[RequiredField] | None = None
    projects: list[Code] | None = Field(default=None, min_length=1, description="null: every project")
    sla: SlaIn | None = Field(default=None, description="Replaced as a whole; null: only the deadline")
    churn_alert: bool | None = Field(default=None, description=CHURN_ALERT_DOC)
    preceded_by: Code | None = Field(default=None, description=PRECEDED_BY_DOC + "; null: none")
    active: bool | None = None

    _no_null = refuse_null("name_es", "name_en", "deadline", "pinned", "is_follow_up",
                           "requires_attachments_to_finish", "requires_interaction", "required_fields", "active",
                           "churn_alert")


class DeadlineOut(BaseModel):
    unit: str
    amount: int


class PinnedOut(BaseModel):
    category: str | None = None
    area: str | None = None
    priority: str | None = None
    document_class: str | None = None


class CaseTypeOut(BaseModel):
    code: str
    name_es: str
    name_en: str
    active: bool
    version: int
    updated_at: datetime | None
    deadline: DeadlineOut
    allowed_channels: list[str] | None
    pinned: PinnedOut
    default_priority: str
    is_follow_up: bool
    follow_up_kind: str | None
    requires_attachments_to_finish: bool
    requires_interaction: bool
    required_fields: list[str]
    projects: list[str] | None
    sla: SlaPolicy | None = None
    churn_alert: bool = False
    preceded_by: str | None = None


def case_type_out(r: Any) -> CaseTypeOut:
    return CaseTypeOut(code=r.code, name_es=r.name_es, name_en=r.name_en, active=r.active, version=r.version,
                       updated_at=r.updated_at, deadline=DeadlineOut(unit=r.deadline_unit, amount=r.deadline_amount),
                       allowed_channels=r.allowed_channels, pinned=PinnedOut(**(r.pinned or {})),
                       default_priority=r.default_priority, is_follow_up=r.is_follow_up,
                       follow_up_kind=r.follow_up_kind,
                       requires_attachments_to_finish=r.requires_attachments_to_finish,
                       requires_interaction=bool(r.requires_interaction),
                       required_fields=list(r.required_fields or []), projects=r.projects,
                       sla=SlaPolicy.model_validate(r.sla) if r.sla else None, churn_alert=bool(r.churn_alert),
                       preceded_by=r.preceded_by)


@router.get("/catalog/case-types", response_model=list[CaseTypeOut], responses=LIST)
async def list_case_types(p: CurrentPrincipal, db: Db, active: Annotated[bool | None, Query()] = None,
                          project: Annotated[Code | None, Query(description="types available in this project")] = None,
                          channel: Annotated[Code | None, Query(description="types accepted through this channel")] = None,
                          ) -> list[CaseTypeOut]:
    rows = await catalog.list_case_types(db, p, active=active, project=project, channel=channel)
    return [case_type_out(r) for r in rows]


@router.get("/catalog/case-types/{code}", response_model=CaseTypeOut, responses=READ)
async def get_case_type(code: str, p: CurrentPrincipal, db: Db) -> CaseTypeOut:
    return case_type_out(await catalog.get_case_type(db, p, code))


@router.post("/catalog/case-types", status_code=201, response_model=CaseTypeOut, responses=CREATE)
async def create_case_type(body: CaseTypeIn, p: AdminPrincipal, db: Db, cache: CatalogCache) -> CaseTypeOut:
    """A case type with its deadline rule (R4.2) and, for a typified kind, the channels it is
    accepted through and the fields it pins (R3.2)."""
    return case_type_out(await catalog.create_case_type(db, cache, p, body.code, body.model_dump(exclude={"code"})))


@router.patch("/catalog/case-types/{code}", response_model=CaseTypeOut, responses=WRITE)
async def change_case_type(code: str, body: CaseTypePatch, p: AdminPrincipal, db: Db,
                           cache: CatalogCache) -> CaseTypeOut:
    """Change a type's rules or deactivate it. ``deadline`` and ``pinned`` are replaced as
    wholes. A changed deadline rule applies to cases entered after the change; earlier cases
    keep theirs."""
    changes = body.model_dump(exclude_unset=True)
    for whole in ("deadline", "pinned", "sla"):  # given as a whole: its defaults count too
        if whole in changes and getattr(body, whole) is not None:
            changes[whole] = getattr(body, whole).model_dump()
    return case_type_out(await catalog.change_case_type(db, cache, p, code, changes))


# -- business calendar -------------------------------------------------------------------------
class ClosedDayIn(InputModel):
    date: date
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


class WorkingHoursIn(InputModel):
    days: list[Annotated[int, Field(ge=1, le=7)]] = Field(default=list(rules.DEFAULT_WORK_DAYS), min_length=1,
                                                          description="ISO weekdays, 1 = Monday")
    start: time = rules.DEFAULT_WORK_START
    end: time = rules.DEFAULT_WORK_END


class CalendarIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "country": "CL", "timezone": "America/Santiago",
        "extra_closed_days": [{"date": "2026-12-07", "name": "Aniversario de la empresa"}],
        "working_hours": {"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"}}})
    country: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")]
    timezone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    extra_closed_days: list[ClosedDayIn] = Field(default_factory=list, max_length=1000)
    working_hours: WorkingHoursIn = Field(default_factory=WorkingHoursIn)


class ClosedDayOut(BaseModel):
    date: date
    name: str | None = None


class WorkingHoursOut(BaseModel):
    days: list[int]
    start: str  # "HH:MM", local
    end: str


class CalendarOut(BaseModel):
    country: str
    timezone: str
    extra_closed_days: list[ClosedDayOut]
    working_hours: WorkingHoursOut
    version: int | None  # None: never set (country holidays, Monday to Friday, 09:00–18:00)
    updated_at: datetime | None
    year: int
    national_holidays: list[ClosedDayOut]  # the country's holidays in ``year``


def _calendar_out(row: Any, year: int, lang: str) -> CalendarOut:
    start = row.work_start or rules.DEFAULT_WORK_START.strftime("%H:%M")
    end = row.work_end or rules.DEFAULT_WORK_END.strftime("%H:%M")
    return CalendarOut(country=row.country, timezone=row.timezone,
                       extra_closed_days=[ClosedDayOut(**d) for d in row.extra_closed_days or []],
                       working_hours=WorkingHoursOut(days=row.work_days or list(rules.DEFAULT_WORK_DAYS),
                                                     start=start, end=end),
                       version=row.version, updated_at=row.updated_at, year=year,
                       national_holidays=[ClosedDayOut(date=d, name=n)
                                          for d, n in rules.national_holidays(row.country, year, lang)])


@router.get("/calendar", response_model=CalendarOut, responses=LIST)
async def get_calendar(request: Request, p: CurrentPrincipal, db: Db,
                       year: Annotated[int | None, Query(ge=1990, le=2100)] = None) -> CalendarOut:
    """The tenant's business calendar, with its country's national holidays of ``year``
    (default: this year in the tenant's time zone)."""
    return _calendar_out(*await catalog.get_calendar(db, p, year), language(request))


@router.put("/calendar", response_model=CalendarOut, responses=CREATE)
async def put_calendar(body: CalendarIn, request: Request, p: AdminPrincipal, db: Db,
                       cache: CatalogCache) -> CalendarOut:
    """Replace the tenant's business calendar (admin): country (its national holidays count as
    closed), time zone, extra closed days and working hours (R4.2). Deadlines of cases entered
    after the change use it; earlier cases keep theirs."""
    wh = body.working_hours
    row, year = await catalog.put_calendar(
        db, cache, p, country=body.country, timezone=body.timezone,
        extra_closed_days=[(d.date, d.name) for d in body.extra_closed_days], work_days=wh.days,
        work_start=wh.start, work_end=wh.end, keep_extras=True)
    return _calendar_out(row, year, language(request))


# -- the tenant's calendars (issue 10: several, with periods, regions, extra working days) -----
Country = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")]
Weekday = Annotated[int, Field(ge=1, le=7)]


class PeriodIn(InputModel):
    start: time
    end: time


class TimeCalendarIn(InputModel):
    """Give ``hours`` (ISO weekday "1".."7" → periods) or the older ``work_days`` /
    ``work_start`` / ``work_end`` (one period a day), not both."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "name": "Sucursal Concepción", "country": "CL", "subdivision": "BI", "timezone": "America/Santiago",
        "hours": {str(d): [{"start": "09:00", "end": "13:00"}, {"start": "14:00", "end": "18:00"}] for d in range(1, 6)},
        "extra_closed_days": [{"date": "2026-12-07", "name": "Aniversario de la empresa"}],
        "extra_working_days": [{"date": "2026-12-19", "name": "Sábado de cierre anual"}]}})
    name: Name | None = None
    country: Country
    subdivision: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1,
                                                  max_length=10)] | None = Field(
        default=None, description="Region whose holidays also count (holidays package code, e.g. CL: RM, BI)")
    timezone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    hours: dict[str, list[PeriodIn]] | None = Field(default=None, description='e.g. {"1": [{"start": "09:00", '
                                                                                '"end": "13:00"}, …]}')
    work_days: list[Weekday] | None = Field(default=None, min_length=1, description="ISO weekdays, 1 = Monday")
    work_start: time | None = None
    work_end: time | None = None
    extra_closed_days: list[ClosedDayIn] = Field(default_factory=list, max_length=1000)
    extra_working_days: list[ClosedDayIn] = Field(default_factory=list, max_length=1000)
    active: bool = True


class PeriodOut(BaseModel):
    start: str  # "HH:MM", local
    end: str


class TimeCalendarOut(BaseModel):
    code: str
    name: str | None
    country: str
    subdivision: str | None
    timezone: str
    hours: dict[str, list[PeriodOut]]
    work_days: list[int]  # the first and last period, for older clients
    work_start: str
    work_end: str
    extra_closed_days: list[ClosedDayOut]
    extra_working_days: list[ClosedDayOut]
    active: bool
    version: int | None  # None: never set (the tenant default: Monday to Friday, 09:00–18:00)
    updated_at: datetime | None
    year: int | None = None
    holidays: list[ClosedDayOut] | None = None  # national and regional holidays of ``year`` (one calendar)


def _time_calendar_out(row: Any, year: int | None = None, lang: str = "es") -> TimeCalendarOut:
    start = row.work_start or rules.DEFAULT_WORK_START.strftime("%H:%M")
    end = row.work_end or rules.DEFAULT_WORK_END.strftime("%H:%M")
    days = row.work_days or list(rules.DEFAULT_WORK_DAYS)
    hours = row.hours or {str(d): [{"start": start, "end": end}] for d in days}
    return TimeCalendarOut(
        code=row.code or rules.DEFAULT_CALENDAR, name=row.name, country=row.country, subdivision=row.subdivision,
        timezone=row.timezone, hours={d: [PeriodOut(**p) for p in ps] for d, ps in hours.items()},
        work_days=days, work_start=start, work_end=end,
        extra_closed_days=[ClosedDayOut(**d) for d in row.extra_closed_days or []],
        extra_working_days=[ClosedDayOut(**d) for d in row.extra_working_days or []],
        active=True if row.active is None else row.active, version=row.version, updated_at=row.updated_at,
        year=year, holidays=None if year is None else [
            ClosedDayOut(date=d, name=n) for d, n in rules.holidays_of(row.country, row.subdivision, year, lang)])


@router.get("/catalog/calendars", response_model=list[TimeCalendarOut], responses=LIST)
async def list_calendars(p: CurrentPrincipal, db: Db) -> list[TimeCalendarOut]:
    """The tenant's calendars ("default" first, also when never set)."""
    return [_time_calendar_out(r) for r in await catalog.list_calendars(db, p)]


@router.get("/catalog/calendars/{code}", response_model=TimeCalendarOut, responses=READ)
async def get_time_calendar(code: str, request: Request, p: CurrentPrincipal, db: Db,
                            year: Annotated[int | None, Query(ge=1990, le=2100)] = None) -> TimeCalendarOut:
    """One calendar with its national and regional holidays of ``year`` (default: this year)."""
    row, y = await catalog.get_calendar(db, p, year, code)
    return _time_calendar_out(row, y, language(request))


@router.put("/catalog/calendars/{code}", response_model=TimeCalendarOut, responses=WRITE)
async def put_time_calendar(code: Code, body: TimeCalendarIn, request: Request, p: AdminPrincipal, db: Db,
                            cache: CatalogCache) -> TimeCalendarOut:
    """Create or replace a calendar (admin). Cases entered after the change use it; earlier
    cases keep theirs. Emits catalog.calendar_changed.v1 with the code and its version."""
    row, year = await catalog.put_calendar(
        db, cache, p, code=code, name=body.name, country=body.country, subdivision=body.subdivision,
        timezone=body.timezone,
        hours=None if body.hours is None else {d: [(x.start, x.end) for x in ps] for d, ps in body.hours.items()},
        work_days=body.work_days, work_start=body.work_start, work_end=body.work_end,
        extra_closed_days=[(d.date, d.name) for d in body.extra_closed_days],
        extra_working_days=[(d.date, d.name) for d in body.extra_working_days], active=body.active,
        end_field="work_end")
    return _time_calendar_out(row, year, language(request))


# -- SLA settings (R4.8 warnings, R4.9 escalation ladder, quiet hours) --------------------------
class AfterIn(InputModel):
    unit: Literal["business_days", "business_hours"] = "business_hours"
    amount: int


class LevelIn(InputModel):
    level: int
    after: AfterIn
    to: Literal["manager_chain", "area_head"]
    steps_up: int = Field(default=1, ge=1, le=10, description="manager_chain: how many managers up")
    channels: list[Literal["email", "sms", "in_app"]]


class SlaSettingsIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "warning_percents": [50, 75], "quiet_hours": True, "ladder": [
            {"level": 1, "after": {"unit": "business_hours", "amount": 0}, "to": "manager_chain", "steps_up": 1,
             "channels": ["email", "in_app"]},
            {"level": 2, "after": {"unit": "business_hours", "amount": 4}, "to": "manager_chain", "steps_up": 2,
             "channels": ["email", "sms"]},
            {"level": 3, "after": {"unit": "business_days", "amount": 1}, "to": "area_head",
             "channels": ["email", "sms", "in_app"]}]}})
    warning_percents: list[int] = Field(max_length=10, description="Percent of a target's business time, ascending")
    ladder: list[LevelIn] = Field(default_factory=list, max_length=10, description="Levels 1..n after the breach")
    quiet_hours: bool = Field(default=True, description="E-mail/SMS of non-urgent escalations wait for working time")
    churn_alert_levels: int = Field(default=2, ge=1, le=5, description=(
        "R1.1: how many managers above the customer's executive the churn alerts reach (1: the unit head)"))


class SlaSettingsOut(BaseModel):
    warning_percents: list[int]
    ladder: list[EscalationLevel]
    quiet_hours: bool
    version: int | None  # None: never set (the defaults)
    updated_at: datetime | None
    churn_alert_levels: int = 2


@router.get("/catalog/sla-settings", response_model=SlaSettingsOut, responses=LIST)
async def get_sla_settings(p: CurrentPrincipal, db: Db) -> SlaSettingsOut:
    return SlaSettingsOut.model_validate(await catalog.get_sla_settings(db, p), from_attributes=True)


@router.put("/catalog/sla-settings", response_model=SlaSettingsOut, responses=CREATE)
async def put_sla_settings(body: SlaSettingsIn, p: AdminPrincipal, db: Db, cache: CatalogCache) -> SlaSettingsOut:
    """Replace the tenant's warning thresholds, escalation ladder and quiet hours (admin).
    Emits catalog.sla_settings_changed.v1."""
    out = await catalog.put_sla_settings(db, cache, p, warning_percents=body.warning_percents,
                                         ladder=[lv.model_dump() for lv in body.ladder], quiet_hours=body.quiet_hours,
                                         churn_alert_levels=body.churn_alert_levels)
    return SlaSettingsOut.model_validate(out, from_attributes=True)
