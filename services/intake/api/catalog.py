"""The catalog ("mantenedores", R4.2): channels, areas, projects, the category tree, case types
and the business calendar. Admins write; every user of the tenant reads (to fill a case in).

Entries are never deleted (cases keep referring to them): they are deactivated with
``active: false``. Every write bumps the entry's version and emits its ``catalog.*_changed.v1``
event in the same transaction (workflow keeps the calendar; others may keep what they need), and
clears this process's catalog cache so the change shows at once."""

# No ``from __future__ import annotations``: FastAPI must resolve the models the route factory
# below closes over.

import uuid
from datetime import date, datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.intake.adapters import catalog_tables as store
from services.intake.adapters.db import case_types, users
from services.intake.api.deps import AdminPrincipal, CurrentPrincipal
from services.intake.domain import catalog as rules
from services.intake.domain.access import Principal
from shared.contracts.events import ClosedDay
from shared.db import Tx
from shared.problems import field_error, invalid, language, not_found
from shared.runtime import runtime_of

router = APIRouter(tags=["catalog"])

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CategoryPath = Annotated[str, StringConstraints(
    strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,59}(/[a-z0-9][a-z0-9-]{0,59}){0,2}$")]
Priority = Literal["low", "normal", "high", "urgent"]
DocumentClass = Literal[tuple(rules.DOCUMENT_CLASSES)]  # type: ignore[valid-type]
RequiredField = Literal[rules.REQUIRED_FIELD_CHOICES]  # type: ignore[valid-type]


def _done(request: Request) -> None:
    """A catalog write committed: drop this process's cached tenants and case types."""
    runtime_of(request).extras["catalog"].clear()


def _names(body: Any, current: Any = None) -> dict[str, Any]:
    """name_en defaults to name_es (an English name is optional for a Spanish-speaking desk)."""
    out = body.model_dump(exclude_unset=True, include={"name_es", "name_en"})
    if out.get("name_en") is None and "name_en" in out:
        out.pop("name_en")
    if "name_es" in out and "name_en" not in out and (current is None or current.name_en == current.name_es):
        out["name_en"] = out["name_es"]
    return out


def _duplicate_code(kind_es: str, kind_en: str) -> Any:
    return invalid(field_error("code", (f"Ya existe {kind_es} con ese código.", f"A {kind_en} with that code exists."),
                               "duplicate_code"))


# -- channels, areas, projects ---------------------------------------------------------------
class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Code
    name_es: Name
    name_en: Name | None = Field(default=None, description="Defaults to name_es")
    active: bool = True


class EntryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name_es: Name | None = None
    name_en: Name | None = None
    active: bool | None = None


class EntryOut(BaseModel):
    code: str
    name_es: str
    name_en: str
    active: bool
    version: int
    updated_at: datetime


class AreaIn(EntryIn):
    head_user_id: uuid.UUID | None = Field(default=None, description="The area's head: an active user of the tenant")


class AreaPatch(EntryPatch):
    head_user_id: uuid.UUID | None = None


class AreaOut(EntryOut):
    head_user_id: uuid.UUID | None


async def _check_head(tx: Tx, p: Principal, head_user_id: uuid.UUID | None) -> None:
    if head_user_id is None:
        return
    found = (await tx.conn.execute(select(users.c.id).where(users.c.id == head_user_id, users.c.tenant == p.tenant,
                                                            users.c.active.is_(True)))).first()
    if found is None:
        raise invalid(field_error("head_user_id", ("El jefe de área no es un usuario activo de este cliente.",
                                                   "The area head is not an active user of this tenant."),
                                  "unknown_user"))


def _entry_routes(kind: str, path: str, in_model: type[EntryIn], patch_model: type[EntryPatch],
                  out_model: type[EntryOut], what: tuple[str, str], article: tuple[str, str]) -> None:
    """GET list, POST, GET one, PATCH for a catalog list of codes and names."""
    table = store.ENTRY_TABLES[kind]
    missing = (f"{what[0]} no encontrado", f"{what[1]} not found")
    extra_fields = [f for f in out_model.model_fields if f not in EntryOut.model_fields]

    async def list_entries(request: Request, p: CurrentPrincipal,
                           active: Annotated[bool | None, Query()] = None) -> list[Any]:
        q = select(table).where(table.c.tenant == p.tenant).order_by(table.c.code)
        if active is not None:
            q = q.where(table.c.active.is_(active))
        async with runtime_of(request).db.read() as conn:
            return [out_model.model_validate(r, from_attributes=True) for r in (await conn.execute(q)).all()]

    async def get_entry(code: str, request: Request, p: CurrentPrincipal) -> Any:
        async with runtime_of(request).db.read() as conn:
            row = await store.get_entry(conn, kind, p.tenant, code)
        if row is None:
            raise not_found(missing)
        return out_model.model_validate(row, from_attributes=True)

    async def create_entry(body: in_model, request: Request, p: AdminPrincipal) -> Any:  # type: ignore[valid-type]
        values = {"name_es": body.name_es, "name_en": body.name_en or body.name_es, "active": body.active,  # type: ignore[attr-defined]
                  **{f: getattr(body, f) for f in extra_fields}}
        try:
            async with runtime_of(request).db.transaction() as tx:
                if await store.get_entry(tx.conn, kind, p.tenant, body.code) is not None:  # type: ignore[attr-defined]
                    raise _duplicate_code(*article)
                if "head_user_id" in values:
                    await _check_head(tx, p, values["head_user_id"])
                row = await store.save_entry(tx, kind, p.tenant, body.code, values, create=True)  # type: ignore[attr-defined]
        except IntegrityError:  # the same code created concurrently
            raise _duplicate_code(*article) from None
        _done(request)
        return out_model.model_validate(row, from_attributes=True)

    async def change_entry(code: str, body: patch_model, request: Request, p: AdminPrincipal) -> Any:  # type: ignore[valid-type]
        async with runtime_of(request).db.transaction() as tx:
            current = await store.get_entry(tx.conn, kind, p.tenant, code)
            if current is None:
                raise not_found(missing)
            changes = {k: v for k, v in body.model_dump(exclude_unset=True).items()  # type: ignore[attr-defined]
                       if v is not None or k in extra_fields}
            changes.update(_names(body, current))
            if "head_user_id" in changes:
                await _check_head(tx, p, changes["head_user_id"])
            row = await store.save_entry(tx, kind, p.tenant, code, changes, create=False)
        _done(request)
        return out_model.model_validate(row, from_attributes=True)

    router.add_api_route(path, list_entries, methods=["GET"], response_model=list[out_model],
                         summary=f"List {what[1].lower()}s (every user of the tenant)")
    router.add_api_route(path, create_entry, methods=["POST"], status_code=201, response_model=out_model,
                         summary=f"Create a {what[1].lower()} (admin)")
    router.add_api_route(path + "/{code}", get_entry, methods=["GET"], response_model=out_model,
                         summary=f"Read a {what[1].lower()}")
    router.add_api_route(path + "/{code}", change_entry, methods=["PATCH"], response_model=out_model,
                         summary=f"Change or deactivate a {what[1].lower()} (admin)")


_entry_routes("channel", "/catalog/channels", EntryIn, EntryPatch, EntryOut, ("Canal", "Channel"),
              ("un canal", "channel"))
_entry_routes("area", "/catalog/areas", AreaIn, AreaPatch, AreaOut, ("Área", "Area"), ("un área", "area"))
_entry_routes("project", "/catalog/projects", EntryIn, EntryPatch, EntryOut, ("Proyecto", "Project"),
              ("un proyecto", "project"))


# -- category tree (R3.2: up to three levels) --------------------------------------------------
CATEGORY_NOT_FOUND = ("Categoría no encontrada", "Category not found")


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parent: CategoryPath | None = Field(default=None, description="The parent's path (None: a first-level category)")
    code: Code
    name_es: Name
    name_en: Name | None = None


class CategoryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name_es: Name | None = None
    name_en: Name | None = None
    active: bool | None = None


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


async def _categories(request: Request, tenant: str, active: bool | None) -> list[Any]:
    q = select(store.categories).where(store.categories.c.tenant == tenant).order_by(store.categories.c.path)
    if active is not None:
        q = q.where(store.categories.c.active.is_(active))
    async with runtime_of(request).db.read() as conn:
        return list((await conn.execute(q)).all())


@router.get("/catalog/categories", response_model=list[CategoryOut])
async def list_categories(request: Request, p: CurrentPrincipal, active: Annotated[bool | None, Query()] = None,
                          under: Annotated[CategoryPath | None, Query(description="only this path's subtree")] = None,
                          ) -> list[CategoryOut]:
    """Every node, ordered by path (a parent before its children)."""
    rows = await _categories(request, p.tenant, active)
    if under:
        rows = [r for r in rows if r.path == under or r.path.startswith(under + "/")]
    return [_category_out(r) for r in rows]


@router.get("/catalog/categories/tree", response_model=list[CategoryNode])
async def category_tree(request: Request, p: CurrentPrincipal,
                        active: Annotated[bool | None, Query()] = None) -> list[CategoryNode]:
    """The tree, nested (a node whose parent is filtered out is left out with it)."""
    nodes: dict[str, CategoryNode] = {}
    roots: list[CategoryNode] = []
    for r in await _categories(request, p.tenant, active):
        node = CategoryNode(code=r.code, path=r.path, name_es=r.name_es, name_en=r.name_en, active=r.active,
                            children=[])
        nodes[r.path] = node
        parent = r.path.rsplit("/", 1)[0] if r.level > 1 else None
        if parent is None:
            roots.append(node)
        elif parent in nodes:
            nodes[parent].children.append(node)
    return roots


@router.get("/catalog/categories/lookup", response_model=CategoryLookup,
            responses={404: {"description": "No such category path"}})
async def lookup_category(request: Request, p: CurrentPrincipal,
                          path: Annotated[CategoryPath, Query(description="e.g. medidor/cobranza/gestion-cobranza")],
                          ) -> CategoryLookup:
    """A node by its path, with the names of every level above it."""
    codes = rules.split_path(path)
    prefixes = [rules.join_path(codes[:i]) for i in range(1, len(codes) + 1)]
    async with runtime_of(request).db.read() as conn:
        rows = {r.path: r for r in (await conn.execute(select(store.categories).where(
            store.categories.c.tenant == p.tenant, store.categories.c.path.in_(prefixes)))).all()}
    if len(rows) != len(prefixes):
        raise not_found(CATEGORY_NOT_FOUND)
    node = rows[prefixes[-1]]
    return CategoryLookup(**_category_out(node).model_dump(), trail=[
        TrailStep(code=rows[x].code, name_es=rows[x].name_es, name_en=rows[x].name_en) for x in prefixes])


@router.get("/catalog/categories/{category_id}", response_model=CategoryOut)
async def get_category(category_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> CategoryOut:
    async with runtime_of(request).db.read() as conn:
        row = await store.category_by_id(conn, p.tenant, category_id)
    if row is None:
        raise not_found(CATEGORY_NOT_FOUND)
    return _category_out(row)


@router.post("/catalog/categories", status_code=201, response_model=CategoryOut)
async def create_category(body: CategoryIn, request: Request, p: AdminPrincipal) -> CategoryOut:
    """A first-level category (no ``parent``) or a child of an active one; at most three levels."""
    duplicate = invalid(field_error("code", ("Ya existe esa categoría en ese nivel.",
                                             "That category exists at that level."), "duplicate_code"))
    try:
        async with runtime_of(request).db.transaction() as tx:
            parent = None
            if body.parent is not None:
                parent = await store.category_by_path(tx.conn, p.tenant, body.parent)
                if parent is None or not parent.active:
                    raise invalid(field_error("parent", ("La categoría superior no existe o está inactiva.",
                                                         "The parent category does not exist or is inactive."),
                                              "unknown_category"))
                too_deep = rules.path_depth_problem(parent.level)
                if too_deep:
                    raise invalid(field_error("parent", too_deep, "too_deep"))
            if await store.category_by_path(tx.conn, p.tenant, rules.child_path(body.parent, body.code)):
                raise duplicate
            row = await store.save_category(tx, p.tenant, {"code": body.code, "name_es": body.name_es,
                                                           "name_en": body.name_en or body.name_es}, parent=parent)
    except IntegrityError:
        raise duplicate from None
    _done(request)
    return _category_out(row)


@router.patch("/catalog/categories/{category_id}", response_model=CategoryOut)
async def change_category(category_id: uuid.UUID, body: CategoryPatch, request: Request,
                          p: AdminPrincipal) -> CategoryOut:
    """Rename, deactivate or reactivate a node (its code and place in the tree never change:
    cases and case types refer to its path)."""
    async with runtime_of(request).db.transaction() as tx:
        current = await store.category_by_id(tx.conn, p.tenant, category_id)
        if current is None:
            raise not_found(CATEGORY_NOT_FOUND)
        changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
        changes.update(_names(body, current))
        if changes.get("active") is False and current.active and await store.has_active_children(tx.conn, current.id):
            raise invalid(field_error("active", ("Primero desactive sus subcategorías.",
                                                 "Deactivate its subcategories first."), "has_active_children"))
        if changes.get("active") is True and current.parent_id is not None:
            parent = await store.category_by_id(tx.conn, p.tenant, current.parent_id)
            if parent is None or not parent.active:
                raise invalid(field_error("active", ("Su categoría superior está inactiva.",
                                                     "Its parent category is inactive."), "parent_inactive"))
        row = await store.save_category(tx, p.tenant, changes, category_id=current.id)
    _done(request)
    return _category_out(row)


# -- case types (R4.2, R3.1, R3.2, R0.3, R1.2) -------------------------------------------------
CASE_TYPE_NOT_FOUND = ("Tipo de solicitud no encontrado", "Case type not found")


class DeadlineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: Literal["business_days", "business_hours"] = "business_days"
    amount: int


class PinnedIn(BaseModel):
    """What a typified kind fixes (R3.2); leave a field out to leave it free."""

    model_config = ConfigDict(extra="forbid")
    category: CategoryPath | None = Field(default=None, description="Category path, e.g. medidor/cobranza/gestion-cobranza")
    area: Code | None = Field(default=None, description="Responsible team (area code)")
    priority: Priority | None = None
    document_class: DocumentClass | None = None  # type: ignore[valid-type]


class CaseTypeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "code": "gestion-cobranza", "name_es": "Gestión de cobranza", "name_en": "Collections management",
        "deadline": {"unit": "business_days", "amount": 5},
        "allowed_channels": ["telefono", "correo", "redes-sociales"],
        "pinned": {"category": "medidor/cobranza/gestion-cobranza", "area": "gestion-clientes", "priority": "high",
                   "document_class": "complaint"},
        "required_fields": ["contact.phone", "contact.email", "description"]}})
    code: Code
    name_es: Name
    name_en: Name | None = None
    deadline: DeadlineIn
    allowed_channels: list[Code] | None = Field(default=None, min_length=1,
                                                description="Channel codes; null: any active channel (R3.2)")
    pinned: PinnedIn = Field(default_factory=PinnedIn)
    default_priority: Priority | None = Field(default=None, description="normal unless pinned (R0.3: never urgent)")
    is_follow_up: bool = Field(default=False, description="A follow-up of an earlier case (R3.1)")
    requires_attachments_to_finish: bool = Field(default=False, description="e.g. the signed letter (R1.2)")
    required_fields: list[RequiredField] = Field(default_factory=list)  # type: ignore[valid-type]
    projects: list[Code] | None = Field(default=None, min_length=1,
                                        description="Projects where the type exists; null: all (R4.2)")
    active: bool = True


class CaseTypePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name_es: Name | None = None
    name_en: Name | None = None
    deadline: DeadlineIn | None = None
    allowed_channels: list[Code] | None = Field(default=None, min_length=1)
    pinned: PinnedIn | None = Field(default=None, description="Replaces the pinned fields as a whole")
    default_priority: Priority | None = None
    is_follow_up: bool | None = None
    requires_attachments_to_finish: bool | None = None
    required_fields: list[RequiredField] | None = None  # type: ignore[valid-type]
    projects: list[Code] | None = Field(default=None, min_length=1)
    active: bool | None = None


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
    requires_attachments_to_finish: bool
    required_fields: list[str]
    projects: list[str] | None


def case_type_out(r: Any) -> CaseTypeOut:
    return CaseTypeOut(code=r.code, name_es=r.name_es, name_en=r.name_en, active=r.active, version=r.version,
                       updated_at=r.updated_at, deadline=DeadlineOut(unit=r.deadline_unit, amount=r.deadline_amount),
                       allowed_channels=r.allowed_channels, pinned=PinnedOut(**(r.pinned or {})),
                       default_priority=r.default_priority, is_follow_up=r.is_follow_up,
                       requires_attachments_to_finish=r.requires_attachments_to_finish,
                       required_fields=list(r.required_fields or []), projects=r.projects)


