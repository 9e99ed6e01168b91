"""The inbox's queries (R4.5) over ``intake.cases``: filters, text search, sorts, keyset pages and
a total that stays fast. SQLAlchemy Core; PostgreSQL and SQLite (embedded) alike.

Indexes (migration intake_0005_inbox) and how the queries meet them:

- In-progress cases are the default view: ``status IN ('new', 'in_execution',
  'waiting_on_customer')`` is written with literal values (never bound parameters), so
  PostgreSQL can prove a query's status list implies the partial indexes' predicate, in custom
  and generic plans alike.
- Sort keys are index columns: the deadline is ``DUE_KEY`` (``due_at``, or a far-future sentinel
  while workflow has not set it yet, so NULLs sort last and keyset comparisons stay simple),
  priority is ``PRIORITY_RANK`` (urgent first), and every sort ends with ``id``. A page continues
  after the previous page's last key with a row comparison ``(k1, …, id) > (…)``, which is an
  index condition: page 10,000 costs what page 1 costs.
- Text search: a folded document of contact name, e-mail, phone, case number and subject (lower
  case, accents removed), stored by PostgreSQL as the generated column ``search_doc``, with
  trigram (pg_trgm GIN) indexes over in-progress cases and over all; each word of the query is a
  ``LIKE '%word%'`` on it. A national id finds the cases of the parties that hold it.
- The total is exact up to ``COUNT_CAP`` matches (10,000; 1,000 for a text search, whose matches
  are checked in the table), counted over at most cap + 1 rows: an index-only scan of the default
  view's index, which carries every filtered column; beyond that, PostgreSQL's planner estimate
  is returned and flagged as an estimate."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from services.intake.adapters.db import cases
from services.intake.adapters.party_tables import parties, party_visible
from services.intake.domain.access import Principal
from services.intake.domain.lifecycle import IN_PROGRESS, Status
from shared import paging
from shared.db import UTCDateTime
from shared.refusals import Refused

# -- copies of the index expressions of migration intake_0005_inbox (keep them identical) --------
OPEN = "status IN ('new', 'in_execution', 'waiting_on_customer')"
DUE_KEY = {"postgresql": "coalesce(due_at, '9999-12-31 00:00:00+00'::timestamptz)",
           "sqlite": "coalesce(due_at, '9999-12-31 00:00:00.000000')"}
_NO_DEADLINE = {"postgresql": "'9999-12-31 00:00:00+00'::timestamptz", "sqlite": "'9999-12-31 00:00:00.000000'"}
PRIORITY_RANK = "CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END"
_ACCENTED = "ÁÀÂÄÉÈÊËÍÌÎÏÓÒÔÖÚÙÛÜÑÇáàâäéèêëíìîïóòôöúùûüñç"
_PLAIN = "AAAAEEEEIIIIOOOOUUUUNCaaaaeeeeiiiioooouuuunc"
_DOC = "contact_name || ' ' || contact_email || ' ' || coalesce(contact_phone, '') || ' ' || number || ' ' || subject"
SEARCH_DOC_PG = f"lower(translate({_DOC}, '{_ACCENTED}', '{_PLAIN}'))"

COUNT_CAP = 10_000
SEARCH_COUNT_CAP = 1_000  # a text search's matches are checked in the table: fewer before estimating
_FOLD = str.maketrans(_ACCENTED, _PLAIN)


def fold(text: str) -> str:
    """The search document's folding, in Python: accents off, lower case."""
    return text.translate(_FOLD).lower()


_SPANISH = "ÁÉÍÓÚÜÑáéíóúüñ"  # SQLite has no translate(): nested replace() calls, Spanish letters only
_SPANISH_PLAIN = "AEIOUUNaeiouun"  # (more nesting overflows SQLite's parser stack)


