"""Routes of parties and their contacts (R2.1, R2.7, R2.8): parse, name who asks, call one use
case of ``service_layer/parties.py`` (where the rules are described), map its answer.

Search: by name (partial, case- and accent-insensitive), national id (any punctuation), e-mail
or phone (partial; the party's own or one of its contacts'), kind; every filter applies before
the page is cut. Lists page with ``limit`` (1–200) and ``cursor`` → ``{items, next_cursor}``
(shared/paging.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from services.intake.api.deps import CurrentPrincipal
from services.intake.domain import parties as rules
from services.intake.service_layer import parties as uc
from shared.fields import SafeText
from shared.openapi import problem_responses
from shared.paging import CountedPage, Page, PageParams
from shared.runtime import runtime_of

router = APIRouter(prefix="/parties", tags=["parties"])


class ContactOut(BaseModel):
    id: uuid.UUID
    party_id: uuid.UUID
    name: str
    position: str | None
    decision_maker: bool
    email: str | None
    phone: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


class PartyOut(BaseModel):
    id: uuid.UUID
    kind: str
    internal: bool
    name: str
    national_id: str | None
    email: str | None
    phone: str | None
    address: str | None
    notes: str | None
    details: dict[str, Any]
    restricted: bool
    shared_with: list[uuid.UUID]
    active: bool
    source: str
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    executive_id: uuid.UUID | None = None  # R1.1: the customer's commercial executive


class PartyDetail(PartyOut):
    contacts: list[ContactOut]


class CaseSummary(BaseModel):
    id: uuid.UUID
    number: str
    type: str
    subject: str
    status: str
    priority: str
    created_at: datetime
    due_date: date | None
    overdue: bool


class InteractionSummary(BaseModel):
    id: uuid.UUID
    code: str
    channel: str
    summary: str
    status: str
    occurred_at: datetime
    closed_at: datetime | None
    asset_id: uuid.UUID | None


class PartyHistory(BaseModel):
    party_id: uuid.UUID
    interactions: list[InteractionSummary]
    cases: list[CaseSummary]


def contact_out(row: Any) -> ContactOut:
    return ContactOut.model_validate(row, from_attributes=True)


def party_out(v: uc.PartyView) -> PartyOut:
    r = v.row
    return PartyOut(id=r.id, kind=r.kind, internal=r.internal, name=r.name, national_id=r.national_id,
                    email=r.email, phone=r.phone, address=r.address, notes=r.notes, details=r.details,
                    restricted=r.restricted, shared_with=v.shares if r.restricted else [], active=r.active,
                    source=r.source, created_by=r.created_by, created_at=r.created_at, updated_at=r.updated_at,
                    executive_id=r.executive_id)


def party_detail(v: uc.PartyView) -> PartyDetail:
    return PartyDetail(**party_out(v).model_dump(), contacts=[contact_out(c) for c in v.contacts])


# -- parties ---------------------------------------------------------------------------------------

@router.post("", status_code=201, response_model=PartyDetail, responses=problem_responses(401, 403, 422))
async def create_party(body: uc.PartyIn, request: Request, response: Response, p: CurrentPrincipal) -> PartyDetail:
    """Create a party (R2.1: prospects, stakeholders and internal customers are created here;
    supplies are not). With ``restricted`` only the users in ``shared_with``, the creator and
    admins see it (R2.7)."""
    view = await uc.create_party(runtime_of(request).db, p, body)
    response.headers["Location"] = f"/parties/{view.row.id}"
    return party_detail(view)


SearchText = Annotated[SafeText | None, Query(max_length=200)]


@router.get("", response_model=CountedPage[PartyOut], responses=problem_responses(401, 422))
async def search_parties(request: Request, p: CurrentPrincipal, page: PageParams,
                         q: Annotated[SafeText | None, Query(max_length=200,
                                                             description="name, national id, e-mail or phone")] = None,
                         name: SearchText = None, national_id: SearchText = None, email: SearchText = None,
                         phone: SearchText = None,
                         kind: Annotated[list[rules.PartyKind] | None, Query()] = None,
                         internal: Annotated[bool | None, Query()] = None,
                         active: Annotated[bool | None, Query()] = None) -> CountedPage[PartyOut]:
    """Parties the caller may see (R2.7), ordered by name then id; all filters combine (AND);
    ``total``: how many match (exact up to 10,000, then an estimate: ``total_exact`` false)."""
    search = uc.PartySearch(q=q, name=name, national_id=national_id, email=email, phone=phone,
                            kinds=[k.value for k in kind or []], internal=internal, active=active)
    found = await uc.search_parties(runtime_of(request).db, p, search, page)
    return CountedPage[PartyOut](items=[party_out(v) for v in found.items], next_cursor=found.next_cursor,
                                 total=found.total, total_exact=found.total_exact)


@router.get("/{party_id}", response_model=PartyDetail, responses=problem_responses(401, 404, 422))
async def get_party(party_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> PartyDetail:
    """A party's details and contacts (R2.8); 404 also when R2.7 hides it from the caller."""
    return party_detail(await uc.get_party(runtime_of(request).db, p, party_id))


