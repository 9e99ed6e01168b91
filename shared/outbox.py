"""Transactional outbox: tables and the relay.

A state change and the event row describing it are written in one transaction
(``Tx.emit``). The relay claims pending rows (``FOR UPDATE SKIP LOCKED``, so replicas of a
service never publish the same row at once), publishes them with publisher confirms, marks them
published and commits. If the broker is down, the claim rolls back and the rows wait; a crash
after publishing but before the commit republishes them, and consumers' inboxes drop the copy.

The relay sleeps until a local transaction emits events (``wake``), with a slow poll as a
safety net for rows written by other processes."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Column, MetaData, String, Table, Text, Uuid, delete, select, update

from shared.db import Database, UTCDateTime, utcnow
from shared.messaging.bus import Bus, OutgoingMessage
from shared.migrations import big_id

if TYPE_CHECKING:
    from shared.tracing import ServiceTracing

log = logging.getLogger("atiende.outbox")


def messaging_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The outbox and inbox tables of one service (created by ``create_messaging_tables``)."""
    outbox = Table(
        "outbox", metadata,
        Column("id", big_id(), primary_key=True, autoincrement=True),
        Column("event_id", Uuid(), nullable=False, unique=True),
        Column("type", String(120), nullable=False),
        Column("body", Text(), nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("published_at", UTCDateTime(), nullable=True),
    )
    inbox = Table(
        "inbox", metadata,
        Column("event_id", Uuid(), primary_key=True),
        Column("type", String(120), nullable=False),
        Column("handled_at", UTCDateTime(), nullable=False),
    )
    return outbox, inbox


class OutboxRelay:
    def __init__(self, db: Database, bus: Bus, *, batch: int = 200, idle_poll_s: float = 1.0,
                 keep_published: timedelta = timedelta(days=1)) -> None:
        self.db = db
        self.bus = bus
        self.batch = batch
        self.idle_poll_s = idle_poll_s
        self.keep_published = keep_published
        self._wake = asyncio.Event()
        self._stopping = False
        self.published = 0
        self.last_error: str | None = None
        self.tracing: ServiceTracing | None = None  # set by the runtime when tracing is on
        db.on_events_committed(self.wake)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the batch in flight (so it is marked published), then return from ``run``."""
        self._stopping = True
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many were published."""
        ob = self.db.outbox
        async with self.db.background_engine.begin() as conn:
            # Claimed and marked in one statement (the mark commits only once the broker confirmed
            # them all: a failed publish rolls it back); published in id order.
            claim = (select(ob.c.id).where(ob.c.published_at.is_(None)).order_by(ob.c.id).limit(self.batch)
                     .with_for_update(skip_locked=True))
            rows = sorted((await conn.execute(
                update(ob).where(ob.c.id.in_(claim.scalar_subquery())).values(published_at=utcnow())
                .returning(ob.c.id, ob.c.event_id, ob.c.type, ob.c.body))).all(), key=lambda r: r.id)
            if not rows:
                return 0
            messages = [OutgoingMessage(r.event_id, r.type, r.body.encode()) for r in rows]
            if self.tracing is None:
                await self.bus.publish(messages)
            else:  # each under a producer span in its event's trace (shared/tracing.py)
                with self.tracing.publishing(messages, self.bus) as traced:
                    await self.bus.publish(traced)
        self.published += len(rows)
        return len(rows)

    async def purge_published(self) -> None:
        ob = self.db.outbox
        async with self.db.background_engine.begin() as conn:
            await conn.execute(delete(ob).where(ob.c.published_at < utcnow() - self.keep_published))

    async def run(self) -> None:
        backoff = 0.2
        next_purge = time.monotonic() + 60.0
        while not self._stopping:
            # Cleared before looking, so a wake-up during the query is not lost.
            self._wake.clear()
            try:
                n = await self.publish_pending()
                self.last_error = None
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or DB down: rows stay pending, try again later
                self.last_error = repr(exc)
                if self._stopping:
                    return
                log.warning("outbox relay could not publish, retrying in %.1fs: %r", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if n >= self.batch:
                continue  # a full batch: more may be waiting, look again at once
            # A short batch took everything committed when we looked; a commit since then has
            # set the wake-up again (it was cleared before the query), so no empty round trip.
            if time.monotonic() >= next_purge:  # published rows kept a while for ops, then dropped
                next_purge = time.monotonic() + 600.0
                await self.purge_published()
            try:
                await asyncio.wait_for(self._wake.wait(), self.idle_poll_s)
            except TimeoutError:
                pass
