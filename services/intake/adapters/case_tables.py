"""intake's tables for the agent's working day (issue 4): history, interactions, tasks, work
orders, activities, attachments — and the queries of the hierarchy's use cases on them. The
``cases`` table itself is in ``db.py``.

Lists are keyset pages (shared/paging.py): each ``list_*`` takes the previous page's last sort
key (``after``) and ``limit`` (pass the page's limit + 1), filters first, then cuts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Date,
    Index,
    Integer,
    LargeBinary,
    Select,
    String,
    Table,
    Text,
    Uuid,
    and_,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

# The module, not its names: party_tables uses the interactions table from here (an import cycle).
from services.intake.adapters import party_tables
from services.intake.adapters.db import cases, metadata, users
from services.intake.domain.access import Principal
from shared.db import JsonType, UTCDateTime
from shared.migrations import big_id

# A result row (SQLAlchemy ``Row``), read by column name; SQLAlchemy types a Row per column
# count, which says nothing useful for these joined selects.
Record = Any

# Append-only: every action, state change, field change, priority change and mail (R4.6 history).
case_history = Table(
    "case_history", metadata,
    Column("id", big_id(), primary_key=True, autoincrement=True),
    Column("case_id", Uuid(), nullable=False),
    Column("tenant", String(60), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor_id", Uuid(), nullable=True),
    Column("actor_name", String(200), nullable=True),
    Column("kind", String(40), nullable=False),
    Column("data", JsonType, nullable=False),
)
Index("case_history_case", case_history.c.case_id, case_history.c.id)

# R2.2: an interaction (call, e-mail, letter, visit…) with a party; may stand alone.
interactions = Table(
    "interactions", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("code", String(30), nullable=False),  # human-readable, unique per tenant
    Column("party_id", Uuid(), nullable=True),
    Column("asset_id", Uuid(), nullable=True),
    Column("channel", String(40), nullable=False),
    Column("summary", Text(), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # open | closed
    Column("created_by", Uuid(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("closed_by", Uuid(), nullable=True),  # intake_0005_hierarchy
    Column("closing_note", Text(), nullable=True),
)
Index("interactions_tenant_code", interactions.c.tenant, interactions.c.code, unique=True)
Index("interactions_party", interactions.c.tenant, interactions.c.party_id)

# R2.2: the last interaction number given per tenant ("AT-000123"; intake_0005_hierarchy).
interaction_counters = Table(
    "interaction_counters", metadata,
    Column("tenant", String(60), primary_key=True),
    Column("last_number", Integer, nullable=False),
)

# R2.4: a task (ticket) only under a case; one responsible, optional CC users.
tasks = Table(
    "tasks", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("case_id", Uuid(), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text(), nullable=False),
    Column("responsible_id", Uuid(), nullable=False),
    Column("cc_user_ids", JsonType, nullable=False),
    Column("area", String(60), nullable=True),
    Column("due_date", Date(), nullable=False),
    Column("status", String(16), nullable=False),  # open | closed
    Column("created_by", Uuid(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("closing_note", Text(), nullable=True),
)
Index("tasks_case", tasks.c.case_id)
Index("tasks_responsible_open", tasks.c.tenant, tasks.c.responsible_id, tasks.c.status, tasks.c.due_date)

# R2.5: a technical work order on a task; approved by a technical manager before execution.
work_orders = Table(
    "work_orders", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("task_id", Uuid(), nullable=False, unique=True),
    Column("description", Text(), nullable=False),
    Column("status", String(16), nullable=False),  # pending_approval | approved | rejected | executed
    Column("decided_by", Uuid(), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decision_comment", Text(), nullable=True),
    Column("executed_at", UTCDateTime(), nullable=True),
    Column("created_by", Uuid(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("executed_by", Uuid(), nullable=True),  # intake_0005_hierarchy
    Column("execution_note", Text(), nullable=True),
)
Index("work_orders_tenant_status", work_orders.c.tenant, work_orders.c.status, work_orders.c.created_at)

# R0.2: activities of a case (note, task, logged call) with priority, reason, type, dates, owner.
activities = Table(
    "activities", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("case_id", Uuid(), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # note | task | call
    Column("priority", String(16), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("type", String(60), nullable=False),
    Column("planned_date", Date(), nullable=True),
    Column("done_date", Date(), nullable=True),
    Column("status", String(16), nullable=False),  # open | completed
    Column("owner_id", Uuid(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("description", Text(), nullable=True),  # intake_0005_hierarchy
    Column("created_by", Uuid(), nullable=True),
    Column("completed_by", Uuid(), nullable=True),
    Column("completed_at", UTCDateTime(), nullable=True),
)

# Attachments on interactions, cases and actions (PDF and images), stored in the database.
attachments = Table(
    "attachments", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("owner_kind", String(16), nullable=False),  # case | interaction | task | history
    Column("owner_id", Uuid(), nullable=False),
    Column("case_id", Uuid(), nullable=True),  # the case whose visibility governs access
    Column("filename", String(200), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("uploaded_by", Uuid(), nullable=True),
    Column("uploaded_at", UTCDateTime(), nullable=False),
    Column("is_signed_letter", Boolean, nullable=False),  # R1.2 desistance letter
)
Index("attachments_owner", attachments.c.owner_kind, attachments.c.owner_id)
Index("attachments_case", attachments.c.case_id)  # intake_0005_hierarchy


# -- queries ---------------------------------------------------------------------------------------
def _after(first: Any, second: Any, after: list[Any] | None, *, descending: bool = False) -> ColumnElement[bool] | None:
    """Rows after ``after`` = [first, second] in (first, second) order (both descending if asked)."""
    if after is None:
        return None
    a, b = after
    if descending:
        return or_(first < a, and_(first == a, second < b))
    return or_(first > a, and_(first == a, second > b))


def _given(q: Select[Any], *filters: tuple[Any, Any]) -> Select[Any]:
    """``q`` with ``column == value`` for each (column, value) whose value is given (not None)."""
    for column, value in filters:
        if value is not None:
            q = q.where(column == value)
    return q


async def _page(conn: AsyncConnection, q: Select[Any], order: tuple[Any, Any], after: list[Any] | None,
                limit: int, *, descending: bool = False) -> list[Record]:
    cond = _after(*order, after, descending=descending)
    if cond is not None:
        q = q.where(cond)
    keys = [c.desc() for c in order] if descending else list(order)
    return list((await conn.execute(q.order_by(*keys).limit(limit))).all())


async def active_users(conn: AsyncConnection, tenant: str, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Record]:
    """The active users of the tenant among ``ids``, by id."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await conn.execute(select(users.c.id, users.c.email, users.c.name, users.c.language).where(
        users.c.tenant == tenant, users.c.id.in_(wanted), users.c.active.is_(True)))
    return {r.id: r for r in rows}


