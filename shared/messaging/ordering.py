"""Events in order: each consumer applies a subject's events in the order its source numbered them.

A source numbers the events about one subject 1, 2, 3… without gaps (``Envelope.sequence``;
intake numbers a case's events with the case's version, ``case.created.v1`` = 1). A consumer
keeps, per (source, subject), the last sequence it applied (``subject_progress``), read
``FOR UPDATE`` in the same transaction as the handler's effects:

    sequence <= last        stale or repeated: nothing is applied, the message is acked
    sequence == last + 1    applied, and ``last`` moves to it in the same commit
    sequence >  last + 1    a gap: ``OutOfOrder`` (a ``NotYet``) rolls the transaction back; the
                            processor retries it in place for a moment, then the bus's retry
                            queues do, then it is dead-lettered (a gap never filled is never
                            applied silently)

A subject with no row yet starts at 0 (its first event is 1). Events without a sequence are
not ordered. Exact gap detection needs every numbered event of a subject: a service that
consumes any of intake's case events is subscribed to all of them (``CASE_EVENTS``) by the
processor, and the ones it does not act on only move its progress.

Batches: the processor sorts a batch's events of one subject by sequence (they keep the batch
positions of that subject), so ``v2, v1`` in one batch applies both; a gap fails the batch and
the bus handles its messages one by one, where only the gapped one waits."""

from __future__ import annotations

import enum
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy import BigInteger, Column, MetaData, String, Table, bindparam, select, update

from shared.contracts.envelope import Envelope
from shared.db import Tx, UTCDateTime, insert_ignoring_duplicates, utcnow
from shared.messaging.bus import NotYet

# Every event type intake numbers with the case's version (subject = the case id). A consumer of
# any of them receives all of them (see ``EventProcessor``), so a gap is a gap and not a type it
# does not subscribe to. A new case event type intake numbers must be added here
# (tests/test_event_routing.py checks the contracts that carry a case id).
CASE_EVENTS: frozenset[str] = frozenset({
    "case.created.v1", "case.executed.v1", "case.paused.v1", "case.resumed.v1", "case.finished.v1",
    "case.reopened.v1", "case.commented.v1", "case.mail_requested.v1", "case.priority_changed.v1",
    "case.assigned.v1", "case.reclassified.v1", "case.triage_escalated.v1",
    "case.retention_offer_recorded.v1", "case.desistance_registered.v1",
})


class OutOfOrder(NotYet):
    """An earlier event of the same subject has not been applied yet (a gap): retried."""


class Verdict(enum.Enum):
    APPLY = "apply"
    STALE = "stale"
    GAP = "gap"


def verdict(last: int, sequence: int) -> Verdict:
    """The ordering rule (pure): what to do with event ``sequence`` when ``last`` was applied."""
    if sequence <= last:
        return Verdict.STALE
    if sequence == last + 1:
        return Verdict.APPLY
    return Verdict.GAP


def progress_table(metadata: MetaData) -> Table:
    """The ``subject_progress`` table of one service (created by ``create_progress_table``)."""
    return Table(
        "subject_progress", metadata,
        Column("source", String(80), primary_key=True),
        Column("subject", String(120), primary_key=True),
        Column("last_sequence", BigInteger(), nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    )


def create_progress_table(schema: str) -> None:
    """Migration helper: the table ``progress_table`` describes."""
    op.create_table(
        "subject_progress",
        sa.Column("source", sa.String(80), primary_key=True),
        sa.Column("subject", sa.String(120), primary_key=True),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=schema,
    )


def is_ordered(env: Envelope) -> bool:
    return env.sequence is not None and env.subject is not None


async def last_applied(tx: Tx, progress: Table, source: str, subject: str) -> int:
    """The last sequence applied for (source, subject), 0 if none (locked until the commit)."""
    p = progress.c
    row = (await tx.conn.execute(select(p.last_sequence).where(p.source == source, p.subject == subject)
                                 .with_for_update())).first()
    return 0 if row is None else int(row.last_sequence)


async def claim(tx: Tx, progress: Table, env: Envelope) -> Verdict:
    """Inside the handler's transaction: decide on ``env`` and, when it is to be applied, move
    the subject's progress to it (committed with the handler's effects). Raises ``OutOfOrder``
    on a gap. Unordered events (no sequence) are always applied.

    The usual case is one statement: the first event inserts the subject's row, the next one
    moves it only if it stands at ``sequence - 1`` (the UPDATE locks the row until the commit,
    and a concurrent replica's UPDATE re-checks the condition after waiting, so the same event
    is never applied twice). Only when that changes nothing is the row read, to tell a stale
    event from a gap."""
    if not is_ordered(env):
        return Verdict.APPLY
    assert env.sequence is not None and env.subject is not None
    now = utcnow()
    if env.sequence == 1:
        if await insert_ignoring_duplicates(tx.conn, progress, {
                "source": env.source, "subject": env.subject, "last_sequence": 1, "updated_at": now}):
            return Verdict.APPLY
    else:
        moved = await tx.conn.execute(_advance(progress), {"b_source": env.source, "b_subject": env.subject,
                                                           "b_last": env.sequence - 1, "b_next": env.sequence,
                                                           "b_now": now})
        if moved.rowcount:
            return Verdict.APPLY
    last = await last_applied(tx, progress, env.source, env.subject)
    v = verdict(last, env.sequence)
    if v is Verdict.APPLY:  # the row changed between the two statements (another replica): look again
        raise OutOfOrder(f"{env.subject}: progress moved concurrently")
    if v is Verdict.GAP:
        raise OutOfOrder(f"{env.type} #{env.sequence} of {env.subject} waits for #{last + 1}")
    return v


_ADVANCE: dict[Table, Any] = {}


def _advance(progress: Table) -> Any:
    """``UPDATE … SET last_sequence = :next WHERE (source, subject, last_sequence) = (…, :last)``,
    built once per table (it runs for every numbered event a service handles)."""
    stmt = _ADVANCE.get(progress)
    if stmt is None:
        p = progress.c
        stmt = _ADVANCE[progress] = update(progress).where(
            p.source == bindparam("b_source"), p.subject == bindparam("b_subject"),
            p.last_sequence == bindparam("b_last")).values(last_sequence=bindparam("b_next"),
                                                           updated_at=bindparam("b_now"))
    return stmt


def in_subject_order(envs: list[Envelope]) -> list[Envelope]:
    """The batch with each subject's ordered events sorted by sequence, in the positions that
    subject's events had (other events stay where they were)."""
    slots: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, env in enumerate(envs):
        if is_ordered(env):
            slots[(env.source, env.subject or "")].append(i)
    out = list(envs)
    for positions in slots.values():
        for pos, env in zip(positions, sorted((envs[i] for i in positions), key=lambda e: e.sequence or 0),
                            strict=True):
            out[pos] = env
    return out
