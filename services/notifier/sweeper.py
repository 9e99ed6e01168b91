"""No delivery left in doubt (issue 11): the sweeper, a runtime worker on every notifier replica.

A delivery is claimed for sending with a lease (``claimed_by`` = the replica id, ``lease_until`` =
now + ``delivery_lease_s``). A delivery still "sending" (or "unknown": an SMS whose answer was
lost) after its lease is IN DOUBT: the process died, or its connection dropped, between the
claim and the result. Every few seconds the sweeper claims such rows (``FOR UPDATE SKIP
LOCKED``, through the partial index on unsettled rows: the work grows with what is in doubt, not
with the ledger) and resolves them by the channel's rule:

- e-mail: re-sent with the same Message-ID (per delivery: a receiver can drop the repeat), then
  "sent" and ``notification.sent.v1``; counted as a resend;
- SMS: looked up at the provider first (``SmsDeliveries.look_up``: by number, body and time); if
  Twilio has it, its sid and state are recorded and nothing is sent; only otherwise it is sent.

It also takes "pending" rows older than the lease whose event is already handled (in the inbox:
no redelivery will send them) or that it backed off itself, so every accepted delivery is
eventually attempted. A failed attempt is retried with back-off (a longer lease each time);
after ``max_attempts`` the delivery is "failed" and ``notification.failed.v1`` is emitted (a
line in the case's history, through intake). "unknown" is only ever a transient state.

Ops: ``GET /deliveries/stats`` (counts, JSON) and ``atiende deliveries unknown`` (the list)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifier.adapters.db import deliveries, inbox
from services.notifier.adapters.sms import SentSms, SmsOutcomeUnknown, SmsRejected
from services.notifier.handlers import SOURCE, lease_expired, mask_number, record_sms_state
from shared import metrics
from shared.contracts.envelope import Envelope
from shared.contracts.events import NotificationFailed, NotificationSent
from shared.db import Database, Tx, utcnow
from shared.messaging.bus import PermanentError
from shared.runtime import ServiceRuntime, runtime_of

if TYPE_CHECKING:
    from services.notifier.handlers import EmailDeliveries, SmsDeliveries

log = logging.getLogger("atiende.notifier.sweeper")

MAX_ATTEMPTS = 8  # claims of one delivery (first send, retries, sweeps) before it is "failed"
MAX_BACKOFF_S = 3600.0
IN_DOUBT_STATES = ("sending", "unknown")


def in_doubt(now: datetime, lease: timedelta) -> Any:
    """Rows the sweeper takes: claims past their lease, and pending rows older than the lease
    that no redelivery will send (their event handled) or that the sweeper backed off."""
    d = deliveries.c
    stale_pending = and_(d.state == "pending", d.created_at < now - lease, or_(
        d.lease_until < now,
        and_(d.lease_until.is_(None), exists(select(inbox.c.event_id).where(inbox.c.event_id == d.event_id)))))
    return or_(and_(d.state.in_(IN_DOUBT_STATES), lease_expired(now, lease)), stale_pending)


def mask_recipient(channel: str, recipient: str) -> str:
    if channel == "sms":
        return mask_number(recipient)
    local, _, domain = recipient.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


class Sweeper:
    def __init__(self, db: Database, emails: EmailDeliveries, sms: SmsDeliveries | None, *, lease: timedelta,
                 replica: str, tick_s: float | None = None, batch: int = 200,
                 max_attempts: int = MAX_ATTEMPTS) -> None:
        self.db = db
        self.emails = emails
        self.sms = sms
        self.lease = lease
        self.replica = replica
        self.tick_s = tick_s if tick_s is not None else min(5.0, max(0.5, lease.total_seconds() / 3))
        self.batch = batch
        self.max_attempts = max_attempts
        # This replica's counters (GET /deliveries/stats).
        self.counts = {"swept": 0, "email_resent": 0, "email_sent_late": 0, "sms_found": 0, "sms_resent": 0,
                       "sms_sent_late": 0, "retried": 0, "failed": 0}

    # -- the worker -------------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            try:
                n = await self.sweep_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery sweep failed")
                n = 0
            if n < self.batch:
                await asyncio.sleep(self.tick_s)

    async def sweep_once(self) -> int:
        """Claim one batch of deliveries in doubt and resolve them; returns how many were taken."""
        d = deliveries.c
        now = utcnow()
        cond = in_doubt(now, self.lease)
        if self.emails.in_flight:  # this process is sending them right now: not in doubt
            cond = and_(cond, d.id.not_in(list(self.emails.in_flight)))
        async with self.db.transaction() as tx:
            rows = (await tx.conn.execute(select(deliveries).where(cond).limit(self.batch)
                                          .with_for_update(skip_locked=True))).all()
            if not rows:
                return 0
            await tx.conn.execute(update(deliveries).where(d.id.in_([r.id for r in rows])).values(
                state="sending", claimed_at=now, claimed_by=self.replica, lease_until=now + self.lease,
                attempts=d.attempts + 1))
        self.counts["swept"] += len(rows)
        log.warning("resolving %d deliver%s in doubt", len(rows), "y" if len(rows) == 1 else "ies")
        for outcome in await asyncio.gather(*(self._resolve(r) for r in rows), return_exceptions=True):
            if isinstance(outcome, Exception):  # its lease expires again: taken on a later sweep
                log.error("resolving a delivery in doubt failed: %r", outcome)
        return len(rows)

    async def _resolve(self, row: Any) -> None:
        try:
            if row.channel == "email":
                await self._email(row)
            elif row.channel == "sms" and self.sms is not None:
                await self._sms(row)
            else:
                await self._attempt_failed(row, RuntimeError(f"no sender for channel {row.channel}"), "pending")
        except Exception as exc:  # the claim's lease will expire again: retried on a later sweep
            log.exception("delivery %s: resolving it failed", row.id)
            await self._attempt_failed(row, exc, row.state if row.state in IN_DOUBT_STATES else "pending")

    async def _email(self, row: Any) -> None:
        self.emails.in_flight.add(row.id)
        try:
            await self.emails.send_row(row)  # same Message-ID as every earlier attempt
        except Exception as exc:
            await self._attempt_failed(row, exc, "pending", permanent=isinstance(exc, PermanentError))
            return
        finally:
            self.emails.in_flight.discard(row.id)
        now = utcnow()
        async with self.db.transaction() as tx:
            if not await self._mine(tx, row, state="sent", sent_at=now, last_error=None):
                return
            await tx.emit(self._event(row, "notification.sent.v1", NotificationSent(
                delivery_id=row.id, case_id=row.case_id, channel="email", template=row.template,
                recipient_role=row.recipient_role, sent_at=now).model_dump(mode="json")))
        metrics.delivery_reached("email", "sent")
        self.counts["email_resent" if row.state in IN_DOUBT_STATES else "email_sent_late"] += 1
        log.info("e-mail delivery %s re-sent (was %s)", row.id, row.state)

    async def _sms(self, row: Any) -> None:
        assert self.sms is not None
        found: SentSms | None = None
        if row.state in IN_DOUBT_STATES:  # the provider may have it: ask before any resend
            found = SentSms(row.provider_sid, "queued") if row.provider_sid else \
                await self.sms.look_up(row, row.created_at)
        if found is not None:
            await self._sms_sent(row, found)
            self.counts["sms_found"] += 1
            log.info("SMS delivery %s found at the provider (%s): not resent", row.id, found.sid)
            return
        try:
            sent = await self.sms.sender.send(row.recipient, self.sms.body(row), self.sms.callback_url(row.id))
        except SmsRejected as exc:
            async with self.db.transaction() as tx:
                if await self._mine(tx, row):
                    await record_sms_state(tx, row, "failed", exc.code, utcnow(), None, str(exc))
            self.counts["failed"] += 1
            return
        except SmsOutcomeUnknown as exc:  # looked up on the next sweep
            await self._attempt_failed(row, exc, "unknown")
            return
        except Exception as exc:  # not taken (429, 5xx, refused)
            await self._attempt_failed(row, exc, "pending")
            return
        await self._sms_sent(row, sent)
        self.counts["sms_resent" if row.state in IN_DOUBT_STATES else "sms_sent_late"] += 1

    async def _sms_sent(self, row: Any, sms: SentSms) -> None:
        now = utcnow()
        async with self.db.transaction() as tx:
            if not await self._mine(tx, row, provider_sid=sms.sid, sent_at=now, last_error=None):
                return
            await record_sms_state(tx, row, sms.status, sms.error_code, now)
            await tx.emit(self._event(row, "notification.sent.v1", NotificationSent(
                delivery_id=row.id, case_id=row.case_id, channel="sms", template=row.template,
                recipient_role=row.recipient_role, sent_at=now).model_dump(mode="json")))

    async def _attempt_failed(self, row: Any, exc: BaseException, state: str, *, permanent: bool = False) -> None:
        """A failed attempt: back to ``state`` with a longer lease (the back-off), or, after
        ``max_attempts`` (or a permanent error), "failed" with ``notification.failed.v1``."""
        attempts = row.attempts + 1  # the sweeper's claim counted one
        error = f"{type(exc).__name__}: {exc}"[:1000]
        now = utcnow()
        async with self.db.transaction() as tx:
            if permanent or attempts >= self.max_attempts:
                if row.channel == "sms":
                    if await self._mine(tx, row):
                        await record_sms_state(tx, row, "failed", None, now, None, f"gave up: {error}"[:1000])
                else:
                    if not await self._mine(tx, row, state="failed", last_error=f"gave up: {error}"[:1000]):
                        return
                    await tx.emit(self._event(row, "notification.failed.v1", NotificationFailed(
                        delivery_id=row.id, case_id=row.case_id, channel="email", template=row.template,
                        recipient_role=row.recipient_role, recipient=row.recipient, state="failed",
                        error=f"gave up after {attempts} attempts: {error}"[:1000], at=now).model_dump(mode="json")))
                    metrics.delivery_reached("email", "failed")
                self.counts["failed"] += 1
                log.error("delivery %s failed after %d attempts: %s", row.id, attempts, error)
                return
            backoff = min(self.lease.total_seconds() * 2 ** min(attempts - 1, 20), MAX_BACKOFF_S)
            await self._mine(tx, row, state=state, last_error=error,
                             lease_until=now + timedelta(seconds=max(backoff, self.lease.total_seconds())))
        self.counts["retried"] += 1
        log.warning("delivery %s: attempt %d failed (%s); next in %.0fs", row.id, attempts, error, backoff)

    async def _mine(self, tx: Tx, row: Any, **values: Any) -> bool:
        """Lock the row; True if this sweep's claim still holds it (then ``values`` are applied)."""
        d = deliveries.c
        cur = (await tx.conn.execute(select(d.state, d.claimed_by).where(d.id == row.id).with_for_update())).first()
        if cur is None or cur.state != "sending" or cur.claimed_by != self.replica:
            return False
        if values:
            await tx.conn.execute(update(deliveries).where(d.id == row.id).values(**values))
        return True

    @staticmethod
    def _event(row: Any, type_: str, data: dict[str, Any]) -> Envelope:
        return Envelope(source=SOURCE, type=type_, subject=str(row.case_id) if row.case_id else None,
                        tenant=row.tenant, data=data)