# interactions
async def next_interaction_number(conn: AsyncConnection, tenant: str) -> int:
    """Take the tenant's next interaction number. One upsert: concurrent creations queue on the
    counter row until the first commits, so no two get the same number (PostgreSQL and SQLite)."""
    from sqlalchemy.dialects import postgresql, sqlite

    upsert: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = upsert(interaction_counters).values(tenant=tenant, last_number=1)
    stmt = stmt.on_conflict_do_update(index_elements=[interaction_counters.c.tenant],
                                      set_={"last_number": interaction_counters.c.last_number + 1})
    return int((await conn.execute(stmt.returning(interaction_counters.c.last_number))).scalar_one())


async def get_interaction(conn: AsyncConnection, interaction_id: uuid.UUID, *, lock: str | None = None
                          ) -> Record | None:
    """``lock``: "update" (FOR UPDATE) or "share" (FOR SHARE)."""
    q = select(interactions).where(interactions.c.id == interaction_id)
    if lock is not None:
        q = q.with_for_update(read=lock == "share")
    return (await conn.execute(q)).first()


async def insert_interaction(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(interactions), row)


async def update_interaction(conn: AsyncConnection, interaction_id: uuid.UUID, **values: Any) -> Record:
    await conn.execute(update(interactions).where(interactions.c.id == interaction_id).values(**values))
    return (await conn.execute(select(interactions).where(interactions.c.id == interaction_id))).one()


def interaction_list(p: Principal, *, party_id: uuid.UUID | None, asset_id: uuid.UUID | None,
                     status: str | None) -> Select[Any]:
    """The tenant's interactions the caller may see (R2.7)."""
    return _given(select(interactions).where(interactions.c.tenant == p.tenant,
                                             party_tables.party_visible(p, interactions.c.party_id)),
                  (interactions.c.party_id, party_id), (interactions.c.asset_id, asset_id),
                  (interactions.c.status, status))