@router.patch("/{party_id}", response_model=PartyDetail, responses=problem_responses(401, 403, 404, 422))
async def change_party(party_id: uuid.UUID, body: uc.PartyPatch, request: Request, p: CurrentPrincipal) -> PartyDetail:
    """Change a party; fields left out stay as they are."""
    return party_detail(await uc.change_party(runtime_of(request).db, p, party_id, body))


@router.put("/{party_id}/sharing", response_model=PartyDetail, responses=problem_responses(401, 403, 404, 422))
async def change_sharing(party_id: uuid.UUID, body: uc.SharingIn, request: Request,
                         p: CurrentPrincipal) -> PartyDetail:
    """R2.7: restrict the party to chosen users of the tenant (``restricted: true`` and their ids in
    ``shared_with``), or open it to everyone of the tenant (``restricted: false``). Only an admin
    or the party's creator may; the creator and admins always keep seeing it."""
    return party_detail(await uc.change_sharing(runtime_of(request).db, p, party_id, body))


@router.get("/{party_id}/history", response_model=PartyHistory, responses=problem_responses(401, 404, 422))
async def party_history(party_id: uuid.UUID, request: Request, p: CurrentPrincipal,
                        status: Annotated[uc.HistoryStatus, Query()] = uc.HistoryStatus.ALL,
                        limit: Annotated[int, Query(ge=1, le=500, description="At most this many of each")] = 200,
                        ) -> PartyHistory:
    """R2.8: the party's interactions (R2.2) and cases, newest first; ``status`` picks the open,
    the closed or all of them (R2.8's three tabs). The whole lists page at
    ``GET /interactions?party_id=``."""
    found = await uc.party_history(runtime_of(request).db, p, party_id, status, limit)
    return PartyHistory(
        party_id=party_id,
        interactions=[InteractionSummary.model_validate(r, from_attributes=True) for r in found.interactions],
        cases=[CaseSummary(id=r.id, number=r.number, type=r.type_code, subject=r.subject, status=r.status,
                           priority=r.priority, created_at=r.created_at, due_date=r.due_date,
                           overdue=r.overdue_since is not None) for r in found.cases])


# -- contacts (R2.8) ---------------------------------------------------------------------------------

@router.get("/{party_id}/contacts", response_model=Page[ContactOut], responses=problem_responses(401, 404, 422))
async def list_contacts(party_id: uuid.UUID, request: Request, p: CurrentPrincipal,
                        page: PageParams) -> Page[ContactOut]:
    """R2.8: the party's contacts, in the order they were added."""
    found = await uc.list_contacts(runtime_of(request).db, p, party_id, page)
    return Page[ContactOut](items=[contact_out(r) for r in found.items], next_cursor=found.next_cursor)


@router.post("/{party_id}/contacts", status_code=201, response_model=ContactOut,
             responses=problem_responses(401, 403, 404, 422))
async def add_contact(party_id: uuid.UUID, body: uc.ContactIn, request: Request, p: CurrentPrincipal) -> ContactOut:
    """A person met at the party, or who decides there (R2.8)."""
    return contact_out(await uc.add_contact(runtime_of(request).db, p, party_id, body))


@router.patch("/{party_id}/contacts/{contact_id}", response_model=ContactOut,
              responses=problem_responses(401, 403, 404, 422))
async def change_contact(party_id: uuid.UUID, contact_id: uuid.UUID, body: uc.ContactPatch, request: Request,
                         p: CurrentPrincipal) -> ContactOut:
    """Change a contact; fields left out stay as they are."""
    return contact_out(await uc.change_contact(runtime_of(request).db, p, party_id, contact_id, body))


@router.delete("/{party_id}/contacts/{contact_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404, 422))
async def remove_contact(party_id: uuid.UUID, contact_id: uuid.UUID, request: Request,
                         p: CurrentPrincipal) -> Response:
    await uc.remove_contact(runtime_of(request).db, p, party_id, contact_id)
    return Response(status_code=204)