# -- ops: counts and the list ---------------------------------------------------------------------
async def stats(conn: AsyncConnection, lease: timedelta, now: datetime | None = None) -> dict[str, int]:
    d = deliveries.c
    now = now or utcnow()
    doubt = and_(d.state.in_(IN_DOUBT_STATES), lease_expired(now, lease))
    row = (await conn.execute(select(
        func.count().filter(doubt).label("in_doubt"),
        func.count().filter(d.state == "unknown").label("unknown"),
        func.count().filter(and_(d.state == "sending", ~lease_expired(now, lease))).label("sending"),
        func.count().filter(and_(d.state == "pending", d.created_at < now - lease)).label("pending_stale"),
        func.count().filter(d.state.in_(("failed", "undelivered"))).label("failed"),
    ).where(d.state.in_(("pending", "sending", "unknown", "failed", "undelivered"))))).one()
    return dict(row._mapping)


async def unsettled(conn: AsyncConnection, lease: timedelta, *, tenant: str | None = None, limit: int = 500,
                    now: datetime | None = None) -> list[dict[str, Any]]:
    """Deliveries in doubt (claim past its lease, pending past the lease) or failed, oldest first."""
    d = deliveries.c
    now = now or utcnow()
    cond = or_(and_(d.state.in_(IN_DOUBT_STATES), lease_expired(now, lease)),
               and_(d.state == "pending", d.created_at < now - lease), d.state.in_(("failed", "undelivered")))
    q = select(deliveries).where(cond)
    if tenant:
        q = q.where(d.tenant == tenant)
    rows = (await conn.execute(q.order_by(func.coalesce(d.claimed_at, d.created_at)).limit(limit))).all()
    return [{"id": str(r.id), "tenant": r.tenant, "case_id": str(r.case_id) if r.case_id else None,
             "channel": r.channel, "template": r.template, "recipient": mask_recipient(r.channel, r.recipient),
             "state": r.state, "attempts": r.attempts, "since": (r.claimed_at or r.created_at).isoformat(),
             "last_error": r.last_error} for r in rows]


