"""The inbox (R4.5): one use case, a read. Its filters, sorts and keyset pages are
``adapters/inbox_queries.py``; this checks the parameters that need the tenant (a national id's
country) and puts every bad one in one 422."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from services.intake.adapters import inbox_queries as iq
from services.intake.adapters import repository as repo
from services.intake.domain import parties as party_rules
from services.intake.domain.access import Principal
from services.intake.domain.lifecycle import IN_PROGRESS
from shared.db import Database, utcnow
from shared.refusals import FieldErrors

MAX_WORDS = 8
_PHONEISH = re.compile(r"^\+?[0-9][0-9 ().-]{4,}$")


@dataclass(frozen=True)
class InboxRequest:
    q: str | None
    statuses: tuple[str, ...]
    types: tuple[str, ...]
    category: str | None
    areas: tuple[str, ...]
    projects: tuple[str, ...]
    channels: tuple[str, ...]
    associations: tuple[str, ...]
    priorities: tuple[str, ...]
    responsible: tuple[str, ...]
    due_from: date | None
    due_to: date | None
    overdue: bool | None
    sort: str
    limit: int
    cursor: str | None
    count: bool | None


@dataclass(frozen=True)
class InboxResult:
    rows: list[Any]
    next_cursor: str | None
    total: int | None
    total_exact: bool | None
    now: datetime


async def inbox(db: Database, catalog: repo.CatalogCache, who: Principal, req: InboxRequest) -> InboxResult:
    q = await prepare(catalog, who, req)
    want_total = req.count if req.count is not None else req.cursor is None
    async with db.read() as conn:
        await iq.no_jit(conn)
        rows, next_cursor = await iq.fetch_page(conn, q, who)
        total, exact = (await iq.count(conn, q, who)) if want_total else (None, None)
    return InboxResult(rows, next_cursor, total, exact, q.now)


async def prepare(catalog: repo.CatalogCache, who: Principal, req: InboxRequest) -> iq.InboxQuery:
    """The query ``req`` stands for, every bad parameter refused at once (422). The inbox export
    (R4.10) prepares its query here too, so it selects and orders exactly the inbox's rows."""
    tenant = await catalog.tenant(who.tenant)
    assert tenant is not None
    errors = FieldErrors()
    responsible_ids = _responsibles(req.responsible, who, errors)
    words, national_key = _search(req.q, tenant.country, errors)
    if req.due_from is not None and req.due_to is not None and req.due_from > req.due_to:
        errors.add("due_to", ("Debe ser igual o posterior a due_from.", "Must be on or after due_from."), "range",
                   where="query")
    after: list[Any] = []
    if req.cursor is not None:
        try:
            after = iq.decode_cursor(req.cursor, req.sort)
        except iq.BadCursor as exc:
            sort = str(exc) == "sort"
            errors.add("cursor", ("El cursor se obtuvo con otro orden (sort)." if sort else
                                  "El cursor de página no es válido; use el next_cursor recibido.",
                                  "The cursor was made for another sort." if sort else
                                  "Invalid page cursor; pass the next_cursor you received."),
                       "cursor_sort_mismatch" if sort else "invalid_cursor", where="query")
    errors.raise_if_any()
    return iq.InboxQuery(
        tenant=who.tenant, now=utcnow(),
        statuses=tuple(dict.fromkeys(req.statuses)) or tuple(s.value for s in IN_PROGRESS),
        words=words, national_id_key=national_key, types=req.types, areas=req.areas, projects=req.projects,
        channels=req.channels, associations=req.associations, priorities=req.priorities,
        responsible_ids=responsible_ids, category=tuple(req.category.split("/")) if req.category else (),
        due_from=req.due_from, due_to=req.due_to, overdue=req.overdue, sort=req.sort, limit=req.limit, after=after)


async def total(db: Database, q: iq.InboxQuery, who: Principal) -> tuple[int, bool]:
    """The inbox's total for ``q`` (exact up to the cap, then an estimate), as ``GET /inbox`` says it."""
    async with db.read() as conn:
        await iq.no_jit(conn)
        return await iq.count(conn, q, who)


async def pages(db: Database, q: iq.InboxQuery, who: Principal) -> AsyncIterator[list[Any]]:
    """Every row of ``q``, a keyset page of ``q.limit`` rows at a time, in the inbox's order: the
    same statement ``GET /inbox`` runs, continued after each page's last row (so memory holds one
    page, and a row is never seen twice). Each page is its own short read: a slow consumer
    between pages holds no connection."""
    q = replace(q)  # walking moves ``after``: the caller's query stays as given
    while True:
        async with db.read() as conn:
            await iq.no_jit(conn)
            rows, next_cursor = await iq.fetch_page(conn, q, who)
        if rows:
            yield rows
        if next_cursor is None:
            return
        q.after = iq.sort_values(q.sort, rows[-1])


def _responsibles(values: tuple[str, ...], who: Principal, errors: FieldErrors) -> tuple[uuid.UUID, ...]:
    out: list[uuid.UUID] = []
    for i, v in enumerate(values):
        if v == "me" and who.user_id is not None:
            out.append(who.user_id)
            continue
        try:
            out.append(uuid.UUID(v))
        except ValueError:
            errors.add(f"responsible.{i}", ("Debe ser el id de un usuario o «me».", "Must be a user id or 'me'."),
                       "uuid_parsing", where="query")
    return tuple(dict.fromkeys(out))


def _search(text: str | None, country: str, errors: FieldErrors) -> tuple[tuple[str, ...], str | None]:
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
        errors.add("q", ("Escriba al menos una palabra de 3 letras o más.",
                         "Type at least one word of 3 or more characters."), "too_short", where="query")
    elif len(words) > MAX_WORDS:
        errors.add("q", (f"Use a lo más {MAX_WORDS} palabras.", f"Use at most {MAX_WORDS} words."),
                   "too_many_words", where="query")
    key = None
    if digits and " " not in raw:
        try:
            key = party_rules.normalize_national_id(raw, country).key
        except party_rules.InvalidNationalId:
            key = None
    return tuple(words), key
