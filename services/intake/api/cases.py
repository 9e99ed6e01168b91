"""Cases: create one (R4.2, R4.3) and read it back, as R4.4 allows."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.exc import IntegrityError

from services.intake import domain
from services.intake.access import CaseAction, Principal, can_act_on_case, can_create_case
from services.intake.adapters import repository as repo
from services.intake.api.deps import CurrentPrincipal
from shared.contracts.envelope import Envelope
from shared.contracts.events import CaseCreated, CaseTypeRef, Contact, DeadlineRule
from shared.db import utcnow
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

    @model_validator(mode="after")
    def _one_responsible(self) -> CaseIn:
        if (self.responsible_id is None) == (self.responsible_email is None):
            raise PydanticCustomError("responsible", "give responsible_id or responsible_email (exactly one)")
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
    created_at: datetime
    deadline: DeadlineOut | None = None
    overdue: bool = False


def case_out(row: Any) -> CaseOut:
    return CaseOut(
        id=row.id, number=row.number, tenant=row.tenant, type=row.type_code, subject=row.subject,
        description=row.description,
        contact=ContactIn(name=row.contact_name, email=row.contact_email, phone=row.contact_phone),
        responsible=ResponsibleOut(id=row.responsible_id, email=row.responsible_email), project=row.project,
        priority=row.priority, status=row.status,
        created_at=row.created_at,
        deadline=DeadlineOut(due_at=row.due_at, due_date=row.due_date) if row.due_at else None,
        overdue=row.overdue_since is not None)


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]


@router.post("/cases", status_code=201, response_model=CaseOut,
             responses={422: {"description": "Invalid input (RFC 9457 problem details)"}})
async def create_case(body: CaseIn, request: Request, p: CurrentPrincipal,
                      idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Register a customer's request (R4.2, R4.3) in the caller's tenant. The response deadline is
    computed by workflow from the type's rule and the tenant's business calendar and appears here
    once set. Executors create only in the projects of their profile (R4.4)."""
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
    if errors:
        raise invalid(*errors)
    assert ctype is not None and responsible is not None
    fingerprint = domain.request_fingerprint(body.model_dump(mode="json"))
    try:
        async with rt.db.transaction() as tx:
            if idempotency_key:
                earlier = await repo.find_idempotent(tx.conn, p.tenant, idempotency_key)
                if earlier is not None:
                    return _replay(earlier, fingerprint)
            case_id = uuid.uuid4()
            now = utcnow()
            number = domain.format_case_number(await repo.next_case_number(tx.conn, p.tenant))
            row = {"id": case_id, "tenant": p.tenant, "number": number, "type_code": body.type,
                   "subject": body.subject, "description": body.description, "contact_name": body.contact.name,
                   "contact_email": body.contact.email, "contact_phone": body.contact.phone,
                   "responsible_email": responsible.email, "responsible_id": responsible.id,
                   "project": body.project, "created_by": p.user_id, "priority": domain.INITIAL_PRIORITY.value,
                   "status": domain.INITIAL_STATUS.value, "created_at": now, "due_at": None, "due_date": None,
                   "overdue_since": None}
            await repo.insert_case(tx.conn, row)
            event = CaseCreated(
                case_id=case_id, number=number, tenant_country=tenant.country, tenant_timezone=tenant.timezone,
                language=tenant.language,
                case_type=CaseTypeRef(code=ctype.code, name=ctype.name_es if tenant.language == "es" else ctype.name_en,
                                      deadline=DeadlineRule(amount=ctype.deadline_business_days)),
                subject=body.subject, description=body.description,
                contact=Contact(name=body.contact.name, email=body.contact.email, phone=body.contact.phone),
                responsible_email=responsible.email, responsible_id=responsible.id,
                responsible_name=responsible.name, project=body.project, created_by=p.user_id,
                priority=row["priority"], status=row["status"], created_at=now)
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
        async with rt.db.engine.connect() as conn:
            earlier = await repo.find_idempotent(conn, p.tenant, idempotency_key)
        if earlier is None:
            raise
        return _replay(earlier, fingerprint)
    return JSONResponse(out, status_code=201, headers={"Location": f"/cases/{case_id}"})


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
    Another tenant's case is 404, never 403: its existence is not revealed."""
    async with runtime_of(request).db.engine.connect() as conn:
        row = await repo.get_case(conn, case_id)
    if row is None or row.tenant != p.tenant:
        raise not_found(CASE_NOT_FOUND)
    if not can_act_on_case(p, action, responsible_id=row.responsible_id, project=row.project):
        raise forbidden(("Sólo el responsable o un administrador puede hacer esto en esta solicitud.",
                         "Only the responsible or an administrator may do this on this case."))
    return row


@router.get("/cases/{case_id}", response_model=CaseOut, responses={404: {"description": "No such case"}})
async def get_case(case_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> CaseOut:
    return case_out(await visible_case(request, p, case_id, CaseAction.READ))