def _search_doc_sqlite() -> str:
    doc = _DOC
    for a, p in zip(_SPANISH, _SPANISH_PLAIN, strict=True):
        doc = f"replace({doc}, '{a}', '{p}')"
    return f"lower({doc})"


class Sql:
    """The expressions for one dialect."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.pg = dialect == "postgresql"
        self.due_key = func.coalesce(cases.c.due_at, literal_column(_NO_DEADLINE[dialect], UTCDateTime())
                                     ).label("due_key")
        self.priority_rank = literal_column(PRIORITY_RANK, Integer).label("priority_rank")
        # PostgreSQL: the stored generated column (intake_0005_inbox); SQLite: folded on the fly.
        self.search_doc: ColumnElement[Any] = literal_column("search_doc" if self.pg else _search_doc_sqlite())

    def category_level(self, level: int) -> ColumnElement[str]:
        """The case's category code at ``level`` (0–2). On PostgreSQL ``category_path ->> 0`` with
        a literal level: the extended statistics of migration intake_0005_inbox are on exactly
        these expressions (without them the planner takes a category filter for 0.5 % of rows
        per level and picks a sort of the whole view)."""
        if self.pg:
            return cases.c.category_path.op("->>", return_type=String())(literal_column(str(int(level))))
        return func.json_extract(cases.c.category_path, f"$[{int(level)}]")

    def statuses(self, values: tuple[str, ...]) -> ColumnElement[bool]:
        # Literal values, so that partial indexes apply (see the module's doc): only known states.
        unknown = set(values) - {s.value for s in Status}
        if unknown or not values:
            raise ValueError(f"not case states: {sorted(unknown) or values}")
        return cases.c.status.in_([literal_column(f"'{v}'") for v in values])


# -- sorts and cursors ---------------------------------------------------------------------------
SORTS = ("deadline", "created", "priority")


def sort_keys(sql: Sql, sort: str) -> list[Any]:
    name = sort.lstrip("-")
    if name == "deadline":
        return [sql.due_key, cases.c.id]
    if name == "created":
        return [cases.c.created_at, cases.c.id]
    if name == "priority":
        return [sql.priority_rank, sql.due_key, cases.c.id]
    raise ValueError(sort)


class BadCursor(ValueError):
    """``str(exc)``: "sort" (a cursor of the same list made for another sort) or "value"."""


SORT_NAMES = ("deadline", "-deadline", "created", "-created", "priority", "-priority")


def _key_types(sort: str) -> tuple[type, ...]:
    return (int, datetime, uuid.UUID) if sort.lstrip("-") == "priority" else (datetime, uuid.UUID)


def sort_values(sort: str, row: Any) -> list[Any]:
    """A row's sort key: what the next page continues after (a decoded cursor)."""
    name = sort.lstrip("-")
    if name == "deadline":
        return [row.due_key, row.id]
    if name == "created":
        return [row.created_at, row.id]
    return [int(row.priority_rank), row.due_key, row.id]


def encode_cursor(sort: str, row: Any) -> str:
    """shared/paging's codec; the list name carries the sort, so a cursor only continues its own sort."""
    return paging.encode_cursor(f"inbox:{sort}", *sort_values(sort, row))


def decode_cursor(cursor: str, sort: str) -> list[Any]:
    """The key values after which the next page starts; ``BadCursor`` if malformed or made for
    another sort."""
    try:
        return paging.decode_cursor(cursor, f"inbox:{sort}", *_key_types(sort))
    except Refused:
        for other in SORT_NAMES:
            if other != sort:
                try:
                    paging.decode_cursor(cursor, f"inbox:{other}", *_key_types(other))
                except Refused:
                    continue
                raise BadCursor("sort") from None
        raise BadCursor("value") from None


