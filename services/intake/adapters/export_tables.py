"""Tables and queries of the inbox export (R4.10) and of the tenant's audit trail (schema
``intake``, migration intake_0013_exports_audit).

- ``export_jobs``: a large export run in the background — its owner (tenant and user), what was
  asked (filters, format, separator, language), its state (queued | running | done | failed),
  progress (``rows_done`` / ``rows_total``), a heartbeat the running process moves every page,
  and when it expires.
- ``export_files``: the finished file in chunks of at most 1 MiB (``seq`` from 0), so whichever
  replica gets the download can stream it.
- ``audit_log``: who did what in the tenant (``inbox.exported`` for every download), newest
  first. Keyset pages: ``after`` is the previous page's last sort key."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Uuid,
    delete,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.catalog_tables import areas, categories, channels
from services.intake.adapters.db import case_types, metadata
from services.intake.adapters.time_tables import case_clocks
from services.intake.domain.inbox_export import CatalogLabels
from shared.db import JsonType, UTCDateTime

export_jobs = Table(
    "export_jobs", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("user_id", Uuid(), nullable=False),
    Column("format", String(8), nullable=False),  # csv | xlsx
    Column("separator", String(1), nullable=True),  # CSV only
    Column("language", String(2), nullable=False),  # headers and labels
    Column("filters", JsonType, nullable=False),  # the inbox parameters as given
    Column("state", String(16), nullable=False),  # queued | running | done | failed
    Column("rows_done", Integer, nullable=False),
    Column("rows_total", Integer, nullable=True),
    Column("rows_total_exact", Boolean, nullable=False),
    Column("size_bytes", Integer, nullable=True),
    Column("file_name", String(120), nullable=False),
    Column("error", String(500), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("heartbeat_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("expires_at", UTCDateTime(), nullable=False),
)
Index("export_jobs_owner_created", export_jobs.c.tenant, export_jobs.c.user_id, export_jobs.c.created_at,
      export_jobs.c.id)
Index("export_jobs_expires", export_jobs.c.expires_at)

export_files = Table(
    "export_files", metadata,
    Column("job_id", Uuid(), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("data", LargeBinary(), nullable=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor_id", Uuid(), nullable=True),  # the user; None for an API key
    Column("actor_api_key_id", Uuid(), nullable=True),
    Column("actor_name", String(200), nullable=True),
    Column("actor_email", String(254), nullable=True),
    Column("action", String(60), nullable=False),
    Column("details", JsonType, nullable=False),
)
Index("audit_log_tenant_at", audit_log.c.tenant, audit_log.c.at, audit_log.c.id)
Index("audit_log_tenant_action_at", audit_log.c.tenant, audit_log.c.action, audit_log.c.at, audit_log.c.id)


# -- what an export row needs besides the inbox's columns -------------------------------------
async def catalog_labels(conn: AsyncConnection, tenant: str) -> CatalogLabels:
    """Every name of the tenant's catalog (inactive entries too: old cases still carry them)."""
    async def names(table: Table, key: Any) -> dict[str, tuple[str, str]]:
        rows = await conn.execute(select(key, table.c.name_es, table.c.name_en).where(table.c.tenant == tenant))
        return {r[0]: (r.name_es, r.name_en) for r in rows}

    return CatalogLabels(types=await names(case_types, case_types.c.code), areas=await names(areas, areas.c.code),
                         channels=await names(channels, channels.c.code),
                         categories=await names(categories, categories.c.path))


