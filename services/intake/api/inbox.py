"""The inbox ("Bandeja de seguimiento", R4.5): ``GET /inbox`` and the "my cases" shortcut
``GET /inbox/mine``.

By default the in-progress cases (new, in execution, waiting on the customer) of the caller's
tenant, sorted by deadline. Every role of the tenant sees every case (R4.4), except the cases of
parties not shared with the caller (R2.7). Free-text search (``q``) over contact name, e-mail,
phone, case number and subject, accent- and case-insensitive, every word must appear; a valid
national id (RUT…) in ``q`` also finds the cases of the parties that hold it. Filters combine with
AND; a filter given several times (``status=new&status=in_execution``) matches any of its values.

Pages are keyset pages: ``next_cursor`` continues after the last row of this page (stable while
cases come and go; as fast on page 10,000 as on page 1). Sorts: deadline (cases whose deadline
workflow has not set yet come last), entry date, priority (urgent first, then deadline); a leading
'-' reverses. ``total`` is exact up to 10,000 cases (1,000 with a text search); beyond that it is
PostgreSQL's estimate and ``total_exact`` is false (SQLite, embedded: always exact). It is
computed for the first page (no cursor) unless ``count`` says otherwise. Parameters are validated
strictly: an unknown parameter or a bad value is a 422 problem listing each bad field."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.intake.adapters import inbox_queries as iq
from services.intake.api.deps import CurrentPrincipal
from services.intake.domain import parties as party_rules
from services.intake.domain.access import Principal
from services.intake.domain.lifecycle import FINISHED, IN_PROGRESS, Priority, Status
from shared.db import utcnow
from shared.problems import field_error, forbidden, invalid
from shared.runtime import runtime_of

router = APIRouter(tags=["inbox"])

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
CategoryPath = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,59}(/[a-z0-9][a-z0-9-]{0,59}){0,2}$")]
Association = Literal["owner", "lessee", "property", "non_owner", "party", "asset"]
Sort = Literal["deadline", "-deadline", "created", "-created", "priority", "-priority"]
MAX_WORDS = 8


class MineParams(BaseModel):
    """Query parameters of ``GET /inbox/mine`` (all of ``GET /inbox`` but ``responsible``)."""

    model_config = ConfigDict(extra="forbid")
    q: str | None = Field(default=None, max_length=200, description=(
        "Free text: contact name, e-mail, phone, case number, subject (every word must appear; at least one "
        "word of 3+ characters); a valid national id also finds its parties' cases"))
    status: list[Status] = Field(default_factory=list, description=(
        "Any of these states (repeat the parameter); default: new, in_execution, waiting_on_customer"))
    type: list[Code] = Field(default_factory=list, description="Case type codes")
    category: CategoryPath | None = Field(default=None, description=(
        "A category path, e.g. medidor/cobranza: cases filed under it (any deeper level)"))
    area: list[Code] = Field(default_factory=list)
    project: list[Code] = Field(default_factory=list)
    channel: list[Code] = Field(default_factory=list)
    association: list[Association] = Field(default_factory=list)
    priority: list[Priority] = Field(default_factory=list)
    due_from: date | None = Field(default=None, description="Deadline (due day) on or after")
    due_to: date | None = Field(default=None, description="Deadline (due day) on or before")
    overdue: bool | None = Field(default=None, description=(
        "true: overdue only (in progress past the deadline, or finished after it); false: on time only"))
    sort: Sort = Field(default="deadline", description="deadline | created | priority (urgent first); '-' reverses")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=400, description="next_cursor of the previous page")
    count: bool | None = Field(default=None, description="Compute the total (default: on the first page only)")


class InboxParams(MineParams):
    """Query parameters of ``GET /inbox``."""

    responsible: list[str] = Field(default_factory=list, description="User ids, or 'me'")


class ContactOut(BaseModel):
    name: str
    email: str
    phone: str | None


class ResponsibleOut(BaseModel):
    id: uuid.UUID | None
    email: str


class DeadlineOut(BaseModel):
    due_at: datetime
    due_date: date | None


class InboxItem(BaseModel):
    id: uuid.UUID
    number: str
    type: str
    subject: str
    contact: ContactOut
    responsible: ResponsibleOut
    project: str | None
    channel: str | None
    category_path: list[str] | None
    area: str | None
    association: str | None
    priority: str
    status: str
    created_at: datetime
    deadline: DeadlineOut | None
    overdue: bool
    answered_at: datetime | None
    finished_at: datetime | None
    follow_up_of: uuid.UUID | None
    party_id: uuid.UUID | None


class InboxPage(BaseModel):
    items: list[InboxItem]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last page")
    total: int | None = Field(description="Cases matching (all pages); null when not computed")
    total_exact: bool | None = Field(description="false: total is an estimate (over 10,000 cases; 1,000 searching)")
    limit: int
    sort: str


@router.get("/inbox", response_model=InboxPage,
            responses={422: {"description": "Invalid parameters (RFC 9457 problem details, field by field)"}})
async def inbox(params: Annotated[InboxParams, Query()], request: Request, p: CurrentPrincipal) -> InboxPage:
    """R4.5 "Seguimiento de solicitudes": in-progress cases by default; search, filters, sorts,
    keyset pages with a total."""
    return await _inbox(request, p, params, params.responsible)


@router.get("/inbox/mine", response_model=InboxPage,
            responses={422: {"description": "Invalid parameters (RFC 9457 problem details, field by field)"}})
async def my_cases(params: Annotated[MineParams, Query()], request: Request, p: CurrentPrincipal) -> InboxPage:
    """"My cases": the inbox of the cases where the caller is the responsible (same parameters
    as ``GET /inbox``, without ``responsible``)."""
    if p.user_id is None:
        raise forbidden(("Una clave de API no es responsable de solicitudes.",
                         "An API key is not the responsible of any case."))
    return await _inbox(request, p, params, ["me"])


def _responsibles(values: list[str], p: Principal, errors: list[dict[str, Any]]) -> tuple[uuid.UUID, ...]:
    out: list[uuid.UUID] = []
    for i, v in enumerate(values):
        if v == "me" and p.user_id is not None:
            out.append(p.user_id)
            continue
        try:
            out.append(uuid.UUID(v))
        except ValueError:
            errors.append(field_error(f"responsible.{i}", ("Debe ser el id de un usuario o «me».",
                                                           "Must be a user id or 'me'."), "uuid_parsing",
                                      where="query"))
    return tuple(dict.fromkeys(out))


async def _inbox(request: Request, p: Principal, params: MineParams, responsible: list[str]) -> InboxPage:
    rt = runtime_of(request)
    tenant = await rt.extras["catalog"].tenant(p.tenant)
    assert tenant is not None
    errors: list[dict[str, Any]] = []
    responsible_ids = _responsibles(responsible, p, errors)
    words, national_key = _search(params.q, tenant.country, errors)
    if params.due_from is not None and params.due_to is not None and params.due_from > params.due_to:
        errors.append(field_error("due_to", ("Debe ser igual o posterior a due_from.", "Must be on or after due_from."),
                                  "range", where="query"))
    after: list[Any] = []
    if params.cursor is not None:
        try:
            after = iq.decode_cursor(params.cursor, params.sort)
        except iq.BadCursor as exc:
            errors.append(field_error("cursor", (
                "El cursor se obtuvo con otro orden (sort)." if str(exc) == "sort" else "Cursor no válido.",
                "The cursor was made for another sort." if str(exc) == "sort" else "Invalid cursor."),
                "cursor_sort_mismatch" if str(exc) == "sort" else "invalid_cursor", where="query"))
    if errors:
        raise invalid(*errors)
    now = utcnow()
    statuses = tuple(dict.fromkeys(s.value for s in params.status)) or tuple(s.value for s in IN_PROGRESS)
    q = iq.InboxQuery(
        tenant=p.tenant, now=now, statuses=statuses, words=words, national_id_key=national_key,
        types=tuple(params.type), areas=tuple(params.area), projects=tuple(params.project),
        channels=tuple(params.channel), associations=tuple(params.association),
        priorities=tuple(x.value for x in params.priority), responsible_ids=responsible_ids,
        category=tuple(params.category.split("/")) if params.category else (),
        due_from=params.due_from, due_to=params.due_to, overdue=params.overdue, sort=params.sort, limit=params.limit, after=after)
    want_total = params.count if params.count is not None else params.cursor is None
    async with rt.db.read() as conn:
        await iq.no_jit(conn)
        rows, next_cursor = await iq.fetch_page(conn, q, p)
        total, exact = (await iq.count(conn, q, p)) if want_total else (None, None)
    return InboxPage(items=[_item(r, now) for r in rows], next_cursor=next_cursor, total=total, total_exact=exact,
                     limit=params.limit, sort=params.sort)


_PHONEISH = re.compile(r"^\+?[0-9][0-9 ().-]{4,}$")


def _search(text: str | None, country: str, errors: list[dict[str, Any]]) -> tuple[tuple[str, ...], str | None]:
    """The folded words to look for, and the national-id key when ``text`` is a valid one."""
    if text is None:
        return (), None
    raw = text.strip()
    digits = re.sub(r"[^0-9]", "", raw)
    if _PHONEISH.match(raw) and len(digits) >= 6:
        words: list[str] = [digits]  # "+56 9 1234 5678" finds "+56912345678"
    else:
        words = list(dict.fromkeys(w for w in iq.fold(raw).split() if w))
    if not words or max(len(w) for w in words) < 3:
        errors.append(field_error("q", ("Escriba al menos una palabra de 3 letras o más.",
                                        "Type at least one word of 3 or more characters."), "too_short",
                                  where="query"))
    elif len(words) > MAX_WORDS:
        errors.append(field_error("q", (f"Use a lo más {MAX_WORDS} palabras.", f"Use at most {MAX_WORDS} words."),
                                  "too_many_words", where="query"))
    key = None
    if digits and " " not in raw:
        try:
            key = party_rules.normalize_national_id(raw, country).key
        except party_rules.InvalidNationalId:
            key = None
    return tuple(words), key


def is_overdue(status: str, due_at: datetime | None, finished_at: datetime | None, now: datetime) -> bool:
    """Overdue: in progress past its deadline, or finished after it (the inbox's ``overdue``)."""
    if due_at is None:
        return False
    if status in FINISHED:
        return finished_at is not None and finished_at > due_at
    return now > due_at


def _item(r: Any, now: datetime) -> InboxItem:
    return InboxItem(
        id=r.id, number=r.number, type=r.type_code, subject=r.subject,
        contact=ContactOut(name=r.contact_name, email=r.contact_email, phone=r.contact_phone),
        responsible=ResponsibleOut(id=r.responsible_id, email=r.responsible_email), project=r.project,
        channel=r.channel, category_path=r.category_path, area=r.area, association=r.association,
        priority=r.priority, status=r.status, created_at=r.created_at,
        deadline=DeadlineOut(due_at=r.due_at, due_date=r.due_date) if r.due_at else None,
        overdue=is_overdue(r.status, r.due_at, r.finished_at, now), answered_at=r.answered_at,
        finished_at=r.finished_at, follow_up_of=r.follow_up_of, party_id=r.party_id)
