"""notifier's event handlers.

E-mail cannot be rolled back, so every e-mail handler is two-phase (see
shared/messaging/processor.py): ``record`` plans the e-mails of an event and stores one delivery
row per (event, channel, recipient), idempotently, with the template's context; ``send_pending``
sends each row still pending, moving it pending → sending → sent with a commit between steps.
A crash between "sending" and "sent" leaves the outcome unknown: such a row is never resent
blindly; it is marked ``unknown`` for a person to check. New notifications only add a planner."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifier import domain
from services.notifier.adapters.db import case_recipients, deliveries, user_directory
from services.notifier.adapters.mailer import Mailer
from shared.contracts.envelope import Envelope
from shared.contracts.events import CaseCreated, CaseDeadlineSet, NotificationSent, UserInvited, UserProfile
from shared.db import Database, Tx, insert_ignoring_duplicates, utcnow
from shared.messaging.bus import PermanentError, Retryable
from shared.messaging.processor import Handler

log = logging.getLogger("atiende.notifier")
SOURCE = "atiende/notifier"

Planner = Callable[[AsyncConnection, Envelope], Awaitable[list[domain.PlannedEmail]]]


async def on_case_created(tx: Tx, env: Envelope) -> None:
    e = CaseCreated.model_validate(env.data)
    await insert_ignoring_duplicates(tx.conn, case_recipients, {
        "case_id": e.case_id, "tenant": env.tenant, "number": e.number, "language": e.language,
        "timezone": e.tenant_timezone, "type_name": e.case_type.name, "subject": e.subject,
        "description": e.description, "contact_name": e.contact.name, "contact_email": e.contact.email,
        "contact_phone": e.contact.phone, "responsible_email": e.responsible_email, "created_at": e.created_at})


async def on_user_upserted(tx: Tx, env: Envelope) -> None:
    e = UserProfile.model_validate(env.data)
    values = {"tenant": env.tenant, "email": e.email, "name": e.name, "mobile": e.mobile, "language": e.language,
              "active": e.active}
    if not await insert_ignoring_duplicates(tx.conn, user_directory, {"user_id": e.user_id, **values}):
        await tx.conn.execute(update(user_directory).where(user_directory.c.user_id == e.user_id).values(**values))


async def plan_deadline_emails(conn: AsyncConnection, env: Envelope) -> list[domain.PlannedEmail]:
    e = CaseDeadlineSet.model_validate(env.data)
    case = (await conn.execute(select(case_recipients).where(case_recipients.c.case_id == e.case_id))).first()
    if case is None:  # case.created not handled yet (it may be waiting in a retry queue)
        raise Retryable(f"case {e.case_id} not known to notifier yet")
    return domain.deadline_emails(case, e.due_date, e.business_days)


async def plan_invitation_email(conn: AsyncConnection, env: Envelope) -> list[domain.PlannedEmail]:
    e = UserInvited.model_validate(env.data)
    return [domain.invitation_email(e.email, e.name, e.language, e.tenant_name, e.setup_url, e.expires_at)]


class EmailDeliveries:
    def __init__(self, db: Database, mailer: Mailer, renderer: domain.Renderer, sender: str,
                 unknown_after: timedelta = timedelta(minutes=2)) -> None:
        self.db = db
        self.mailer = mailer
        self.renderer = renderer
        self.sender = sender
        self.unknown_after = unknown_after

    def handler(self, planner: Planner) -> Handler:
        async def record(tx: Tx, env: Envelope) -> None:
            for m in await planner(tx.conn, env):
                await insert_ignoring_duplicates(tx.conn, deliveries, {
                    "id": uuid.uuid4(), "event_id": env.id, "tenant": env.tenant,
                    "case_id": uuid.UUID(m.case_id) if m.case_id else None, "channel": "email",
                    "template": m.template, "recipient": m.address, "recipient_role": m.role,
                    "language": m.language, "context": m.context, "state": "pending", "attempts": 0,
                    "created_at": utcnow()})

        return Handler(record, self.send_pending)

    async def send_pending(self, env: Envelope) -> None:
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(select(deliveries).where(deliveries.c.event_id == env.id))).all()
        for row in rows:
            if row.state == "sending":
                await self._settle_in_doubt(row)
            elif row.state == "pending":
                await self._send(row, env)

    async def _settle_in_doubt(self, row: Any) -> None:
        if row.claimed_at and utcnow() - row.claimed_at < self.unknown_after:
            raise Retryable("delivery in progress elsewhere")
        async with self.db.transaction() as tx:
            await tx.conn.execute(update(deliveries).where(deliveries.c.id == row.id, deliveries.c.state == "sending")
                                  .values(state="unknown", last_error="interrupted while sending; not resent"))
        log.error("delivery %s outcome unknown (interrupted while sending); not resent", row.id)

    async def _send(self, row: Any, env: Envelope) -> None:
        async with self.db.transaction() as tx:
            claimed = await tx.conn.execute(
                update(deliveries).where(deliveries.c.id == row.id, deliveries.c.state == "pending")
                .values(state="sending", claimed_at=utcnow(), attempts=deliveries.c.attempts + 1))
        if claimed.rowcount == 0:
            return  # another replica took it
        try:
            await self.mailer.send(self._message(row))
        except (Retryable, PermanentError) as exc:
            async with self.db.transaction() as tx:
                await tx.conn.execute(update(deliveries).where(deliveries.c.id == row.id)
                                      .values(state="pending", last_error=str(exc)[:1000]))
            raise
        now = utcnow()
        async with self.db.transaction() as tx:
            await tx.conn.execute(update(deliveries).where(deliveries.c.id == row.id)
                                  .values(state="sent", sent_at=now, last_error=None))
            sent = NotificationSent(delivery_id=row.id, case_id=row.case_id, channel="email", template=row.template,
                                    recipient_role=row.recipient_role, sent_at=now)
            await tx.emit(env.follow(source=SOURCE, type="notification.sent.v1", data=sent.model_dump(mode="json")))

    def _message(self, row: Any) -> EmailMessage:
        subject, body = self.renderer.render(row.template, row.language, row.context)
        msg = EmailMessage()
        msg["From"] = self.sender
        name = row.context.get("contact_name") if row.recipient_role == "contact" else row.context.get("name")
        msg["To"] = formataddr((name, row.recipient)) if name else row.recipient
        msg["Subject"] = subject
        msg["Message-ID"] = f"<{row.id}@atiende>"  # same id on any resend: receivers can drop copies
        if row.case_id:
            msg["X-Atiende-Case"] = str(row.case_id)
        msg["X-Atiende-Tenant"] = row.tenant
        msg["X-Atiende-Template"] = row.template
        msg["Content-Language"] = row.language
        msg.set_content(body)
        return msg


def build_handlers(emails: EmailDeliveries) -> dict[str, Any]:
    return {"case.created.v1": on_case_created,
            "user.upserted.v1": on_user_upserted,
            "case.deadline_set.v1": emails.handler(plan_deadline_emails),
            "user.invited.v1": emails.handler(plan_invitation_email)}