# -- filters ------------------------------------------------------------------------------------
@dataclass
class InboxQuery:
    tenant: str
    now: datetime
    statuses: tuple[str, ...] = tuple(s.value for s in IN_PROGRESS)
    words: tuple[str, ...] = ()  # folded search words, each must appear
    national_id_key: str | None = None  # a valid national id in the query: its parties' cases too
    holders: tuple[uuid.UUID, ...] | None = None  # those parties (looked up once, by ``resolve``)
    types: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    associations: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    responsible_ids: tuple[uuid.UUID, ...] = ()
    category: tuple[str, ...] = ()  # a category path: the case's path starts with it
    due_from: date | None = None
    due_to: date | None = None
    overdue: bool | None = None  # True: overdue only (overdue_since set); False: the rest
    sort: str = "deadline"
    limit: int = 50
    after: list[Any] = field(default_factory=list)  # decoded cursor


def conditions(sql: Sql, q: InboxQuery, p: Principal) -> list[ColumnElement[bool]]:
    c = cases.c
    due = sql.due_key.element  # the unlabeled expression (an index column)
    conds: list[ColumnElement[bool]] = [c.tenant == q.tenant, sql.statuses(q.statuses)]
    if q.words:
        text_match = and_(*[sql.search_doc.like(f"%{_like_escape(w)}%", escape="\\") for w in q.words])
        if q.holders:
            # A short list of ids (not a subquery): an index condition on cases_party, OR-ed with the
            # trigram index by a BitmapOr, instead of a filter evaluated on every in-progress case.
            text_match = or_(text_match, c.party_id.in_(q.holders))
        conds.append(text_match)
    for column, values in ((c.type_code, q.types), (c.area, q.areas), (c.project, q.projects),
                           (c.channel, q.channels), (c.association, q.associations), (c.priority, q.priorities),
                           (c.responsible_id, q.responsible_ids)):
        if values:
            conds.append(column == values[0] if len(values) == 1 else column.in_(values))
    for level, code in enumerate(q.category):
        conds.append(sql.category_level(level) == code)
    if q.due_from is not None:
        conds += [c.due_date >= q.due_from, due >= _utc_midnight(q.due_from)]
    if q.due_to is not None:
        # due_at is the end of the due day in the tenant's time zone: within two UTC days of it.
        conds += [c.due_date <= q.due_to, due < _utc_midnight(q.due_to + timedelta(days=2))]
    if q.overdue is not None:
        conds.append(_timeliness(sql, q))
    conds.append(party_visible(p, c.party_id))  # R2.7: not the cases of parties hidden from the caller
    return conds


def _timeliness(sql: Sql, q: InboxQuery) -> ColumnElement[bool]:
    """Overdue has one meaning (R4.8), the case resource's: ``overdue_since`` is set — workflow's
    case.overdue set it, and executing or finishing the case cleared it."""
    return cases.c.overdue_since.is_not(None) if q.overdue else cases.c.overdue_since.is_(None)


def _utc_midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- the queries --------------------------------------------------------------------------------
ITEM_COLUMNS = [cases.c.id, cases.c.number, cases.c.type_code, cases.c.subject, cases.c.contact_name,
                cases.c.contact_email, cases.c.contact_phone, cases.c.responsible_id, cases.c.responsible_email,
                cases.c.project, cases.c.channel, cases.c.category_path, cases.c.area, cases.c.association,
                cases.c.priority, cases.c.status, cases.c.created_at, cases.c.due_at, cases.c.due_date,
                cases.c.answered_at, cases.c.finished_at, cases.c.follow_up_of, cases.c.party_id,
                cases.c.overdue_since]


def page_statement(sql: Sql, q: InboxQuery, p: Principal) -> Select[Any]:
    keys = sort_keys(sql, q.sort)
    desc = q.sort.startswith("-")
    conds = conditions(sql, q, p)
    if q.after:
        types = [k.type for k in keys]
        after = tuple_(*[bindparam(f"after_{i}", v, type_=t) for i, (v, t) in enumerate(zip(q.after, types,
                                                                                             strict=True))])
        row = tuple_(*[getattr(k, "element", k) for k in keys])
        conds.append(row < after if desc else row > after)
    order = [(getattr(k, "element", k).desc() if desc else getattr(k, "element", k).asc()) for k in keys]
    return (select(*ITEM_COLUMNS, sql.due_key, sql.priority_rank).where(*conds).order_by(*order)
            .limit(q.limit + 1))