class DeliveryStats(BaseModel):
    in_doubt: int  # "sending"/"unknown" past the lease: the sweeper resolves them
    unknown: int
    sending: int  # claims within their lease
    pending_stale: int  # pending longer than the lease
    failed: int  # failed or undelivered (given up, refused, or failed at the provider)
    lease_s: float
    replica: str
    counters: dict[str, int]  # this replica's sweeper since it started


router = APIRouter(tags=["ops"])


@router.get("/deliveries/stats", response_model=DeliveryStats)
async def delivery_stats(request: Request) -> DeliveryStats:
    """For operators and alarms: deliveries in doubt, stale or failed (counts only, no
    addresses), and this replica's sweeper counters. ``atiende deliveries unknown`` lists them."""
    rt = runtime_of(request)
    sweeper: Sweeper = rt.extras["sweeper"]
    async with rt.db.read() as conn:
        counts = await stats(conn, sweeper.lease)
    counters = {**sweeper.counts, "email_resent_inline": sweeper.emails.resends}
    return DeliveryStats(**counts, lease_s=sweeper.lease.total_seconds(), replica=sweeper.replica, counters=counters)


def install(rt: ServiceRuntime, emails: EmailDeliveries, sms: SmsDeliveries | None) -> Sweeper:
    """The sweeper as a runtime worker of notifier, and its stats route."""
    lease = timedelta(seconds=rt.settings.delivery_lease_s)
    emails.lease = lease
    emails.replica = rt.replica_id
    if sms is not None:
        sms.lease = lease
    sweeper = rt.extras["sweeper"] = Sweeper(rt.db, emails, sms, lease=lease, replica=rt.replica_id)
    rt.worker_factories["deliveries"] = lambda _rt: sweeper.run
    rt.app.include_router(router)
    return sweeper

