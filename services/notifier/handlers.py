"""notifier's event handlers.

Sending an e-mail cannot be rolled back, so the deadline notification is two-phase (see
shared/messaging/processor.py): ``handle`` records one delivery row per recipient (idempotent);
``after_commit`` sends each row still pending, moving it pending → sending → sent with a commit
between each step. A crash between "sending" and "sent" leaves the outcome unknown: such a row
is never resent blindly; it is marked ``unknown`` for a person to check."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

from sqlalchemy import select, update

from services.notifier import domain
from services.notifier.adapters.db import case_recipients, deliveries
from services.notifier.adapters.mailer import Mailer
from shared.contracts.envelope import Envelope
from shared.contracts.events import CaseCreated, CaseDeadlineSet, NotificationSent
from shared.db import Database, Tx, insert_ignoring_duplicates, utcnow
from shared.messaging.bus import PermanentError, Retryable
from shared.messaging.processor import Handler

log = logging.getLogger("atiende.notifier")
SOURCE = "atiende/notifier"


async def on_case_created(tx: Tx, env: Envelope) -> None:
    e = CaseCreated.model_validate(env.data)
    await insert_ignoring_duplicates(tx.conn, case_recipients, {
        "case_id": e.case_id, "tenant": env.tenant, "number": e.number, "language": e.language,
        "timezone": e.tenant_timezone, "type_name": e.case_type.name, "subject": e.subject,
        "description": e.description, "contact_name": e.contact.name, "contact_email": e.contact.email,
        "contact_phone": e.contact.phone, "responsible_email": e.responsible_email, "created_at": e.created_at})


class DeadlineNotifications:
    """case.deadline_set → confirmation to the contact, assignment to the responsible (R4.3)."""

    def __init__(self, db: Database, mailer: Mailer, renderer: domain.Renderer, sender: str,
                 unknown_after: timedelta = timedelta(minutes=2)) -> None:
        self.db = db
        self.mailer = mailer
        self.renderer = renderer
        self.sender = sender
        self.unknown_after = unknown_after

    def as_handler(self) -> Handler:
        return Handler(self.handle, self.after_commit)

    async def _case(self, conn: Any, case_id: uuid.UUID) -> Any:
        case = (await conn.execute(select(case_recipients).where(case_recipients.c.case_id == case_id))).first()
        if case is None:  # case.created not handled yet (it may be waiting in a retry queue)
            raise Retryable(f"case {case_id} not known to notifier yet")
        return case

    async def handle(self, tx: Tx, env: Envelope) -> None:
        e = CaseDeadlineSet.model_validate(env.data)
        case = await self._case(tx.conn, e.case_id)
        for r in domain.deadline_recipients(case.contact_email, case.responsible_email):
            await insert_ignoring_duplicates(tx.conn, deliveries, {
                "id": uuid.uuid4(), "event_id": env.id, "tenant": env.tenant, "case_id": e.case_id,
                "channel": "email", "template": r.template, "recipient": r.address, "recipient_role": r.role,
                "state": "pending", "attempts": 0, "created_at": utcnow()})

    async def after_commit(self, env: Envelope) -> None:
        e = CaseDeadlineSet.model_validate(env.data)
        async with self.db.engine.connect() as conn:
            case = await self._case(conn, e.case_id)
            rows = (await conn.execute(select(deliveries).where(deliveries.c.event_id == env.id))).all()
        for row in rows:
            if row.state == "sending":
                await self._settle_in_doubt(row)
            elif row.state == "pending":
                await self._send(row, case, e, env)

    async def _settle_in_doubt(self, row: Any) -> None:
        if row.claimed_at and utcnow() - row.claimed_at < self.unknown_after:
            raise Retryable("delivery in progress elsewhere")
        async with self.db.transaction() as tx:
            await tx.conn.execute(update(deliveries).where(deliveries.c.id == row.id, deliveries.c.state == "sending")
                                  .values(state="unknown", last_error="interrupted while sending; not resent"))
        log.error("delivery %s outcome unknown (interrupted while sending); not resent", row.id)

    async def _send(self, row: Any, case: Any, e: CaseDeadlineSet, env: Envelope) -> None:
        async with self.db.transaction() as tx:
            claimed = await tx.conn.execute(
                update(deliveries).where(deliveries.c.id == row.id, deliveries.c.state == "pending")
                .values(state="sending", claimed_at=utcnow(), attempts=deliveries.c.attempts + 1))
        if claimed.rowcount == 0:
            return  # another replica took it
        message = self._message(row, case, e)
        try:
            await self.mailer.send(message)
        except (Retryable, PermanentError) as exc:
            async with self.db.transaction() as tx:
                await tx.conn.execute(update(deliveries).where(deliveries.c.id == row.id)
                                      .values(state="pending", last_error=str(exc)[:1000]))
            raise
        now = utcnow()
        async with self.db.transaction() as tx:
            await tx.conn.execute(update(deliveries).where(deliveries.c.id == row.id)
                                  .values(state="sent", sent_at=now, last_error=None))
            sent = NotificationSent(delivery_id=row.id, case_id=e.case_id, channel="email", template=row.template,
                                    recipient_role=row.recipient_role, sent_at=now)
            await tx.emit(env.follow(source=SOURCE, type="notification.sent.v1", data=sent.model_dump(mode="json")))

    def _message(self, row: Any, case: Any, e: CaseDeadlineSet) -> EmailMessage:
        ctx = {"number": case.number, "subject": case.subject, "type_name": case.type_name,
               "description": case.description, "contact_name": case.contact_name,
               "contact_email": case.contact_email, "contact_phone": case.contact_phone,
               "created_at": domain.format_instant(case.created_at, case.language, case.timezone),
               "due_date": domain.format_date(e.due_date, case.language), "business_days": e.business_days}
        subject, body = self.renderer.render(row.template, case.language, ctx)
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = formataddr((case.contact_name, row.recipient)) if row.recipient_role == "contact" else row.recipient
        msg["Subject"] = subject
        msg["Message-ID"] = f"<{row.id}@atiende>"  # same id on any resend: receivers can drop copies
        msg["X-Atiende-Case"] = str(e.case_id)
        msg["X-Atiende-Tenant"] = case.tenant
        msg["X-Atiende-Template"] = row.template
        msg["Content-Language"] = case.language
        msg.set_content(body)
        return msg


def build_handlers(notifications: DeadlineNotifications) -> dict[str, Any]:
    return {"case.created.v1": on_case_created, "case.deadline_set.v1": notifications.as_handler()}
