"""Cases: create one (R4.2, R4.3) and read it back, as R4.4 allows. The rules and the
transaction are ``service_layer/cases.py``; this parses and answers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from services.intake.api.deps import CurrentPrincipal
from services.intake.domain import lifecycle
from services.intake.service_layer import alerts, cases
from shared.body import documented_body, parse_keeping
from shared.fields import InputModel, PhoneInput, phone_in_region
from shared.openapi import problem_responses
from shared.refusals import FieldErrors
from shared.runtime import runtime_of

router = APIRouter(tags=["cases"])

Text = Annotated[str, StringConstraints(strip_whitespace=True)]
Slug = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
CASE_NOT_FOUND = cases.CASE_NOT_FOUND


class ContactIn(InputModel):
    name: Text = Field(min_length=1, max_length=200)
    email: EmailStr
    phone: PhoneInput | None = Field(default=None, description=(
        "+56912345678, or a national number of the tenant's country (9 1234 5678); stored as E.164"))


class CaseIn(InputModel):
    """A customer's request. Cross-field rules (one responsible; an association names its party
    or property; R2.3 commitment dates) are checked with the catalog, all problems at once."""

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
    project: Slug | None = Field(default=None, description=(
        "Project or business line (R4.4). An executor creates only in the projects of their profile: "
        "left out, it is their only project; with several, it must be given"))
    channel: Slug | None = Field(default=None, description="Intake channel (catalog code; required when the "
                                                           "type names its channels)")
    category_path: list[Slug] | None = Field(default=None, max_length=3, description="Up to three levels")
    area: Slug | None = None
    document_class: Literal["request", "complaint", "claim", "query", "suggestion"] = "request"
    priority: lifecycle.Priority | None = Field(default=None, description="R0.3: omit; never urgent")
    start_date: date | None = None
    customer_commitment_date: date | None = Field(default=None, description="R2.3")
    internal_commitment_date: date | None = Field(default=None, description="R2.3: before the customer's")
    due_date: date | None = Field(default=None, description="An explicit deadline instead of the type's rule (admins)")
    interaction_id: uuid.UUID | None = Field(default=None, description=(
        "R2.3: the interaction it answers (required by types created only under one, e.g. events)"))
    party_id: uuid.UUID | None = None
    asset_id: uuid.UUID | None = Field(default=None, description="e.g. the property of an owner's request")
    association: Literal["owner", "lessee", "property", "non_owner", "party", "asset"] | None = Field(
        default=None, description="R4.2: who or what the request is about")
    follow_up_of: uuid.UUID | None = Field(default=None, description="R3.1: the original case")
    not_satisfied: bool = Field(default=False, description="R0.1: customer not satisfied with the solution")


class DeadlineOut(BaseModel):
    due_at: datetime
    due_date: date


class ResponsibleOut(BaseModel):
    id: uuid.UUID | None
    email: str


class ContactOut(BaseModel):
    name: str
    email: str
    phone: str | None = None


class ClockBrief(BaseModel):
    kind: str
    state: str
    due_at: datetime | None


class CaseOut(BaseModel):
    id: uuid.UUID
    number: str
    tenant: str
    type: str
    project: str | None
    subject: str
    description: str
    contact: ContactOut
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
    overdue: bool = Field(default=False, description=(
        "R4.8: the deadline passed while the case was unanswered; ends when it is executed or finished "
        "(the inbox's overdue means the same)"))
    allowed_actions: list[str] = Field(default_factory=list)
    clocks: list[ClockBrief] | None = Field(default=None, description=(
        "The SLA clocks as workflow last computed them (GET /cases/{id}/sla explains them); None until it does"))
    executable_from: datetime | None = Field(default=None, description="R1.4: executable only from then")


def case_out(row: Any, timing: Any | None = None) -> CaseOut:
    return CaseOut(
        id=row.id, number=row.number, tenant=row.tenant, type=row.type_code, subject=row.subject,
        description=row.description,
        contact=ContactOut(name=row.contact_name, email=row.contact_email, phone=row.contact_phone),
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
        overdue=row.overdue_since is not None,
        clocks=[ClockBrief(kind=c["kind"], state=c["state"], due_at=c.get("due_at")) for c in timing.clocks]
        if timing is not None and (timing.revision or timing.clocks) else None,
        executable_from=timing.executable_from if timing is not None else None)


def _present(row: Any) -> dict[str, Any]:
    return case_out(row).model_dump(mode="json")


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]


@router.post("/cases", status_code=201, response_model=CaseOut, openapi_extra=documented_body(CaseIn),
             responses=problem_responses(401, 403, 409, 422))
async def create_case(request: Request, p: CurrentPrincipal, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Register a customer's request (R4.2, R4.3) in the caller's tenant. The response deadline is
    computed by workflow from the type's rule and the tenant's business calendar and appears here
    once set. Executors create only in the projects of their profile (R4.4). Every catalog code
    must be an active entry of the tenant's catalog; a bad body lists all its problems at once.
    A late-response or disagreement follow-up (``follow_up_of``) is refused with 409 when R3.4
    says to escalate to the supervisor without a new request (rules 6–8)."""
    body, schema_errors = parse_keeping(CaseIn, await request.body())
    rt = runtime_of(request)
    if isinstance(body.contact, ContactIn) and body.contact.phone:  # national: the tenant's country
        tenant = await rt.extras["catalog"].tenant(p.tenant)
        errors = FieldErrors()
        body.contact.phone = phone_in_region(body.contact.phone, tenant.country if tenant else None,
                                             "contact.phone", errors)
        if errors:
            schema_errors = [*(schema_errors or []), *errors.items]
    made = await cases.create_case(rt.db, rt.extras["catalog"], p, body, present=_present,
                                   schema_errors=schema_errors, idempotency_key=idempotency_key)
    headers = {"Location": f"/cases/{made.body['id']}"}
    if made.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(made.body, status_code=made.status_code, headers=headers)


@router.get("/cases/{case_id}", response_model=CaseOut, responses=problem_responses(401, 404, 422))
async def get_case(case_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> CaseOut:
    db = runtime_of(request).db
    row = await cases.get_case(db, p, case_id)
    return case_out(row, await alerts.clocks_of(db, row.id))
