"""Cases: create one (R4.2, R4.3) and read it back, as R4.4 allows."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.intake.adapters import repository as repo
from services.intake.adapters import triage_queries
from services.intake.adapters.party_tables import assets, can_see_party_id
from services.intake.api.deps import CurrentPrincipal
from services.intake.domain import lifecycle, triage
from services.intake.domain import numbering as domain
from services.intake.domain.access import CaseAction, Principal, can_act_on_case, can_create_case
from services.intake.domain.catalog import CaseTypeRules, case_type_problems, effective_default_priority
from shared.contracts.envelope import Envelope
from shared.contracts.events import CaseCreated, CaseTypeRef, Contact, DeadlineRule
from shared.db import Database, utcnow
from shared.logs import correlation_id
from shared.problems import Problem, field_error, forbidden, invalid, not_found
from shared.runtime import runtime_of

router = APIRouter(tags=["cases"])

Text = Annotated[str, StringConstraints(strip_whitespace=True)]
Slug = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+[1-9][0-9]{6,14}$")]


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text = Field(min_length=1, max_length=200)
    email: EmailStr
    phone: Phone | None = Field(default=None, description="E.164, e.g. +56912345678")


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "type": "consulta-general", "subject": "Consulta por escritura",
        "description": "El propietario pide copia de la escritura.",
        "contact": {"name": "Héctor Contreras", "email": "hector@example.cl", "phone": "+56912345678"},
        "responsible_id": "<a user id of your tenant: GET /users>"}})
    type: Slug
    subject: Text = Field(min_length=3, max_length=200)
    description: Text = Field(min_length=1, max_length=5000)
    contact: ContactIn
    responsible_id: uuid.UUID | None = Field(default=None, description="The user who must resolve the case (R4.2)")
    responsible_email: EmailStr | None = Field(default=None, description="…or that user's e-mail")
    project: Slug | None = Field(default=None, description="Project or business line (R4.4)")
    channel: Slug | None = Field(default=None, description="Intake channel (catalog code)")
    category_path: list[Slug] | None = Field(default=None, max_length=3, description="Up to three levels")
    area: Slug | None = None
    document_class: Literal["request", "complaint", "claim", "query", "suggestion"] = "request"
    priority: lifecycle.Priority | None = Field(default=None, description="R0.3: omit; never urgent")
    start_date: date | None = None
    customer_commitment_date: date | None = Field(default=None, description="R2.3")
    internal_commitment_date: date | None = Field(default=None, description="R2.3: before the customer's")
    due_date: date | None = Field(default=None, description="An explicit deadline instead of the type's rule (admins)")
    interaction_id: uuid.UUID | None = Field(default=None, description="R2.3: the interaction it answers")
    party_id: uuid.UUID | None = None
    asset_id: uuid.UUID | None = Field(default=None, description="e.g. the property of an owner's request")
    association: Literal["owner", "lessee", "property", "non_owner", "party", "asset"] | None = Field(
        default=None, description="R4.2: who or what the request is about")
    follow_up_of: uuid.UUID | None = Field(default=None, description="R3.1: the original case")
    not_satisfied: bool = Field(default=False, description="R0.1: customer not satisfied with the solution")

    @model_validator(mode="after")
    def _one_responsible(self) -> CaseIn:
        if (self.responsible_id is None) == (self.responsible_email is None):
            raise PydanticCustomError("responsible", "give responsible_id or responsible_email (exactly one)")
        if self.association == "property" and self.asset_id is None:
            raise PydanticCustomError("association", "a request about a property names the property (asset_id)")
        if self.association in ("owner", "lessee", "non_owner", "party") and self.party_id is None:
            raise PydanticCustomError("association", "this association names the party (party_id)")
        if self.internal_commitment_date and self.customer_commitment_date \
                and self.internal_commitment_date >= self.customer_commitment_date:
            raise PydanticCustomError("commitment_dates", "the internal date must be earlier than the customer's")
        return self


class DeadlineOut(BaseModel):
    due_at: datetime
    due_date: date


class ResponsibleOut(BaseModel):
    id: uuid.UUID | None
    email: str


class CaseOut(BaseModel):
    id: uuid.UUID
    number: str
    tenant: str
    type: str
    project: str | None
    subject: str
    description: str
    contact: ContactIn
    responsible: ResponsibleOut
    priority: str
    status: str
    channel: str | None = None
    category_path: list[str] | None = None
    area: str | None = None
    document_class: str = "request"
    start_date: date | None = None
    customer_commitment_date: date | None = None
    internal_commitment_date: date | None = None
    interaction_id: uuid.UUID | None = None
    party_id: uuid.UUID | None = None
    asset_id: uuid.UUID | None = None
    association: str | None = None
    follow_up_of: uuid.UUID | None = None
    not_satisfied: bool = False
    answered_at: datetime | None = None
    finished_at: datetime | None = None
    created_at: datetime
    deadline: DeadlineOut | None = None
    overdue: bool = False
    allowed_actions: list[str] = Field(default_factory=list)


def case_out(row: Any) -> CaseOut:
    return CaseOut(
        id=row.id, number=row.number, tenant=row.tenant, type=row.type_code, subject=row.subject,
        description=row.description,
        contact=ContactIn(name=row.contact_name, email=row.contact_email, phone=row.contact_phone),
        responsible=ResponsibleOut(id=row.responsible_id, email=row.responsible_email), project=row.project,
        priority=row.priority, status=row.status, channel=row.channel, category_path=row.category_path,
        area=row.area, document_class=row.document_class, start_date=row.start_date,
        customer_commitment_date=row.customer_commitment_date, internal_commitment_date=row.internal_commitment_date,
        interaction_id=row.interaction_id, party_id=row.party_id, asset_id=row.asset_id, association=row.association,
        follow_up_of=row.follow_up_of,
        not_satisfied=row.not_satisfied, answered_at=row.answered_at, finished_at=row.finished_at,
        allowed_actions=[a.value for a in lifecycle.allowed_actions(lifecycle.Status(row.status))],
        created_at=row.created_at,
        deadline=DeadlineOut(due_at=row.due_at, due_date=row.due_date) if row.due_at else None,
        overdue=row.overdue_since is not None)


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]


@router.post("/cases", status_code=201, response_model=CaseOut,
             responses={409: {"description": "R3.4 rules 6–8: escalate to the supervisor, no new follow-up"},
                        422: {"description": "Invalid input (RFC 9457 problem details)"}})
async def create_case(body: CaseIn, request: Request, p: CurrentPrincipal,
                      idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Register a customer's request (R4.2, R4.3) in the caller's tenant. The response deadline is
    computed by workflow from the type's rule and the tenant's business calendar and appears here
    once set. Executors create only in the projects of their profile (R4.4). A late-response or
    disagreement follow-up (``follow_up_of``) is refused with 409 when R3.4 says to escalate to the
    supervisor without a new request (rules 6–8, as ``GET /cases/{id}/triage`` decides)."""
    rt = runtime_of(request)
    if not can_create_case(p, body.project):
        raise forbidden(("Sólo puede crear solicitudes en los proyectos de su perfil.",
                         "You may only create cases in the projects of your profile."))
    catalog: repo.CatalogCache = rt.extras["catalog"]
    tenant = await catalog.tenant(p.tenant)
    assert tenant is not None  # a principal always belongs to an existing tenant
    ctype = await catalog.case_type(p.tenant, body.type)
    errors = []
    if ctype is None:
        errors.append(field_error("type", ("El tipo de solicitud no existe para este cliente.",
                                           "This tenant has no such case type."), "unknown_case_type"))
    responsible = await catalog.active_user(p.tenant, body.responsible_id, body.responsible_email)
    if responsible is None:
        errors.append(field_error("responsible_id" if body.responsible_id else "responsible_email", ("El responsable no es un usuario activo de este cliente.",
                                                     "The responsible is not an active user of this tenant."),
                                  "unknown_responsible"))
    pinned: dict[str, Any] = {}
    type_priority = lifecycle.Priority.NORMAL
    if ctype is not None:
        # R3.2 / R4.2: the type's channels, project scope, required fields and pinned values.
        present = {name for name, value in (("channel", body.channel), ("project", body.project),
                                            ("area", body.area), ("category_path", body.category_path),
                                            ("contact.phone", body.contact.phone), ("party_id", body.party_id),
                                            ("interaction_id", body.interaction_id)) if value}
        present |= {"subject", "description", "contact.name", "contact.email"}
        for field, message, code in case_type_problems(CaseTypeRules.of(ctype), channel=body.channel,
                                                       project=body.project, present=present):
            errors.append(field_error(field, message, code))
        pinned = {k: v for k, v in (ctype.pinned or {}).items() if v is not None}
        given = {"category": "/".join(body.category_path) if body.category_path else None, "area": body.area,
                 "document_class": body.document_class if "document_class" in body.model_fields_set else None}
        for key, field in (("category", "category_path"), ("area", "area"), ("document_class", "document_class")):
            if key in pinned and given[key] is not None and given[key] != pinned[key]:
                errors.append(field_error(field, (f"Este tipo de solicitud fija este campo en «{pinned[key]}».",
                                                  f"This case type fixes this field to «{pinned[key]}»."),
                                          "pinned_by_type"))
        default, _ = effective_default_priority(ctype.default_priority, pinned.get("priority"))
        type_priority = lifecycle.Priority(default or "normal")
    try:
        priority = lifecycle.initial_priority(body.priority, type_priority)
    except lifecycle.PriorityRefused as exc:
        errors.append(field_error("priority", exc.message, exc.code))
    if body.due_date is not None and not p.is_admin:
        errors.append(field_error("due_date", ("Sólo un administrador fija la fecha límite a mano.",
                                               "Only an administrator sets the deadline by hand."), "admin_only"))
    errors += await repo.reference_errors(rt.db, p.tenant, interaction_id=body.interaction_id,
                                          follow_up_of=body.follow_up_of)
    if body.party_id is not None:
        async with rt.db.read() as conn:
            if not await can_see_party_id(conn, p, body.party_id):  # R2.7: unknown and hidden look alike
                errors.append(field_error("party_id", ("El cliente o contraparte no existe.", "No such party."),
                                          "unknown_party"))
    if body.asset_id is not None:
        async with rt.db.read() as conn:
            asset = (await conn.execute(select(assets.c.party_id).where(
                assets.c.id == body.asset_id, assets.c.tenant == p.tenant))).first()
            if asset is None or not await can_see_party_id(conn, p, asset.party_id):
                errors.append(field_error("asset_id", ("La propiedad o activo no existe.", "No such asset."),
                                          "unknown_asset"))
    if errors:
        raise invalid(*errors)
    assert ctype is not None and responsible is not None
    fingerprint = domain.request_fingerprint(body.model_dump(mode="json"))
    if idempotency_key:
        async with rt.db.read() as conn:
            earlier = await repo.find_idempotent(conn, p.tenant, idempotency_key)
        if earlier is not None:
            return _replay(earlier, fingerprint)
    kind = triage.kind_of(body.type)
    if body.follow_up_of is not None and kind in triage.TABLE_KINDS:
        await _refuse_if_escalated(rt.db, p, body.follow_up_of, disagreement=kind == triage.FollowUpKind.DISAGREEMENT)
    # The number comes from its own short transaction: the tenant's counter row is locked for one
    # statement, not for the whole creation (numbers stay unique; a failed creation leaves a gap).
    async with rt.db.autocommit() as conn:  # one statement, no BEGIN/COMMIT
        number = domain.format_case_number(await repo.next_case_number(conn, p.tenant))
    try:
        async with rt.db.transaction() as tx:
            if body.interaction_id is not None:
                # Held until commit: closing the interaction (FOR UPDATE) waits for this case, or
                # this waits for it and then sees it closed (R2.6).
                await repo.lock_open_interaction(tx.conn, p.tenant, body.interaction_id)
            case_id = uuid.uuid4()
            now = utcnow()
            row = {"id": case_id, "tenant": p.tenant, "number": number, "type_code": body.type,
                   "subject": body.subject, "description": body.description, "contact_name": body.contact.name,
                   "contact_email": body.contact.email, "contact_phone": body.contact.phone,
                   "responsible_email": responsible.email, "responsible_id": responsible.id,
                   "project": body.project, "created_by": p.user_id, "priority": priority.value,
                   "status": lifecycle.Status.NEW.value, "created_at": now, "due_at": None, "due_date": None,
                   "overdue_since": None, "channel": body.channel,
                   "category_path": body.category_path or (pinned["category"].split("/") if "category" in pinned else None),
                   "area": body.area or pinned.get("area"),
                   "document_class": pinned.get("document_class", body.document_class), "start_date": body.start_date,
                   "customer_commitment_date": body.customer_commitment_date,
                   "internal_commitment_date": body.internal_commitment_date, "explicit_due_date": body.due_date,
                   "interaction_id": body.interaction_id, "party_id": body.party_id,
                   "asset_id": body.asset_id, "association": body.association, "follow_up_of": body.follow_up_of,
                   "follow_up_kind": body.type if body.follow_up_of else None, "not_satisfied": body.not_satisfied,
                   "answered_at": None, "finished_at": None, "updated_at": now, "version": 1}
            await repo.insert_case(tx.conn, row)
            await repo.record_history(tx.conn, row, p, "created", {"number": number, "type": body.type,
                                                                  "priority": priority.value})
            event = CaseCreated(
                case_id=case_id, number=number, tenant_country=tenant.country, tenant_timezone=tenant.timezone,
                language=tenant.language,
                case_type=CaseTypeRef(code=ctype.code, name=ctype.name_es if tenant.language == "es" else ctype.name_en,
                                      deadline=DeadlineRule(unit=ctype.deadline_unit, amount=ctype.deadline_amount)),
                subject=body.subject, description=body.description,
                contact=Contact(name=body.contact.name, email=body.contact.email, phone=body.contact.phone),
                responsible_email=responsible.email, responsible_id=responsible.id,
                responsible_name=responsible.name, project=body.project, created_by=p.user_id,
                explicit_due_date=body.due_date, follow_up_of=body.follow_up_of, channel=body.channel,
                area=row["area"], party_id=body.party_id,
                priority=row["priority"], status=row["status"], created_at=now,
                calendar_version=tenant.calendar_version)
            cid = correlation_id.get()
            await tx.emit(Envelope(source="atiende/intake", type="case.created.v1", subject=str(case_id),
                                   tenant=p.tenant, correlationid=cid, data=event.model_dump(mode="json")))
            out = case_out(_RowView(row)).model_dump(mode="json")
            if idempotency_key:
                await repo.save_idempotent(tx.conn, {"tenant": p.tenant, "key": idempotency_key,
                                                     "request_hash": fingerprint, "status_code": 201,
                                                     "response": out, "created_at": now})
    except IntegrityError:
        if not idempotency_key:
            raise
        # Another request with the same key committed first: answer as it did.
        async with rt.db.read() as conn:
            earlier = await repo.find_idempotent(conn, p.tenant, idempotency_key)
        if earlier is None:
            raise
        return _replay(earlier, fingerprint)
    return JSONResponse(out, status_code=201, headers={"Location": f"/cases/{case_id}"})


