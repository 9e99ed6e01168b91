"""intake's HTTP API: create a case and read it back (tenants, users and auth: next issue)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from sqlalchemy.exc import IntegrityError

from services.intake import domain
from services.intake.adapters import repository as repo
from shared.contracts.envelope import Envelope
from shared.contracts.events import CaseCreated, CaseTypeRef, Contact, DeadlineRule
from shared.db import utcnow
from shared.logs import correlation_id
from shared.problems import Problem, field_error, invalid
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
        "tenant": "inmobiliaria-demo", "type": "consulta-general", "subject": "Consulta por escritura",
        "description": "El propietario pide copia de la escritura.",
        "contact": {"name": "Héctor Contreras", "email": "hector@example.cl", "phone": "+56912345678"},
        "responsible_email": "ejecutiva@inmobiliaria.example.cl"}})
    tenant: Slug
    type: Slug
    subject: Text = Field(min_length=3, max_length=200)
    description: Text = Field(min_length=1, max_length=5000)
    contact: ContactIn
    responsible_email: EmailStr


class DeadlineOut(BaseModel):
    due_at: datetime
    due_date: date


class CaseOut(BaseModel):
    id: uuid.UUID
    number: str
    tenant: str
    type: str
    subject: str
    description: str
    contact: ContactIn
    responsible_email: str
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
        responsible_email=row.responsible_email, priority=row.priority, status=row.status,
        created_at=row.created_at,
        deadline=DeadlineOut(due_at=row.due_at, due_date=row.due_date) if row.due_at else None,
        overdue=row.overdue_since is not None)


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]


@router.post("/cases", status_code=201, response_model=CaseOut,
             responses={422: {"description": "Invalid input (RFC 9457 problem details)"}})
async def create_case(body: CaseIn, request: Request, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Register a customer's request (R4.2, R4.3). The response deadline is computed by workflow
    from the type's rule and the tenant's business calendar and appears here once set."""
    rt = runtime_of(request)
    catalog: repo.CatalogCache = rt.extras["catalog"]
    tenant = await catalog.tenant(body.tenant)
    if tenant is None:
        raise invalid(field_error("tenant", ("No existe un cliente (tenant) con ese identificador.",
                                             "No tenant with that slug."), "unknown_tenant"))
    ctype = await catalog.case_type(body.tenant, body.type)
    if ctype is None:
        raise invalid(field_error("type", ("El tipo de solicitud no existe para este cliente.",
                                           "This tenant has no such case type."), "unknown_case_type"))
    fingerprint = domain.request_fingerprint(body.model_dump(mode="json"))
    try:
        async with rt.db.transaction() as tx:
            if idempotency_key:
                earlier = await repo.find_idempotent(tx.conn, body.tenant, idempotency_key)
                if earlier is not None:
                    return _replay(earlier, fingerprint)
            case_id = uuid.uuid4()
            now = utcnow()
            number = domain.format_case_number(await repo.next_case_number(tx.conn, body.tenant))
            row = {"id": case_id, "tenant": body.tenant, "number": number, "type_code": body.type,
                   "subject": body.subject, "description": body.description, "contact_name": body.contact.name,
                   "contact_email": body.contact.email, "contact_phone": body.contact.phone,
                   "responsible_email": body.responsible_email, "priority": domain.INITIAL_PRIORITY.value,
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
                responsible_email=body.responsible_email, priority=row["priority"], status=row["status"],
                created_at=now)
            cid = correlation_id.get()
            await tx.emit(Envelope(source="atiende/intake", type="case.created.v1", subject=str(case_id),
                                   tenant=body.tenant, correlationid=cid, data=event.model_dump(mode="json")))
            out = case_out(_RowView(row)).model_dump(mode="json")
            if idempotency_key:
                await repo.save_idempotent(tx.conn, {"tenant": body.tenant, "key": idempotency_key,
                                                     "request_hash": fingerprint, "status_code": 201,
                                                     "response": out, "created_at": now})
    except IntegrityError:
        if not idempotency_key:
            raise
        # Another request with the same key committed first: answer as it did.
        async with rt.db.engine.connect() as conn:
            earlier = await repo.find_idempotent(conn, body.tenant, idempotency_key)
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


@router.get("/cases/{case_id}", response_model=CaseOut, responses={404: {"description": "No such case"}})
async def get_case(case_id: uuid.UUID, request: Request) -> CaseOut:
    rt = runtime_of(request)
    async with rt.db.engine.connect() as conn:
        row = await repo.get_case(conn, case_id)
    if row is None:
        raise Problem(404, "case-not-found", ("Solicitud no encontrada", "Case not found"))
    return case_out(row)
