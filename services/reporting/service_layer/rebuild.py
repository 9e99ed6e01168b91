"""Rebuild reporting's read models from its event log (``atiende reporting rebuild``).

The log keeps every event reporting applied, in the order it applied them (``position``:
each case's events in its version order, a case's facts after its case.created). A rebuild
empties the read models (``handlers.READ_MODELS``) and replays the log in that order, in
batches of one transaction each, through the same functions the live handlers run
(``handlers.PROJECTIONS``): the tables come out as the live consumers left them. The event log,
``subject_progress``, the inbox and the token copies are not touched.

Run it with reporting's consumers stopped: an event applied live during a rebuild would be
applied again when the replay reaches it in the log."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, func, select

from services.reporting.adapters.event_log import event_log
from services.reporting.handlers import PROJECTIONS, READ_MODELS
from shared.contracts.envelope import Envelope
from shared.db import Database
from shared.messaging.bus import NotYet

Progress = Callable[[int, int], None]  # (events done, total)


class RebuildFailed(RuntimeError):
    """The log could not be replayed (an event whose prerequisite is not in the log)."""


def envelope_of(row: object) -> Envelope:
    """The logged event as it was received."""
    r = row
    return Envelope(id=r.event_id, source=r.source, type=r.type, subject=r.subject,  # type: ignore[attr-defined]
                    time=r.at, tenant=r.tenant, correlationid=r.correlationid,  # type: ignore[attr-defined]
                    causationid=r.causationid, sequence=r.sequence, data=r.data)  # type: ignore[attr-defined]


async def rebuild(db: Database, *, batch: int = 500, progress: Progress | None = None) -> int:
    """Empty the read models and replay the whole log; returns the number of events replayed."""
    async with db.transaction() as tx:
        total = int((await tx.conn.execute(select(func.count()).select_from(event_log))).scalar_one())
        for table in READ_MODELS:
            await tx.conn.execute(delete(table))
    if progress:
        progress(0, total)
    done, after = 0, 0
    while True:
        async with db.transaction() as tx:
            rows = (await tx.conn.execute(select(event_log).where(event_log.c.position > after)
                                          .order_by(event_log.c.position).limit(batch))).all()
            for row in rows:
                project = PROJECTIONS.get(row.type)
                if project is None:  # a type reporting no longer folds: nothing to replay
                    continue
                try:
                    await project(tx, envelope_of(row))
                except NotYet as exc:
                    raise RebuildFailed(f"event #{row.position} ({row.type} {row.event_id}): {exc}") from exc
        if not rows:
            return done
        done += len(rows)
        after = rows[-1].position
        if progress:
            progress(done, max(total, done))