def _dedupe(values: list[str] | None) -> list[str] | None:
    return None if values is None else list(dict.fromkeys(values))


async def _case_type_values(tx: Tx, p: Principal, fields: dict[str, Any], current: Any = None) -> dict[str, Any]:
    """Check the given case-type fields against the catalog, field by field (all errors at once),
    and return the column values to store."""
    errors: list[dict[str, Any]] = []
    values: dict[str, Any] = {}
    if "deadline" in fields:
        d = fields["deadline"]
        problem = rules.deadline_problem(d["unit"], d["amount"])
        if problem:
            errors.append(field_error("deadline.amount", problem, "deadline_out_of_range"))
        values.update(deadline_unit=d["unit"], deadline_amount=d["amount"])
    for name, kind, message in (
            ("allowed_channels", "channel", ("No existe un canal activo con ese código.", "No active channel with that code.")),
            ("projects", "project", ("No existe un proyecto activo con ese código.", "No active project with that code."))):
        if name in fields:
            codes = _dedupe(fields[name])
            if codes is not None:
                known = await store.active_codes(tx.conn, kind, p.tenant, set(codes))
                errors += [field_error(f"{name}.{i}", message, f"unknown_{kind}")
                           for i, c in enumerate(fields[name]) if c not in known]
            values[name] = codes
    pinned = fields.get("pinned")
    if pinned is not None:
        if pinned.get("category"):
            cat = await store.category_by_path(tx.conn, p.tenant, pinned["category"])
            if cat is None or not cat.active:
                errors.append(field_error("pinned.category", ("No existe una categoría activa con esa ruta.",
                                                              "No active category with that path."), "unknown_category"))
        if pinned.get("area") and not await store.active_codes(tx.conn, "area", p.tenant, {pinned["area"]}):
            errors.append(field_error("pinned.area", ("No existe un área activa con ese código.",
                                                      "No active area with that code."), "unknown_area"))
        problem = rules.priority_problem(pinned.get("priority"))
        if problem:
            errors.append(field_error("pinned.priority", problem, "urgent_not_allowed"))
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
        errors.append(field_error("default_priority", problem, "urgent_not_allowed"))
    elif pinned_priority != "urgent":
        effective, problem = rules.effective_default_priority(default, pinned_priority)
        if problem:
            errors.append(field_error("default_priority", problem, "conflicts_with_pinned"))
        values["default_priority"] = effective
    if "required_fields" in fields:
        values["required_fields"] = _dedupe(fields["required_fields"] or [])
    for flag in ("is_follow_up", "requires_attachments_to_finish", "active"):
        if fields.get(flag) is not None:
            values[flag] = fields[flag]
    if errors:
        raise invalid(*errors)
    return values