async def clocks_of_cases(conn: AsyncConnection, tenant: str, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """case id → its clocks as workflow last told (``case_clocks``), for one page of cases."""
    if not case_ids:
        return {}
    rows = await conn.execute(select(case_clocks.c.case_id, case_clocks.c.clocks).where(
        case_clocks.c.tenant == tenant, case_clocks.c.case_id.in_(case_ids)))
    return {r.case_id: r.clocks for r in rows}


# -- jobs -----------------------------------------------------------------------------------------
async def insert_job(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(export_jobs), row)


def _owned(tenant: str, user_id: uuid.UUID) -> Any:
    return (export_jobs.c.tenant == tenant) & (export_jobs.c.user_id == user_id)


async def job_of(conn: AsyncConnection, tenant: str, user_id: uuid.UUID, job_id: uuid.UUID) -> Any | None:
    return (await conn.execute(select(export_jobs).where(_owned(tenant, user_id),
                                                         export_jobs.c.id == job_id))).first()


async def job_page(conn: AsyncConnection, tenant: str, user_id: uuid.UUID, after: list[Any] | None,
                   limit: int) -> list[Any]:
    """The owner's jobs, newest first (created_at, id descending); ``limit`` rows."""
    q = select(export_jobs).where(_owned(tenant, user_id))
    if after:
        q = q.where(tuple_(export_jobs.c.created_at, export_jobs.c.id)
                    < tuple_(literal(after[0], export_jobs.c.created_at.type), literal(after[1], export_jobs.c.id.type)))
    q = q.order_by(export_jobs.c.created_at.desc(), export_jobs.c.id.desc()).limit(limit)
    return list((await conn.execute(q)).all())


async def update_job(conn: AsyncConnection, job_id: uuid.UUID, **values: Any) -> None:
    await conn.execute(update(export_jobs).where(export_jobs.c.id == job_id).values(**values))


async def fail_stale(conn: AsyncConnection, tenant: str, user_id: uuid.UUID, before: datetime, at: datetime,
                     error: str) -> None:
    """Jobs left queued or running by a process that died (no heartbeat since ``before``) fail."""
    await conn.execute(update(export_jobs).where(
        _owned(tenant, user_id), export_jobs.c.state.in_(("queued", "running")), export_jobs.c.heartbeat_at < before,
    ).values(state="failed", finished_at=at, error=error))


async def delete_expired(conn: AsyncConnection, now: datetime) -> None:
    """Expired jobs and their files, every tenant's (an expiry is the same for all)."""
    gone = select(export_jobs.c.id).where(export_jobs.c.expires_at < now)
    await conn.execute(delete(export_files).where(export_files.c.job_id.in_(gone)))
    await conn.execute(delete(export_jobs).where(export_jobs.c.expires_at < now))


async def add_chunk(conn: AsyncConnection, job_id: uuid.UUID, seq: int, data: bytes) -> None:
    await conn.execute(insert(export_files), {"job_id": job_id, "seq": seq, "data": data})


async def delete_chunks(conn: AsyncConnection, job_id: uuid.UUID) -> None:
    await conn.execute(delete(export_files).where(export_files.c.job_id == job_id))


async def chunk_count(conn: AsyncConnection, job_id: uuid.UUID) -> int:
    return int((await conn.execute(select(func.count()).select_from(export_files)
                                   .where(export_files.c.job_id == job_id))).scalar_one())


async def chunk(conn: AsyncConnection, job_id: uuid.UUID, seq: int) -> bytes | None:
    data = (await conn.execute(select(export_files.c.data).where(export_files.c.job_id == job_id,
                                                                 export_files.c.seq == seq))).scalar()
    return bytes(data) if data is not None else None


# -- audit trail ----------------------------------------------------------------------------------
async def insert_audit(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(audit_log), row)


async def audit_page(conn: AsyncConnection, tenant: str, action: str | None, after: list[Any] | None,
                     limit: int) -> list[Any]:
    """The tenant's lines, newest first (at, id descending); ``limit`` rows."""
    q = select(audit_log).where(audit_log.c.tenant == tenant)
    if action is not None:
        q = q.where(audit_log.c.action == action)
    if after:
        q = q.where(tuple_(audit_log.c.at, audit_log.c.id)
                    < tuple_(literal(after[0], audit_log.c.at.type), literal(after[1], audit_log.c.id.type)))
    q = q.order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
    return list((await conn.execute(q)).all())