async def _refuse_if_escalated(db: Database, p: Principal, follow_up_of: uuid.UUID, *, disagreement: bool) -> None:
    """R3.4 rules 6–8: "escalate to the supervisor; no new request". The decision is triage's for
    the original (a disagreement follow-up means the customer disagrees); any other rule lets the
    follow-up through (the agent may have reasons). Refused before a number is taken: nothing is
    stored, nothing is published."""
    async with db.read() as conn:
        parent = await repo.get_case(conn, follow_up_of)
        if parent is None or parent.tenant != p.tenant:
            return  # reference_errors already answered 422
        st = await triage_queries.decision_for(
            conn, p, parent, customer_disagrees=True if disagreement else None, business_line=None, now=utcnow())
    d = st.decision
    if d.new_request_allowed:
        return
    message = triage.message(d, number=st.original.number)
    f = st.table_follow_up
    raise Problem(409, "escalate-to-supervisor",
                  ("Corresponde escalar al supervisor, no un nuevo requerimiento",
                   "Escalate to the supervisor instead of filing a new request"),
                  (f"R3.4, regla {d.rule}: {message[0]} No se creó nada.",
                   f"R3.4, rule {d.rule}: {message[1]} Nothing was created."),
                  [field_error("follow_up_of", message, "escalate_to_supervisor")],
                  rule=d.rule, action=d.action.value, original_id=str(st.original.id),
                  table_follow_up_id=str(f.id) if f is not None else None)