async def list_interactions(conn: AsyncConnection, q: Select[Any], *, after: list[Any] | None,
                            limit: int) -> list[Record]:
    """A page of ``interaction_list``'s rows, newest first."""
    return await _page(conn, q, (interactions.c.created_at, interactions.c.id), after, limit, descending=True)


async def interaction_cases(conn: AsyncConnection, tenant: str, interaction_id: uuid.UUID, *,
                            after: list[Any] | None = None, limit: int | None = None) -> list[Record]:
    """The cases under an interaction (R2.3), oldest first; all of them without ``limit``."""
    q = select(cases.c.id, cases.c.number, cases.c.subject, cases.c.status, cases.c.created_at).where(
        cases.c.interaction_id == interaction_id, cases.c.tenant == tenant)
    if limit is None:
        return list((await conn.execute(q.order_by(cases.c.created_at, cases.c.id))).all())
    return await _page(conn, q, (cases.c.created_at, cases.c.id), after, limit)


# tasks
def _task_query() -> Select[Any]:
    """A task with its case's number and subject, its responsible's name and its work order."""
    responsible = users.alias("task_responsible")
    return (select(tasks, cases.c.number.label("case_number"), cases.c.subject.label("case_subject"),
                   responsible.c.name.label("responsible_name"),
                   work_orders.c.id.label("work_order_id"), work_orders.c.status.label("work_order_status"))
            .select_from(tasks.join(cases, cases.c.id == tasks.c.case_id)
                         .outerjoin(responsible, responsible.c.id == tasks.c.responsible_id)
                         .outerjoin(work_orders, work_orders.c.task_id == tasks.c.id)))


async def get_task(conn: AsyncConnection, task_id: uuid.UUID, *, for_update: bool = False) -> Record | None:
    """The task with its case's number and subject and its work order's id and status;
    ``for_update`` locks the task row only."""
    q = _task_query().where(tasks.c.id == task_id)
    if for_update:
        q = q.with_for_update(of=tasks)
    return (await conn.execute(q)).first()


async def insert_task(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(tasks), row)


async def update_task(conn: AsyncConnection, task_id: uuid.UUID, **values: Any) -> Record:
    await conn.execute(update(tasks).where(tasks.c.id == task_id).values(**values))
    return (await conn.execute(_task_query().where(tasks.c.id == task_id))).one()


def task_list(p: Principal, *, responsible_id: uuid.UUID | None, status: str | None,
              case_id: uuid.UUID | None) -> Select[Any]:
    """The task inbox's rows (R2.4): the tenant's tasks the caller may see (unordered: a page
    orders them, a count counts them)."""
    return _given(_task_query().where(tasks.c.tenant == p.tenant, party_tables.party_visible(p, cases.c.party_id)),
                  (tasks.c.responsible_id, responsible_id), (tasks.c.status, status), (tasks.c.case_id, case_id))


async def list_tasks(conn: AsyncConnection, q: Select[Any], *, after: list[Any] | None, limit: int) -> list[Record]:
    """A page of ``task_list``'s rows, soonest due first."""
    return await _page(conn, q, (tasks.c.due_date, tasks.c.id), after, limit)


async def case_tasks(conn: AsyncConnection, case_id: uuid.UUID, *, after: list[Any] | None,
                     limit: int) -> list[Record]:
    return await _page(conn, _task_query().where(tasks.c.case_id == case_id), (tasks.c.created_at, tasks.c.id),
                       after, limit)


# work orders
def _work_order_query() -> Select[Any]:
    """A work order with its task's title and responsible, its case's number and subject, and the
    names of who requested and who decided it."""
    responsible, requester, decider = users.alias("wo_responsible"), users.alias("wo_requester"), users.alias("wo_decider")
    return (select(work_orders, tasks.c.title.label("task_title"), tasks.c.case_id,
                   tasks.c.responsible_id.label("task_responsible_id"),
                   responsible.c.name.label("task_responsible_name"), cases.c.number.label("case_number"),
                   cases.c.subject.label("case_subject"), requester.c.name.label("created_by_name"),
                   decider.c.name.label("decided_by_name"))
            .select_from(work_orders.join(tasks, tasks.c.id == work_orders.c.task_id)
                         .join(cases, cases.c.id == tasks.c.case_id)
                         .outerjoin(responsible, responsible.c.id == tasks.c.responsible_id)
                         .outerjoin(requester, requester.c.id == work_orders.c.created_by)
                         .outerjoin(decider, decider.c.id == work_orders.c.decided_by)))