async def resolve(conn: AsyncConnection, q: InboxQuery) -> None:
    """Look up the parties holding the national id of the search (at most a few)."""
    if q.national_id_key and q.holders is None:
        rows = await conn.execute(select(parties.c.id).where(
            parties.c.tenant == q.tenant, parties.c.national_id_key == q.national_id_key).limit(100))
        q.holders = tuple(r.id for r in rows)


async def no_jit(conn: AsyncConnection) -> None:
    """PostgreSQL's JIT compiles queries whose estimated cost is high (a count, a broad search) and
    spends 100–500 ms doing it: never worth it for a page of 50. For this transaction only."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SET LOCAL jit = off"))


async def fetch_page(conn: AsyncConnection, q: InboxQuery, p: Principal) -> tuple[list[Any], str | None]:
    """One page of ``q.limit`` rows and the cursor of the next page (None on the last)."""
    sql = Sql(conn.dialect.name)
    await resolve(conn, q)
    rows = (await conn.execute(page_statement(sql, q, p))).all()
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    return rows, (encode_cursor(q.sort, rows[-1]) if more and rows else None)


async def count(conn: AsyncConnection, q: InboxQuery, p: Principal, cap: int | None = None) -> tuple[int, bool]:
    """(total, exact): exact up to ``cap`` matches (COUNT_CAP; SEARCH_COUNT_CAP with a text
    search); beyond, PostgreSQL's planner estimate (never below cap + 1). The cursor does not
    change the total: it is the whole result's."""
    if cap is None:
        cap = SEARCH_COUNT_CAP if q.words else COUNT_CAP
    sql = Sql(conn.dialect.name)
    await resolve(conn, q)
    conds = conditions(sql, q, p)
    if not sql.pg:
        return int((await conn.execute(select(func.count()).select_from(cases).where(*conds))).scalar_one()), True
    n = int((await conn.execute(count_statement(conds, cap))).scalar_one())
    if n <= cap:
        return n, True
    plan = (await conn.execute(Explain(select(cases.c.id).where(*conds)))).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return max(int(plan[0]["Plan"]["Plan Rows"]), cap + 1), False


def count_statement(conds: list[ColumnElement[bool]], cap: int) -> Select[Any]:
    capped = select(literal_column("1")).select_from(cases).where(*conds).limit(cap + 1).subquery()
    return select(func.count()).select_from(capped)


async def explain_analyze(conn: AsyncConnection, q: InboxQuery, p: Principal, *, total: bool = False) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a page query, or of its capped count, as text (PostgreSQL;
    for the benchmark and the tests)."""
    sql = Sql(conn.dialect.name)
    await resolve(conn, q)
    cap = SEARCH_COUNT_CAP if q.words else COUNT_CAP
    stmt = count_statement(conditions(sql, q, p), cap) if total else page_statement(sql, q, p)
    rows = (await conn.execute(Explain(stmt, analyze=True))).all()
    return "\n".join(r[0] for r in rows)


class Explain(Executable, ClauseElement):
    """``EXPLAIN`` of a statement, with its bound parameters (PostgreSQL)."""

    inherit_cache = False

    def __init__(self, statement: Any, analyze: bool = False) -> None:
        self.statement = statement
        self.analyze = analyze


@compiles(Explain, "postgresql")
def _explain(element: Explain, compiler: Any, **kw: Any) -> str:
    opts = "ANALYZE, BUFFERS, FORMAT TEXT" if element.analyze else "FORMAT JSON"
    return f"EXPLAIN ({opts}) " + str(compiler.process(element.statement, **kw))
