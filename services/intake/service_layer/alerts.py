"""What people see of time (issue 10): their alerts (R4.8, R2.3, R2.4), which of them they
have seen, and a case's clocks as workflow last published them. Reads, and one write
(marking alerts seen, for the caller only). Who sees which alert: ``domain/timing.py``.

``watch_unread`` feeds GET /alerts/stream (R4.8 pushed): the caller's unread count as it changes.
Alerts reach intake as workflow's events, handled by whichever intake replica consumes them; so
that every replica's streams hear of them, each open stream re-reads the caller's unread count
on intake's own table every ``WATCH_EVERY_S`` (one indexed count) and tells the browser only when
it changed — the browser itself polls nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from services.intake.adapters import time_tables
from services.intake.domain.access import CaseAction, Principal
from services.intake.service_layer.cases import visible_case
from shared.db import Database, utcnow
from shared.refusals import Refused, forbidden

WATCH_EVERY_S = 3.0  # how soon an open stream hears of a raised, ended or seen alert
HEARTBEAT_S = 25.0  # a quiet stream says it is alive (and checks the caller's session) this often

PEOPLE_ONLY = ("Las alertas son para personas: use un usuario, no una clave de API.",
               "Alerts are for people: use a user, not an API key.")


def _person(who: Principal) -> None:
    if who.user_id is None:
        raise forbidden(PEOPLE_ONLY)


async def alerts(db: Database, who: Principal, after: list[Any] | None, limit: int) -> list[Any]:
    """One page (``limit + 1`` rows) of the caller's open alerts, most overdue first."""
    _person(who)
    async with db.read() as conn:
        return await time_tables.alert_page(conn, who, after, limit + 1)


async def unread(db: Database, who: Principal) -> int:
    _person(who)
    async with db.read() as conn:
        return await time_tables.unread_count(conn, who)


async def watch_unread(db: Database, who: Principal, recheck: Callable[[], Awaitable[Any]],
                       every_s: float | None = None) -> tuple[int, AsyncIterator[tuple[str, int]]]:
    """The caller's unread count now (refused at once for an API key), and the stream of what
    follows: ``("alert", n)`` whenever it changes, ``("heartbeat", n)`` when quiet, and a last
    ``("end", n)`` once ``recheck`` (the caller's session) is refused — logged out or deactivated."""
    first = await unread(db, who)

    async def follow() -> AsyncIterator[tuple[str, int]]:
        last, quiet = first, 0.0
        step = every_s or WATCH_EVERY_S
        while True:
            await asyncio.sleep(step)
            now = await unread(db, who)
            if now != last:
                last, quiet = now, 0.0
                yield "alert", now
                continue
            quiet += step
            if quiet >= HEARTBEAT_S:
                quiet = 0.0
                try:
                    await recheck()
                except Refused:
                    yield "end", last
                    return
                yield "heartbeat", last

    return first, follow()


async def mark_seen(db: Database, who: Principal, alert_ids: list[uuid.UUID] | None) -> tuple[int, int]:
    """Marks the named (or all) open alerts visible to the caller as seen by the caller; returns
    (how many were marked, how many are still unread)."""
    _person(who)
    async with db.transaction() as tx:
        marked = await time_tables.mark_seen(tx.conn, who, alert_ids, utcnow())
    return marked, await unread(db, who)


async def case_sla(db: Database, who: Principal, case_id: uuid.UUID) -> tuple[Any, Any | None]:
    """The case (if the caller may see it, as GET /cases/{id}) and its stored clocks row."""
    case = await visible_case(db, who, case_id, CaseAction.READ)
    return case, await clocks_of(db, case.id)


async def clocks_of(db: Database, case_id: uuid.UUID) -> Any | None:
    async with db.read() as conn:
        return await time_tables.clocks_of(conn, case_id)