@router.get("/catalog/case-types", response_model=list[CaseTypeOut])
async def list_case_types(request: Request, p: CurrentPrincipal, active: Annotated[bool | None, Query()] = None,
                          project: Annotated[Code | None, Query(description="types available in this project")] = None,
                          channel: Annotated[Code | None, Query(description="types accepted through this channel")] = None,
                          ) -> list[CaseTypeOut]:
    q = select(case_types).where(case_types.c.tenant == p.tenant).order_by(case_types.c.code)
    if active is not None:
        q = q.where(case_types.c.active.is_(active))
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(q)).all()
    if project is not None:
        rows = [r for r in rows if r.projects is None or project in r.projects]
    if channel is not None:
        rows = [r for r in rows if r.allowed_channels is None or channel in r.allowed_channels]
    return [case_type_out(r) for r in rows]


@router.get("/catalog/case-types/{code}", response_model=CaseTypeOut)
async def get_case_type(code: str, request: Request, p: CurrentPrincipal) -> CaseTypeOut:
    async with runtime_of(request).db.read() as conn:
        row = await store.get_case_type(conn, p.tenant, code)
    if row is None:
        raise not_found(CASE_TYPE_NOT_FOUND)
    return case_type_out(row)


@router.post("/catalog/case-types", status_code=201, response_model=CaseTypeOut)
async def create_case_type(body: CaseTypeIn, request: Request, p: AdminPrincipal) -> CaseTypeOut:
    """A case type with its deadline rule (R4.2) and, for a typified kind, the channels it is
    accepted through and the fields it pins (R3.2)."""
    duplicate = _duplicate_code("un tipo de solicitud", "case type")
    try:
        async with runtime_of(request).db.transaction() as tx:
            if await store.get_case_type(tx.conn, p.tenant, body.code) is not None:
                raise duplicate
            fields = body.model_dump(exclude={"code", "name_es", "name_en"})
            fields["pinned"] = body.pinned.model_dump()
            values = await _case_type_values(tx, p, fields)
            values.update(name_es=body.name_es, name_en=body.name_en or body.name_es)
            row = await store.save_case_type(tx, p.tenant, body.code, values, create=True)
    except IntegrityError:
        raise duplicate from None
    _done(request)
    return case_type_out(row)


