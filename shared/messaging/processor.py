"""The consuming side of a service: inbox deduplication around its event handlers.

A plain handler runs inside one transaction that first inserts the event id into the inbox
(``ON CONFLICT DO NOTHING RETURNING``): a duplicate (redelivery, or the relay publishing twice)
is not returned and is dropped, and a concurrent duplicate on another replica waits on that key
and is dropped when the first commits.
The handler's effects and any events it emits commit together with the inbox row; the bus acks
only after that commit.

A handler with an outside effect that cannot roll back (sending an e-mail) declares
``after_commit`` (or ``after_commit_batch``): ``handle`` records what is to be done (idempotently, e.g. one delivery row per
recipient) and commits; ``after_commit(env, mark_handled)`` does it, guarding each effect with
its own state, and calls ``mark_handled(tx)`` in its last transaction to write the inbox row. A
failure in either raises, and the bus retries the whole message.

A ``NotYet`` error (an event about a case whose ``case.created`` is still being handled next door)
is first retried a few times in place, within a second, so that ordinary reordering between
queues does not cost a trip through a retry queue.

Under load the bus hands over several messages at once (``handle_batch``): the plain handlers of
the whole batch run in one transaction (one inbox INSERT, one commit), and two-phase handlers
record theirs together and may do their outside effects together (``after_commit_batch``). Any
failure rolls the batch back and the bus falls back to one message at a time, where the inbox
drops whatever the batch had already completed: a batch changes how often we commit, never
what is done or how often. One message is simply a batch of one.

With a ``progress`` table the processor also applies each subject's numbered events in order
(``ordering.py``): a stale one is acked without effect, a gap waits (``OutOfOrder``, a
``NotYet``); a service consuming any of intake's case events is subscribed to all of them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite

from shared import metrics
from shared.contracts.envelope import Envelope
from shared.contracts.events import parse_data
from shared.db import Database, Tx, insert_many_ignoring_duplicates, utcnow
from shared.messaging import ordering
from shared.messaging.bus import NotYet

log = logging.getLogger("atiende.processor")

TxHandler = Callable[[Tx, Envelope], Awaitable[None]]


MarkHandled = Callable[[Tx], Awaitable[None]]
MarkManyHandled = Callable[[Tx, list[Envelope]], Awaitable[None]]


@dataclass(frozen=True)
class Handler:
    handle: TxHandler
    after_commit: Callable[[Envelope, MarkHandled], Awaitable[None]] | None = None
    # Optional: the outside effects of several events at once (e.g. one claim for all their
    # e-mails); must mark each event it completed with the given ``MarkManyHandled``.
    after_commit_batch: Callable[[list[Envelope], MarkManyHandled], Awaitable[None]] | None = None
    # Optional: whether the event asks anything of this handler (a pure test of the envelope). An
    # unnumbered event it does not apply to is acked with no transaction and no inbox row: doing
    # nothing twice is still nothing (e.g. intake's history keeps only escalations' notification.sent).
    applies: Callable[[Envelope], bool] | None = None


QUICK_RETRY_DELAYS_S = (0.05, 0.2, 0.5)


async def only_progress(tx: Tx, env: Envelope) -> None:
    """A numbered event this service does not act on: it only moves the subject's progress."""


