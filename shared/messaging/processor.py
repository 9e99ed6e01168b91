"""The consuming side of a service: inbox deduplication around its event handlers.

A plain handler runs inside one transaction that first inserts the event id into the inbox: a
duplicate (redelivery, or the relay publishing twice) hits the primary key and is dropped, and a
concurrent duplicate on another replica waits on that key and is dropped when the first commits.
The handler's effects and any events it emits commit together with the inbox row; the bus acks
only after that commit.

A handler with an outside effect that cannot roll back (sending an e-mail) declares
``after_commit``: ``handle`` records what is to be done (idempotently, e.g. one delivery row per
recipient) and commits; ``after_commit(env, mark_handled)`` does it, guarding each effect with
its own state, and calls ``mark_handled(tx)`` in its last transaction to write the inbox row. A
failure in either raises, and the bus retries the whole message.

A ``NotYet`` error (an event about a case whose ``case.created`` is still being handled next door) is first retried a few times in place, within a second, so that ordinary
reordering between queues does not cost a trip through a retry queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import Table, exists, insert, select
from sqlalchemy.exc import IntegrityError

from shared.contracts.envelope import Envelope
from shared.contracts.events import parse_data
from shared.db import Database, Tx, insert_ignoring_duplicates, utcnow
from shared.messaging.bus import NotYet

log = logging.getLogger("atiende.processor")

TxHandler = Callable[[Tx, Envelope], Awaitable[None]]


MarkHandled = Callable[[Tx], Awaitable[None]]


@dataclass(frozen=True)
class Handler:
    handle: TxHandler
    after_commit: Callable[[Envelope, MarkHandled], Awaitable[None]] | None = None


QUICK_RETRY_DELAYS_S = (0.05, 0.2, 0.5)


class EventProcessor:
    def __init__(self, service: str, db: Database, inbox: Table, handlers: dict[str, Handler | TxHandler]) -> None:
        self.service = service
        self.db = db
        self.inbox = inbox
        self.handlers = {k: v if isinstance(v, Handler) else Handler(v) for k, v in handlers.items()}
        self.handled = 0
        self.duplicates = 0

    @property
    def event_types(self) -> list[str]:
        return sorted(self.handlers)

    async def __call__(self, env: Envelope) -> None:
        handler = self.handlers.get(env.type)
        if handler is None:
            return  # not ours (a binding left from an older version): ack and move on
        parse_data(env.type, env.data)  # contract check: a bad payload is permanent (ValueError)
        for delay in (*QUICK_RETRY_DELAYS_S, None):
            try:
                if handler.after_commit is None:
                    await self._atomic(handler, env)
                else:
                    await self._two_phase(handler, env)
                return
            except NotYet:
                if delay is None:
                    raise
                await asyncio.sleep(delay)

    async def _atomic(self, handler: Handler, env: Envelope) -> None:
        try:
            async with self.db.transaction() as tx:
                try:
                    await tx.conn.execute(insert(self.inbox), {"event_id": env.id, "type": env.type,
                                                              "handled_at": utcnow()})
                except IntegrityError:
                    raise _Duplicate() from None
                await handler.handle(tx, env)
        except _Duplicate:
            self.duplicates += 1
            log.info("duplicate event dropped", extra={"event_id": str(env.id), "event_type": env.type})
            return
        self.handled += 1

    async def _two_phase(self, handler: Handler, env: Envelope) -> None:
        async with self.db.engine.connect() as conn:
            seen = (await conn.execute(select(exists().where(self.inbox.c.event_id == env.id)))).scalar()
        if seen:
            self.duplicates += 1
            return
        async with self.db.transaction() as tx:
            await handler.handle(tx, env)
        assert handler.after_commit is not None
        marked = False

        async def mark_handled(tx: Tx) -> None:
            nonlocal marked
            await insert_ignoring_duplicates(tx.conn, self.inbox, {"event_id": env.id, "type": env.type,
                                                                  "handled_at": utcnow()})
            marked = True

        await handler.after_commit(env, mark_handled)
        if not marked:  # nothing was left to do: record it on its own
            async with self.db.transaction() as tx:
                await mark_handled(tx)
        self.handled += 1


class _Duplicate(Exception):
    pass