@router.patch("/catalog/case-types/{code}", response_model=CaseTypeOut)
async def change_case_type(code: str, body: CaseTypePatch, request: Request, p: AdminPrincipal) -> CaseTypeOut:
    """Change a type's rules or deactivate it. A changed deadline rule applies to cases entered
    after the change; earlier cases keep theirs."""
    async with runtime_of(request).db.transaction() as tx:
        current = await store.get_case_type(tx.conn, p.tenant, code)
        if current is None:
            raise not_found(CASE_TYPE_NOT_FOUND)
        fields = body.model_dump(exclude_unset=True, exclude={"name_es", "name_en"})
        for non_null in ("deadline", "pinned", "required_fields"):
            if non_null in fields and fields[non_null] is None:
                fields.pop(non_null)
        for whole in ("deadline", "pinned"):  # given as a whole: its defaults count too
            if whole in fields:
                fields[whole] = getattr(body, whole).model_dump()
        values = await _case_type_values(tx, p, fields, current)
        values.update(_names(body, current))
        row = await store.save_case_type(tx, p.tenant, code, values, create=False)
    _done(request)
    return case_type_out(row)


# -- business calendar -------------------------------------------------------------------------
class ClosedDayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: date
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


class WorkingHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: list[Annotated[int, Field(ge=1, le=7)]] = Field(default=list(rules.DEFAULT_WORK_DAYS), min_length=1,
                                                          description="ISO weekdays, 1 = Monday")
    start: time = rules.DEFAULT_WORK_START
    end: time = rules.DEFAULT_WORK_END


class CalendarIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
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
    hol = holidays.country_holidays(row.country, years=year, language="es" if lang == "es" else "en_US")
    start = row.work_start or rules.DEFAULT_WORK_START.strftime("%H:%M")
    end = row.work_end or rules.DEFAULT_WORK_END.strftime("%H:%M")
    return CalendarOut(country=row.country, timezone=row.timezone,
                       extra_closed_days=[ClosedDayOut(**d) for d in row.extra_closed_days or []],
                       working_hours=WorkingHoursOut(days=row.work_days or list(rules.DEFAULT_WORK_DAYS),
                                                     start=start, end=end),
                       version=row.version, updated_at=row.updated_at, year=year,
                       national_holidays=[ClosedDayOut(date=d, name=n) for d, n in sorted(hol.items())])


@router.get("/calendar", response_model=CalendarOut)
async def get_calendar(request: Request, p: CurrentPrincipal,
                       year: Annotated[int | None, Query(ge=1990, le=2100)] = None) -> CalendarOut:
    """The tenant's business calendar, with its country's national holidays of ``year``
    (default: this year in the tenant's time zone)."""
    async with runtime_of(request).db.read() as conn:
        row = await store.get_calendar(conn, p.tenant)
    assert row is not None  # a principal's tenant exists
    year = year or datetime.now(ZoneInfo(row.timezone)).year
    return _calendar_out(row, year, language(request))


@router.put("/calendar", response_model=CalendarOut)
async def put_calendar(body: CalendarIn, request: Request, p: AdminPrincipal) -> CalendarOut:
    """Replace the tenant's business calendar (admin): country (its national holidays count as
    closed), time zone, extra closed days and working hours. Deadlines of cases entered after
    the change use it; earlier cases keep theirs."""
    errors = []
    if body.country not in holidays.list_supported_countries():
        errors.append(field_error("country", ("No hay calendario de feriados para ese país.",
                                              "No holiday calendar for that country."), "unknown_country"))
    try:
        ZoneInfo(body.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(field_error("timezone", ("Zona horaria IANA desconocida (p. ej. America/Santiago).",
                                               "Unknown IANA time zone (e.g. America/Santiago)."), "unknown_timezone"))
    wh = body.working_hours
    problem = rules.working_hours_problem(wh.start, wh.end)
    if problem:
        errors.append(field_error("working_hours.end", problem, "end_before_start"))
    errors += [field_error(f"extra_closed_days.{i}.date", ("Ese día ya está en la lista.", "That day is listed twice."),
                           "duplicate_date")
               for i in rules.duplicates(d.date for d in body.extra_closed_days)]
    if errors:
        raise invalid(*errors)
    async with runtime_of(request).db.transaction() as tx:
        row = await store.save_calendar(
            tx, p.tenant, country=body.country, timezone=body.timezone,
            extra_closed_days=[ClosedDay(date=d.date, name=d.name or None)
                               for d in sorted(body.extra_closed_days, key=lambda d: d.date)],
            work_days=sorted(set(wh.days)), work_start=wh.start.replace(second=0, microsecond=0),
            work_end=wh.end.replace(second=0, microsecond=0))
    _done(request)
    return _calendar_out(row, datetime.now(ZoneInfo(row.timezone)).year, language(request))