class EventProcessor:
    counts_metrics = True  # the bus counts this consumer's failures (shared/metrics.py)

    def __init__(self, service: str, db: Database, inbox: Table, handlers: dict[str, Handler | TxHandler],
                 *, progress: Table | None = None) -> None:
        self.service = service
        self.db = db
        self.inbox = inbox
        self.progress = progress
        self.handlers = {k: v if isinstance(v, Handler) else Handler(v) for k, v in handlers.items()}
        if progress is not None and ordering.CASE_EVENTS & set(self.handlers):
            for t in ordering.CASE_EVENTS - set(self.handlers):
                self.handlers[t] = Handler(only_progress)
        self.handled = 0
        self.duplicates = 0
        self.stale = 0  # numbered events skipped as older than what was applied
        self._claim: Any = None  # the inbox INSERT (``_claim_inbox``), built on first use

    @property
    def event_types(self) -> list[str]:
        return sorted(self.handlers)

    def _nothing_to_do(self, env: Envelope) -> bool:
        applies = self.handlers[env.type].applies
        return applies is not None and not ordering.is_ordered(env) and not applies(env)

    def _two_phase_handler(self, env: Envelope) -> bool:
        h = self.handlers[env.type]
        return h.after_commit is not None or h.after_commit_batch is not None

    async def __call__(self, env: Envelope) -> None:
        """One message (the bus's ordinary path): the batch path with a batch of one, after a
        few quick in-place retries for ``NotYet``."""
        if env.type not in self.handlers:
            return  # not ours (a binding left from an older version): ack and move on
        parse_data(env.type, env.data)  # contract check: a bad payload is permanent (ValueError)
        started = time.perf_counter()
        if self._nothing_to_do(env):
            self.handled += 1
            metrics.events_handled(self.service, [env], time.perf_counter() - started)
            return
        for delay in (*QUICK_RETRY_DELAYS_S, None):
            try:
                if self._two_phase_handler(env):
                    await self._two_phase([env])
                else:
                    await self._atomic([env])
                metrics.events_handled(self.service, [env], time.perf_counter() - started)
                return
            except NotYet:
                if delay is None:
                    raise
                await asyncio.sleep(delay)

    async def handle_batch(self, envs: list[Envelope]) -> None:
        """Handle messages the bus delivered together; raises if any failed (the bus then
        retries them one by one, and the inbox skips those this call completed)."""
        mine: list[Envelope] = []
        ids: set = set()
        for env in envs:
            if env.type in self.handlers and env.id not in ids:  # a copy in the same batch: once
                parse_data(env.type, env.data)
                ids.add(env.id)
                mine.append(env)
        mine = ordering.in_subject_order(mine)
        started = time.perf_counter()
        todo = [e for e in mine if not self._nothing_to_do(e)]
        self.handled += len(mine) - len(todo)
        atomic = [e for e in todo if not self._two_phase_handler(e)]
        two_phase = [e for e in todo if self._two_phase_handler(e)]
        if atomic:
            await self._atomic(atomic)
        if two_phase:
            await self._two_phase(two_phase)
        metrics.events_handled(self.service, mine, time.perf_counter() - started)

    async def _atomic(self, envs: list[Envelope]) -> None:
        async with self.db.transaction() as tx:
            fresh = await self._claim_inbox(tx, envs)
            for env in envs:
                if env.id in fresh and await self._in_order(tx, env):
                    await self.handlers[env.type].handle(tx, env)
        self._count(envs, len(fresh))

    async def _in_order(self, tx: Tx, env: Envelope) -> bool:
        """Whether to apply ``env`` now (ordering, in this transaction); raises on a gap."""
        if self.progress is None:
            return True
        if await ordering.claim(tx, self.progress, env) is ordering.Verdict.STALE:
            self.stale += 1
            log.info("stale event skipped (#%s of %s already applied)", env.sequence, env.subject,
                     extra={"event_type": env.type, "event_id": str(env.id)})
            return False
        return True

    def _count(self, envs: list[Envelope], handled: int) -> None:
        self.handled += handled
        if handled < len(envs):
            self.duplicates += len(envs) - handled
            log.info("%d duplicate event(s) dropped", len(envs) - handled,
                     extra={"event_type": envs[0].type if len(envs) == 1 else None})

    async def _claim_inbox(self, tx: Tx, envs: list[Envelope]) -> set:
        """One INSERT … ON CONFLICT DO NOTHING RETURNING for the batch: the ids it returns are new
        (a replica handling the same id concurrently makes this wait, then skip it)."""
        if self._claim is None:  # built once (its construction cost ~0.1 ms per batch)
            ins = (postgresql.insert if tx.conn.dialect.name == "postgresql" else sqlite.insert)(self.inbox)
            self._claim = ins.on_conflict_do_nothing().returning(self.inbox.c.event_id)
        now = utcnow()
        # Rows as parameters (SQLAlchemy batches them into multi-row VALUES; compiled once).
        res = await tx.conn.execute(self._claim, [{"event_id": e.id, "type": e.type, "handled_at": now}
                                                  for e in envs])
        return set(res.scalars().all())

    async def _two_phase(self, envs: list[Envelope]) -> None:
        async with self.db.read() as conn:
            seen = set((await conn.execute(select(self.inbox.c.event_id)
                                           .where(self.inbox.c.event_id.in_([e.id for e in envs])))).scalars())
        todo = [e for e in envs if e.id not in seen]
        if not todo:
            self._count(envs, 0)
            return
        async with self.db.transaction() as tx:
            for env in todo:
                # A stale one records nothing new; its outside effects still run below (a retry
                # of an event whose record committed but whose e-mails did not all go out).
                if await self._in_order(tx, env):
                    await self.handlers[env.type].handle(tx, env)
        marked: set = set()

        async def mark_many(tx: Tx, done: list[Envelope]) -> None:
            now = utcnow()
            await insert_many_ignoring_duplicates(tx.conn, self.inbox, [
                {"event_id": env.id, "type": env.type, "handled_at": now} for env in done])
            marked.update(env.id for env in done)

        def mark_one(env: Envelope) -> MarkHandled:
            async def mark(tx: Tx) -> None:
                await mark_many(tx, [env])
            return mark

        groups: dict[Any, list[Envelope]] = {}
        for env in todo:
            h = self.handlers[env.type]
            groups.setdefault(h.after_commit_batch or h.after_commit, []).append(env)
        calls = []
        for fn, group in groups.items():
            if self.handlers[group[0].type].after_commit_batch is not None:
                calls.append(fn(group, mark_many))
            else:
                calls.extend([fn(env, mark_one(env)) for env in group])
        results = await asyncio.gather(*calls, return_exceptions=True)
        unmarked = [e for e in todo if e.id not in marked]
        failed = [r for r in results if isinstance(r, BaseException)]
        if unmarked and not failed:  # nothing was left to do for these: record them on their own
            async with self.db.transaction() as tx:
                await mark_many(tx, unmarked)
        self.handled += len(marked)
        self.duplicates += len(envs) - len(todo)
        if failed:
            raise failed[0]