def _replay(earlier: Any, fingerprint: str) -> JSONResponse:
    if earlier.request_hash != fingerprint:
        raise Problem(422, "idempotency-key-reused",
                      ("La clave de idempotencia ya se usó con otros datos",
                       "Idempotency-Key already used with a different body"),
                      ("Use una clave nueva para una solicitud distinta; no se creó nada.",
                       "Use a new key for a different request; nothing was created."),
                      [field_error("Idempotency-Key", ("Clave reutilizada con otro contenido.",
                                                       "Key reused with different content."),
                                   "idempotency_key_reused", where="header")])
    return JSONResponse(earlier.response, status_code=earlier.status_code,
                        headers={"Idempotent-Replayed": "true", "Location": f"/cases/{earlier.response['id']}"})


class _RowView:
    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)


CASE_NOT_FOUND = ("Solicitud no encontrada", "Case not found")


async def visible_case(request: Request, p: Principal, case_id: uuid.UUID, action: CaseAction) -> Any:
    """The case if the caller's tenant has it and R4.4 lets the caller do ``action`` on it.
    Another tenant's case, or one of a party hidden from the caller (R2.7), is 404, never 403:
    its existence is not revealed."""
    async with runtime_of(request).db.read() as conn:
        row = await repo.get_case(conn, case_id)
        # R2.7: the cases of a party restricted to other users are as invisible as the party.
        hidden = row is not None and row.party_id is not None and not await can_see_party_id(conn, p, row.party_id)
    if row is None or row.tenant != p.tenant or hidden:
        raise not_found(CASE_NOT_FOUND)
    if not can_act_on_case(p, action, responsible_id=row.responsible_id, project=row.project):
        raise forbidden(("Sólo el responsable o un administrador puede hacer esto en esta solicitud.",
                         "Only the responsible or an administrator may do this on this case."))
    return row


@router.get("/cases/{case_id}", response_model=CaseOut, responses={404: {"description": "No such case"}})
async def get_case(case_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> CaseOut:
    return case_out(await visible_case(request, p, case_id, CaseAction.READ))