async def get_work_order(conn: AsyncConnection, work_order_id: uuid.UUID, *, for_update: bool = False
                         ) -> Record | None:
    """The work order with its task's title, case and responsible; ``for_update`` locks the
    work order row only."""
    q = _work_order_query().where(work_orders.c.id == work_order_id)
    if for_update:
        q = q.with_for_update(of=work_orders)
    return (await conn.execute(q)).first()


async def work_order_of_task(conn: AsyncConnection, task_id: uuid.UUID) -> Record | None:
    return (await conn.execute(select(work_orders.c.id, work_orders.c.status)
                               .where(work_orders.c.task_id == task_id))).first()


async def insert_work_order(conn: AsyncConnection, row: dict[str, Any]) -> Record:
    await conn.execute(insert(work_orders), row)
    return (await conn.execute(_work_order_query().where(work_orders.c.id == row["id"]))).one()


async def update_work_order(conn: AsyncConnection, work_order_id: uuid.UUID, **values: Any) -> Record:
    await conn.execute(update(work_orders).where(work_orders.c.id == work_order_id).values(**values))
    return (await conn.execute(_work_order_query().where(work_orders.c.id == work_order_id))).one()


def work_order_list(p: Principal, *, status: str | None) -> Select[Any]:
    """The technical manager's inbox's rows (R2.5): the tenant's work orders the caller may see."""
    return _given(_work_order_query().where(work_orders.c.tenant == p.tenant,
                                            party_tables.party_visible(p, cases.c.party_id)),
                  (work_orders.c.status, status))


async def list_work_orders(conn: AsyncConnection, q: Select[Any], *, after: list[Any] | None,
                           limit: int) -> list[Record]:
    """A page of ``work_order_list``'s rows, oldest first."""
    return await _page(conn, q, (work_orders.c.created_at, work_orders.c.id), after, limit)


# activities
async def get_activity(conn: AsyncConnection, case_id: uuid.UUID, activity_id: uuid.UUID, *,
                       for_update: bool = False) -> Record | None:
    q = select(activities).where(activities.c.id == activity_id, activities.c.case_id == case_id)
    if for_update:
        q = q.with_for_update()
    return (await conn.execute(q)).first()


async def insert_activity(conn: AsyncConnection, row: dict[str, Any]) -> Record:
    await conn.execute(insert(activities), row)
    return (await conn.execute(select(activities).where(activities.c.id == row["id"]))).one()


async def update_activity(conn: AsyncConnection, activity_id: uuid.UUID, **values: Any) -> Record:
    await conn.execute(update(activities).where(activities.c.id == activity_id).values(**values))
    return (await conn.execute(select(activities).where(activities.c.id == activity_id))).one()


async def list_activities(conn: AsyncConnection, case_id: uuid.UUID, *, status: str | None,
                          after: list[Any] | None, limit: int) -> list[Record]:
    q = _given(select(activities).where(activities.c.case_id == case_id), (activities.c.status, status))
    return await _page(conn, q, (activities.c.created_at, activities.c.id), after, limit)


# attachments
_ATTACHMENT_META = [c for c in attachments.c if c.name != "content"]


async def insert_attachment(conn: AsyncConnection, row: dict[str, Any]) -> Record:
    await conn.execute(insert(attachments), row)
    return (await conn.execute(select(*_ATTACHMENT_META).where(attachments.c.id == row["id"]))).one()


async def get_attachment(conn: AsyncConnection, attachment_id: uuid.UUID) -> Record | None:
    """The attachment with its bytes."""
    return (await conn.execute(select(attachments).where(attachments.c.id == attachment_id))).first()


async def list_attachments(conn: AsyncConnection, tenant: str, owner_kind: str, owner_id: uuid.UUID, *,
                           after: list[Any] | None, limit: int) -> list[Record]:
    """An owner's attachments without their bytes, oldest first."""
    q = select(*_ATTACHMENT_META).where(attachments.c.tenant == tenant, attachments.c.owner_kind == owner_kind,
                                        attachments.c.owner_id == owner_id)
    return await _page(conn, q, (attachments.c.uploaded_at, attachments.c.id), after, limit)
