"""notifier's event handlers.

E-mail cannot be rolled back, so every e-mail handler is two-phase (see
shared/messaging/processor.py): ``record`` plans the e-mails of an event and stores one delivery
row per (event, channel, recipient), idempotently, with the template's context;
``send_pending_batch`` sends the rows still pending (of one event or of a batch of them), moving
them pending → sending → sent with a commit between steps.
A crash between "sending" and "sent" leaves the outcome unknown: such a row is never resent
blindly; it is marked ``unknown`` for a person to check. New notifications only add a planner."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formataddr, parseaddr
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifier import domain
from services.notifier.adapters.db import case_recipients, deliveries, sessions, user_directory
from services.notifier.adapters.mailer import Mailer
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CaseAssigned,
    CaseCreated,
    CaseDeadlineSet,
    CaseEscalated,
    CaseMailRequested,
    CaseSlaWarning,
    CaseTransition,
    NotificationSent,
    Recipient,
    TaskCreated,
    UserInvited,
    UserProfile,
)
from shared.db import Database, Tx, insert_ignoring_duplicates, insert_many_ignoring_duplicates, utcnow
from shared.messaging.bus import NotYet, PermanentError, Retryable
from shared.messaging.processor import Handler, MarkManyHandled

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
    """The directory (addresses, language) and the token copy (roles, active: shared/sessions.py)."""
    await sessions.on_user_upserted(tx, env)
    e = UserProfile.model_validate(env.data)
    values = {"tenant": env.tenant, "email": e.email, "name": e.name, "mobile": e.mobile, "language": e.language,
              "active": e.active}
    if not await insert_ignoring_duplicates(tx.conn, user_directory, {"user_id": e.user_id, **values}):
        await tx.conn.execute(update(user_directory).where(user_directory.c.user_id == e.user_id).values(**values))


async def plan_deadline_emails(conn: AsyncConnection, env: Envelope) -> list[domain.PlannedEmail]:
    e = CaseDeadlineSet.model_validate(env.data)
    case = (await conn.execute(select(case_recipients).where(case_recipients.c.case_id == e.case_id))).first()
    if case is None:  # case.created not handled yet (it may be waiting in a retry queue)
        raise NotYet(f"case {e.case_id} not known to notifier yet")
    return domain.deadline_emails(case, e.due_date, e.business_days)


async def _case_copy(conn: AsyncConnection, case_id: uuid.UUID) -> Any:
    case = (await conn.execute(select(case_recipients).where(case_recipients.c.case_id == case_id))).first()
    if case is None:  # case.created not handled yet (it may be waiting in a retry queue)
        raise NotYet(f"case {case_id} not known to notifier yet")
    return case


async def plan_finished_emails(conn: AsyncConnection, env: Envelope) -> list[domain.PlannedEmail]:
    e = CaseTransition.model_validate(env.data)
    if env.type != "case.finished.v1":
        return []
    outcome = "success" if e.status_to == "finished_success" else "failure"
    return domain.finished_emails(await _case_copy(conn, e.case_id), outcome, e.text)


async def plan_requested_mail(conn: AsyncConnection, env: Envelope) -> list[domain.PlannedEmail]:
    e = CaseMailRequested.model_validate(env.data)
    return domain.requested_mails(await _case_copy(conn, e.case_id), e.to, e.cc, e.subject, e.body,
                                  e.include_details, e.by_name)


async def on_case_assigned(tx: Tx, env: Envelope) -> None:
    e = CaseAssigned.model_validate(env.data)
    await tx.conn.execute(update(case_recipients).where(case_recipients.c.case_id == e.case_id)
                          .values(responsible_email=e.responsible_email))


async def plan_invitation_email(conn: AsyncConnection, env: Envelope) -> list[domain.PlannedEmail]:
    e = UserInvited.model_validate(env.data)
    return [domain.invitation_email(e.email, e.name, e.language, e.tenant_name, e.setup_url, e.expires_at)]


async def plan_task_email(conn: AsyncConnection, env: Envelope) -> list[domain.PlannedEmail]:
    """R2.4: the task's responsible is e-mailed, and each CC user gets a copy. The event carries
    their addresses and languages, so no directory lookup is needed."""
    e = TaskCreated.model_validate(env.data)
    out: list[domain.PlannedEmail] = []
    seen: set[str] = set()
    for role, u in [("responsible", e.responsible), *(("cc", c) for c in e.cc)]:
        if u.email.lower() in seen:
            continue
        seen.add(u.email.lower())
        out.append(domain.PlannedEmail(role, u.email, "task_assigned", u.language, {
            "name": u.name, "role": role, "responsible_name": e.responsible.name, "title": e.title,
            "description": e.description, "due_date": domain.format_date(e.due_date, u.language),
            "case_number": e.case_number, "case_subject": e.case_subject, "area": e.area, "by_name": e.by_name,
            "task_id": str(e.task_id)}, str(e.case_id)))
    return out


async def _addressees(conn: AsyncConnection, tenant: str, recipients: list[Recipient],
                      channel: str) -> list[domain.Addressee]:
    """The recipients asked to be told on ``channel``, resolved from the user directory.
    A user the directory does not know yet (its user.upserted still on its way): ``NotYet``, so
    the event is retried; an inactive user (or one of another tenant) is skipped."""
    wanted = [r for r in recipients if channel in r.channels]
    if not wanted:
        return []
    ud = user_directory.c
    rows = {row.user_id: row for row in await conn.execute(
        select(user_directory).where(ud.user_id.in_({r.user_id for r in wanted})))}
    missing = [str(r.user_id) for r in wanted if r.user_id not in rows]
    if missing:
        raise NotYet(f"user(s) {', '.join(missing)} not known to notifier yet")
    out = []
    for r in wanted:
        u = rows[r.user_id]
        if not u.active:
            continue
        if u.tenant != tenant:
            log.warning("recipient %s is not of tenant %s: skipped", r.user_id, tenant)
            continue
        out.append(domain.Addressee(str(u.user_id), r.reason, u.email, u.name, u.language))
    return out


async def plan_escalation_emails(conn: AsyncConnection, env: Envelope) -> list[domain.PlannedEmail]:
    """Issue 10: a case escalated: e-mail each recipient whose channels include e-mail."""
    e = CaseEscalated.model_validate(env.data)
    people = await _addressees(conn, env.tenant, e.recipients, "email")
    if not people:
        return []
    return domain.escalation_emails(await _case_copy(conn, e.case_id), people, kind=e.kind, level=e.level,
                                    due_at=e.due_at, overdue_seconds=e.overdue_seconds, clock=e.clock,
                                    urgent=e.urgent, message=e.message)


async def plan_sla_warning_emails(conn: AsyncConnection, env: Envelope) -> list[domain.PlannedEmail]:
    """Issue 10: ``percent`` of a clock used: e-mail each recipient whose channels include e-mail."""
    e = CaseSlaWarning.model_validate(env.data)
    people = await _addressees(conn, env.tenant, e.recipients, "email")
    if not people:
        return []
    return domain.sla_warning_emails(await _case_copy(conn, e.case_id), people, clock=e.clock, percent=e.percent,
                                     due_at=e.due_at)


class EmailDeliveries:
    def __init__(self, db: Database, mailer: Mailer, renderer: domain.Renderer, sender: str,
                 unknown_after: timedelta = timedelta(minutes=2)) -> None:
        self.db = db
        self.mailer = mailer
        self.renderer = renderer
        self.sender = sender
        self._from = formataddr(parseaddr(sender), charset="utf-8")
        self.unknown_after = unknown_after

    def handler(self, planner: Planner) -> Handler:
        async def record(tx: Tx, env: Envelope) -> None:
            now = utcnow()
            await insert_many_ignoring_duplicates(tx.conn, deliveries, [{
                "id": uuid.uuid4(), "event_id": env.id, "tenant": env.tenant,
                "case_id": uuid.UUID(m.case_id) if m.case_id else None, "channel": "email",
                "template": m.template, "recipient": m.address, "recipient_role": m.role,
                "language": m.language, "context": m.context, "state": "pending", "attempts": 0,
                "created_at": now} for m in await planner(tx.conn, env)])

        return Handler(record, after_commit_batch=self.send_pending_batch)

    async def send_pending_batch(self, envs: list[Envelope], mark_handled: MarkManyHandled) -> None:
        """Claim the events' pending deliveries (one transaction), send them, then record the
        outcomes, the notification.sent events and the inbox rows together (one transaction).
        An event with a failed delivery stays unmarked and the error is raised: the bus retries
        it, and only its rows still pending are sent again."""
        d = deliveries.c
        by_id = {env.id: env for env in envs}
        async with self.db.read() as conn:
            in_doubt = (await conn.execute(select(deliveries).where(d.event_id.in_(by_id), d.state == "sending"))).all()
        for row in in_doubt:
            await self._settle_in_doubt(row)
        async with self.db.transaction() as tx:
            claimed = (await tx.conn.execute(
                update(deliveries).where(d.event_id.in_(by_id), d.state == "pending")
                .values(state="sending", claimed_at=utcnow(), attempts=d.attempts + 1)
                .returning(*deliveries.c))).all()
        results = await asyncio.gather(*(self.mailer.send(self._message(row)) for row in claimed),
                                       return_exceptions=True)
        failures = [(row, r) for row, r in zip(claimed, results, strict=True) if isinstance(r, BaseException)]
        sent = [row for row, r in zip(claimed, results, strict=True) if not isinstance(r, BaseException)]
        failed_events = {row.event_id for row, _ in failures}
        now = utcnow()
        async with self.db.transaction() as tx:
            if sent:
                await tx.conn.execute(update(deliveries).where(d.id.in_([r.id for r in sent]))
                                      .values(state="sent", sent_at=now, last_error=None))
            for row in sent:
                done = NotificationSent(delivery_id=row.id, case_id=row.case_id, channel="email",
                                        template=row.template, recipient_role=row.recipient_role, sent_at=now)
                await tx.emit(by_id[row.event_id].follow(source=SOURCE, type="notification.sent.v1",
                                                         data=done.model_dump(mode="json")))
            for row, exc in failures:  # known failures: back to pending, retried with the message
                await tx.conn.execute(update(deliveries).where(d.id == row.id)
                                      .values(state="pending", last_error=str(exc)[:1000]))
            completed = [env for env in envs if env.id not in failed_events]
            if completed:
                await mark_handled(tx, completed)
        if failures:
            errors = [exc for _, exc in failures]
            retryable = [e for e in errors if not isinstance(e, PermanentError)]
            raise retryable[0] if retryable else errors[0]

    async def _settle_in_doubt(self, row: Any) -> None:
        if row.claimed_at and utcnow() - row.claimed_at < self.unknown_after:
            raise Retryable("delivery in progress elsewhere")
        async with self.db.transaction() as tx:
            await tx.conn.execute(update(deliveries).where(deliveries.c.id == row.id, deliveries.c.state == "sending")
                                  .values(state="unknown", last_error="interrupted while sending; not resent"))
        log.error("delivery %s outcome unknown (interrupted while sending); not resent", row.id)

    def _message(self, row: Any) -> Message:
        # email's compat32 classes: the same MIME on the wire as EmailMessage, for a fifth of the
        # CPU (its header objects cost ~1 ms a message: the notifier's biggest item under load).
        subject, body = self.renderer.render(row.template, row.language, row.context)
        msg = MIMEText(body, "plain", "utf-8")
        msg["From"] = self._from
        name = row.context.get("contact_name") if row.recipient_role == "contact" else row.context.get("name")
        msg["To"] = formataddr((name, row.recipient), charset="utf-8") if name else row.recipient
        msg["Subject"] = Header(subject, "utf-8")
        msg["Message-ID"] = f"<{row.id}@atiende>"  # same id on any resend: receivers can drop copies
        if row.case_id:
            msg["X-Atiende-Case"] = str(row.case_id)
        msg["X-Atiende-Tenant"] = row.tenant
        msg["X-Atiende-Template"] = row.template
        msg["Content-Language"] = row.language
        return msg


def build_handlers(emails: EmailDeliveries) -> dict[str, Any]:
    return {"case.created.v1": on_case_created,
            "user.upserted.v1": on_user_upserted,
            "user.session_revoked.v1": sessions.on_session_revoked,
            "case.deadline_set.v1": emails.handler(plan_deadline_emails),
            "user.invited.v1": emails.handler(plan_invitation_email),
            "task.created.v1": emails.handler(plan_task_email),
            "case.finished.v1": emails.handler(plan_finished_emails),
            "case.mail_requested.v1": emails.handler(plan_requested_mail),
            "case.escalated.v1": emails.handler(plan_escalation_emails),
            "case.sla_warning.v1": emails.handler(plan_sla_warning_emails),
            "case.assigned.v1": on_case_assigned}
