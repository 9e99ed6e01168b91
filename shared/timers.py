"""Durable timers: the mechanism behind every deadline ("overdue at", "wait 10 business days").

A timer is a row with an absolute due time, written in the same transaction as the change that
sets it. A poller on every replica claims due rows (``FOR UPDATE SKIP LOCKED``) and, in one
transaction, marks them fired and lets the owner emit the event into its outbox. The query walks
a partial index on pending timers by due time, so the work per tick grows with what is due,
not with how many timers are open."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Column, Index, MetaData, String, Table, and_, insert, select, update

from shared import metrics
from shared.db import Database, JsonType, Tx, UTCDateTime, utcnow
from shared.migrations import big_id

log = logging.getLogger("atiende.timers")

_PENDING = "fired_at IS NULL AND cancelled_at IS NULL"


def timer_table(metadata: MetaData) -> Table:
    t = Table(
        "timers", metadata,
        Column("id", big_id(), primary_key=True, autoincrement=True),
        Column("kind", String(80), nullable=False),
        Column("tenant", String(80), nullable=False),
        Column("subject", String(80), nullable=False),
        Column("due_at", UTCDateTime(), nullable=False),
        Column("payload", JsonType, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("fired_at", UTCDateTime(), nullable=True),
        Column("cancelled_at", UTCDateTime(), nullable=True),
    )
    Index("timers_pending_due", t.c.due_at, postgresql_where=sa.text(_PENDING), sqlite_where=sa.text(_PENDING))
    Index("timers_subject", t.c.subject, t.c.kind)
    return t


def create_timer_table(schema: str) -> None:
    """Migration helper: the table ``timer_table`` describes, with its indexes."""
    op.create_table(
        "timers",
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(80), nullable=False),
        sa.Column("tenant", sa.String(80), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("payload", JsonType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        schema=schema,
    )
    op.create_index("timers_pending_due", "timers", ["due_at"], schema=schema,
                    postgresql_where=sa.text(_PENDING), sqlite_where=sa.text(_PENDING))
    op.create_index("timers_subject", "timers", ["subject", "kind"], schema=schema)


async def schedule(tx: Tx, timers: Table, *, kind: str, tenant: str, subject: str, due_at: datetime,
                   payload: dict[str, Any], first: bool = False) -> None:
    """Set (or move) the ``kind`` timer of ``subject``: any pending one is cancelled first
    (``first=True`` skips that statement when the subject cannot have one yet, e.g. a new case)."""
    if not first:
        await cancel(tx, timers, kind=kind, subject=subject)
    await tx.conn.execute(insert(timers), {"kind": kind, "tenant": tenant, "subject": subject, "due_at": due_at,
                                           "payload": payload, "created_at": utcnow()})


async def reschedule(tx: Tx, timers: Table, *, kind: str, tenant: str, subject: str, due_at: datetime,
                     payload: dict[str, Any]) -> None:
    """Move the ``kind`` timer of ``subject`` to ``due_at`` in place (pending again), or create it:
    a clock keeps one timer row for its whole life, however often it is re-targeted."""
    t = timers
    moved = await tx.conn.execute(update(t).where(t.c.subject == subject, t.c.kind == kind).values(
        due_at=due_at, payload=payload, fired_at=None, cancelled_at=None))
    if moved.rowcount == 0:
        await tx.conn.execute(insert(t), {"kind": kind, "tenant": tenant, "subject": subject, "due_at": due_at,
                                          "payload": payload, "created_at": utcnow()})


async def cancel(tx: Tx, timers: Table, *, kind: str, subject: str) -> None:
    await tx.conn.execute(update(timers).where(
        timers.c.subject == subject, timers.c.kind == kind, timers.c.fired_at.is_(None),
        timers.c.cancelled_at.is_(None)).values(cancelled_at=utcnow()))


FireFn = Callable[[Tx, Any], Awaitable[None]]


class TimerPoller:
    def __init__(self, db: Database, timers: Table, fire: dict[str, FireFn], *, tick_s: float = 1.0,
                 batch: int = 500) -> None:
        self.db = db
        self.timers = timers
        self.fire = fire
        self.tick_s = tick_s
        self.batch = batch
        self.fired = 0

    async def fire_due(self, now: datetime | None = None) -> int:
        """Fire one batch of due timers; returns how many fired."""
        t = self.timers
        now = now or utcnow()
        async with self.db.transaction() as tx:
            rows = (await tx.conn.execute(
                select(t).where(and_(t.c.fired_at.is_(None), t.c.cancelled_at.is_(None), t.c.due_at <= now))
                .order_by(t.c.due_at).limit(self.batch).with_for_update(skip_locked=True))).all()
            fired_ids = [r.id for r in rows if r.kind in self.fire]
            # Marked fired before the owners run, so that an owner may move its timer in place
            # (``reschedule``) for its next step within the same transaction.
            if fired_ids:
                await tx.conn.execute(update(t).where(t.c.id.in_(fired_ids)).values(fired_at=now))
            for row in rows:
                fn = self.fire.get(row.kind)
                if fn is None:
                    log.error("no handler for timer kind %s; left pending", row.kind)
                    continue
                await fn(tx, row)
        for row in rows:
            if row.kind in self.fire:
                metrics.timer_fired(self.db.schema, row.kind, (now - row.due_at).total_seconds())
        self.fired += len(fired_ids)
        return len(fired_ids)

    def due_probe(self) -> metrics.Probe:
        """``atiende_timers_due`` at scrape time: one count on the partial index of pending timers."""
        t = self.timers
        return metrics.gauge_probe(self.db.schema, self.db, metrics.timers_due, lambda: select(sa.func.count()).where(
            t.c.fired_at.is_(None), t.c.cancelled_at.is_(None), t.c.due_at <= utcnow()))

    async def run(self) -> None:
        while True:
            try:
                n = await self.fire_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timer tick failed")
                n = 0
            if n < self.batch:
                await asyncio.sleep(self.tick_s)
