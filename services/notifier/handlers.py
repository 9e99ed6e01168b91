"""notifier's event handlers.

E-mail cannot be rolled back, so every e-mail handler is two-phase (see
shared/messaging/processor.py): ``record`` plans the e-mails of an event and stores one delivery
row per (event, channel, recipient), idempotently, with the template's context;
``send_pending_batch`` sends the rows still pending (of one event or of a batch of them), moving
them pending → sending → sent with a commit between steps.
A crash between "sending" and "sent" leaves the outcome in doubt: once the claim's lease expires
the e-mail is re-sent with the same Message-ID, and an SMS is looked up at the provider first
(services/notifier/sweeper.py resolves what no redelivery does). New notifications only add a planner."""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, parseaddr
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifier import domain
from services.notifier.adapters.db import case_recipients, deliveries, delivery_events, sessions, user_directory
from services.notifier.adapters.mailer import Mailer
from services.notifier.adapters.rules_tables import for_tenant
from services.notifier.adapters.sms import SentSms, SmsOutcomeUnknown, SmsRejected, SmsSender
from services.notifier.in_app import add_in_app
from shared import metrics
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CaseAssigned,
    CaseCreated,
    CaseDeadlineSet,
    CaseEscalated,
    CaseMailRequested,
    CaseSlaWarning,
    CaseTransition,
    NotificationFailed,
    NotificationSent,
    Recipient,
    TaskCreated,
    UserInvited,
    UserProfile,
)
from shared.db import Database, Tx, insert_ignoring_duplicates, insert_many_ignoring_duplicates, utcnow
from shared.messaging.bus import NotYet, PermanentError, Retryable
from shared.messaging.processor import Handler, MarkManyHandled
from shared.problems import database_unreachable

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
              "active": e.active, "changed_at": env.time}
    if not await insert_ignoring_duplicates(tx.conn, user_directory, {"user_id": e.user_id, **values}):
        await tx.conn.execute(update(user_directory).where(user_directory.c.user_id == e.user_id,
                                                           user_directory.c.changed_at <= env.time).values(**values))


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
                                  e.include_details, e.by_name,
                                  [{"filename": f.filename, "content_type": f.content_type, "content_b64": f.content_b64}
                                   for f in e.attachments])


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


def lease_expired(now: datetime, lease: timedelta) -> Any:
    """A claim past its lease: claimed longer ago than ``lease`` and no later lease running (the
    SMS path's claims set only ``claimed_at``; the sweeper's set both, its back-off a longer lease)."""
    d = deliveries.c
    return and_(d.claimed_at < now - lease, or_(d.lease_until.is_(None), d.lease_until < now))


class EmailDeliveries:
    def __init__(self, db: Database, mailer: Mailer, renderer: domain.Renderer, sender: str,
                 lease: timedelta = timedelta(minutes=2)) -> None:
        self.db = db
        self.mailer = mailer
        self.renderer = renderer
        self.sender = sender
        self._from = formataddr(parseaddr(sender), charset="utf-8")
        self.lease = lease  # a claim's lease: "sending" past it is in doubt (services/notifier/sweeper.py)
        self.replica = "notifier"  # claimed_by; the runtime's replica id (sweeper.install)
        self.in_flight: set[uuid.UUID] = set()  # rows this process is sending now (the sweeper skips them)
        self.resends = 0  # deliveries in doubt re-sent here (the sweeper counts its own)

    def handler(self, planner: Planner) -> Handler:
        async def record(tx: Tx, env: Envelope) -> None:
            now = utcnow()
            await insert_many_ignoring_duplicates(tx.conn, deliveries, [{
                "id": uuid.uuid4(), "event_id": env.id, "tenant": env.tenant,
                "case_id": uuid.UUID(m.case_id) if m.case_id else None, "channel": "email",
                "template": m.template, "recipient": m.address, "recipient_role": m.role,
                "language": m.language, "context": m.context, "state": "pending", "attempts": 0,
                "created_at": now} for m in await for_tenant(tx.conn, env, "email", await planner(tx.conn, env))])

        return Handler(record, after_commit_batch=self.send_pending_batch)

    async def send_pending_batch(self, envs: list[Envelope], mark_handled: MarkManyHandled) -> None:
        """Claim the events' pending deliveries (one transaction), send them, then record the
        outcomes, the notification.sent events and the inbox rows together (one transaction).
        An event with a failed delivery stays unmarked and the error is raised: the bus retries
        it, and only its rows still pending are sent again."""
        d = deliveries.c
        by_id = {env.id: env for env in envs}
        claim_at = utcnow()
        async with self.db.transaction() as tx:  # in doubt back to pending, then the claim: one commit
            await self._settle_in_doubt(tx, list(by_id))
            claimed = (await tx.conn.execute(
                update(deliveries).where(d.event_id.in_(by_id), d.channel == "email", d.state == "pending")
                .values(state="sending", claimed_at=claim_at, claimed_by=self.replica,
                        lease_until=claim_at + self.lease, attempts=d.attempts + 1)
                .returning(*deliveries.c))).all()
        ids = {row.id for row in claimed}
        self.in_flight |= ids
        try:
            results = await asyncio.gather(*(self.send_row(row) for row in claimed), return_exceptions=True)
        finally:
            self.in_flight -= ids
        failures = [(row, r) for row, r in zip(claimed, results, strict=True) if isinstance(r, BaseException)]
        sent = [row for row, r in zip(claimed, results, strict=True) if not isinstance(r, BaseException)]
        failed_events = {row.event_id for row, _ in failures}
        now = utcnow()

        async def record(tx: Tx) -> None:
            # Only rows still "sending": a record retried after a commit that did land emits nothing twice.
            recorded = set((await tx.conn.execute(
                update(deliveries).where(d.id.in_([r.id for r in sent]), d.state == "sending")
                .values(state="sent", sent_at=now, last_error=None).returning(d.id))).scalars()) if sent else set()
            for row in (r for r in sent if r.id in recorded):
                done = NotificationSent(delivery_id=row.id, case_id=row.case_id, channel="email",
                                        template=row.template, recipient_role=row.recipient_role, sent_at=now)
                await tx.emit(by_id[row.event_id].follow(source=SOURCE, type="notification.sent.v1",
                                                         data=done.model_dump(mode="json")))
            for row, exc in failures:  # known failures: back to pending, retried with the message
                await tx.conn.execute(update(deliveries).where(d.id == row.id)
                                      .values(state="pending", lease_until=None, last_error=str(exc)[:1000]))
            completed = [env for env in envs if env.id not in failed_events]
            if completed:
                await mark_handled(tx, completed)

        await self._record_sent(record, {row.id for row in sent}, claim_at)
        metrics.delivery_reached("email", "sent", len(sent))
        if failures:
            errors = [exc for _, exc in failures]
            retryable = [e for e in errors if not isinstance(e, PermanentError)]
            raise retryable[0] if retryable else errors[0]

    async def _record_sent(self, record: Callable[[Tx], Awaitable[None]], sent: set[uuid.UUID],
                           claim_at: datetime) -> None:
        """Record the outcomes of e-mails the SMTP server already accepted. While the database is
        only unreachable (restarting, issue 15's fault campaign), try again for up to half the
        lease instead of leaving them "sending" to be re-sent once it expires: this process knows
        they went out. This replica's sweeper and redeliveries leave them alone meanwhile."""
        self.in_flight |= sent
        try:
            while True:
                try:
                    async with self.db.transaction() as tx:
                        await record(tx)
                    return
                except Exception as exc:
                    if not database_unreachable(exc) or utcnow() + timedelta(seconds=1) > claim_at + self.lease / 2:
                        raise
                    log.warning("could not record %d sent e-mail(s), database unreachable (%s); retrying in 1s",
                                len(sent), type(exc).__name__)
                    await asyncio.sleep(1.0)
        finally:
            self.in_flight -= sent

    async def send_row(self, row: Any) -> None:
        """One delivery over SMTP (the sweeper re-sends through here too: same Message-ID)."""
        await self.mailer.send(self._message(row))

    async def _settle_in_doubt(self, tx: Tx, event_ids: list[uuid.UUID]) -> None:
        """These events' e-mails still "sending" (a redelivery after a crash or a lost connection).
        A live lease is another claim's: left to it (or to the sweeper once it expires), and the
        event may complete, since the row itself is the obligation. An expired lease is in doubt:
        back to pending, so the claim below re-sends it with the same Message-ID (a receiver can
        drop the repeat). Nothing is ever left "unknown"."""
        d = deliveries.c
        now = utcnow()
        back = (await tx.conn.execute(
            update(deliveries).where(d.event_id.in_(event_ids), d.channel == "email",
                                     d.state.in_(("sending", "unknown")), lease_expired(now, self.lease),
                                     d.id.not_in(self.in_flight))
            .values(state="pending", lease_until=None,
                    last_error="interrupted while sending: re-sent with the same Message-ID")
            .returning(d.id))).scalars().all()
        if back:
            self.resends += len(back)
            log.warning("%d e-mail deliver%s in doubt (lease expired while sending): re-sending",
                        len(back), "y" if len(back) == 1 else "ies")

    def _message(self, row: Any) -> Message:
        # email's compat32 classes: the same MIME on the wire as EmailMessage, for a fifth of the
        # CPU (its header objects cost ~1 ms a message: the notifier's biggest item under load).
        subject, body = self.renderer.render(row.template, row.language, row.context)
        text = MIMEMultipart("alternative")  # text, then the same text as HTML (domain.html_of)
        text.attach(MIMEText(body, "plain", "utf-8"))
        text.attach(MIMEText(domain.html_of(body, row.language), "html", "utf-8"))
        files = row.context.get(domain.ATTACHMENTS) or []
        msg = text if not files else MIMEMultipart("mixed")
        if files:  # R4.6: the chosen files of the case, after the text
            msg.attach(text)
            for f in files:
                maintype, _, subtype = f["content_type"].partition("/")
                part = MIMEApplication(base64.b64decode(f["content_b64"]), _subtype=subtype or "octet-stream")
                if maintype != "application":
                    part.replace_header("Content-Type", f["content_type"])
                part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", f["filename"]))
                msg.attach(part)
        msg["From"] = self._from
        name = row.context.get("contact_name") if row.recipient_role == "contact" else row.context.get("name")
        msg["To"] = formataddr((name, row.recipient), charset="utf-8") if name else row.recipient
        msg["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]  # typeshed: str only
        msg["Message-ID"] = f"<{row.id}@atiende>"  # same id on any resend: receivers can drop copies
        if row.case_id:  # one thread per case in the recipient's client: a stable id all its mails refer to
            msg["In-Reply-To"] = msg["References"] = f"<case-{row.case_id}@atiende>"
            msg["X-Atiende-Case"] = str(row.case_id)
        msg["X-Atiende-Tenant"] = row.tenant
        msg["X-Atiende-Template"] = row.template
        msg["Content-Language"] = row.language
        return msg


# -- SMS (issue 11) ---------------------------------------------------------------------------------
async def _sms_addressees(conn: AsyncConnection, tenant: str, recipients: list[Recipient]) -> list[domain.Addressee]:
    """The recipients asked to be told by SMS, each with their mobile (E.164) as the address; one
    without a mobile is skipped (logged: no delivery row, there is nowhere to send it)."""
    people = await _addressees(conn, tenant, recipients, "sms")
    if not people:
        return []
    ud = user_directory.c
    mobiles = {row.user_id: row.mobile for row in await conn.execute(select(ud.user_id, ud.mobile).where(
        ud.user_id.in_({uuid.UUID(p.user_id) for p in people})))}
    out = []
    for p in people:
        mobile = mobiles.get(uuid.UUID(p.user_id))
        if mobile:
            out.append(replace(p, email=mobile))
        else:
            log.info("SMS to user %s skipped: no mobile in the directory", p.user_id)
    return out


async def plan_escalation_sms(conn: AsyncConnection, env: Envelope) -> list[domain.PlannedEmail]:
    e = CaseEscalated.model_validate(env.data)
    people = await _sms_addressees(conn, env.tenant, e.recipients)
    if not people:
        return []
    return domain.escalation_emails(await _case_copy(conn, e.case_id), people, kind=e.kind, level=e.level,
                                    due_at=e.due_at, overdue_seconds=e.overdue_seconds, clock=e.clock,
                                    urgent=e.urgent, message=e.message)


async def plan_sla_warning_sms(conn: AsyncConnection, env: Envelope) -> list[domain.PlannedEmail]:
    e = CaseSlaWarning.model_validate(env.data)
    people = await _sms_addressees(conn, env.tenant, e.recipients)
    if not people:
        return []
    return domain.sla_warning_emails(await _case_copy(conn, e.case_id), people, clock=e.clock, percent=e.percent,
                                     due_at=e.due_at)


# Twilio's statuses as stored; a state only moves forward (a late "sent" after "delivered" is kept
# in the history but does not move the delivery back). Terminal states never change.
SMS_STATE = {"accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "queued",
             "sent": "sent", "delivered": "delivered", "read": "delivered",
             "undelivered": "undelivered", "failed": "failed", "canceled": "failed"}
SMS_RANK = {"pending": 0, "sending": 1, "unknown": 1, "queued": 2, "sent": 3,
            "delivered": 4, "undelivered": 4, "failed": 4}
SMS_FAILED = ("failed", "undelivered")


def mask_number(number: str) -> str:
    return "***" + number[-4:]


async def record_sms_state(tx: Tx, row: Any, provider_status: str, error_code: str | None, at: datetime,
                           env: Envelope | None = None, error: str | None = None) -> str:
    """Apply a state the provider reported for an SMS delivery (send answer, lookup or status
    callback): history line (once per state), the delivery moved forward only, and on a
    failure the ``notification.failed.v1`` event. Returns the delivery's state afterwards."""
    d = deliveries.c
    state = SMS_STATE.get(provider_status, "queued")
    await insert_ignoring_duplicates(tx.conn, delivery_events, {"delivery_id": row.id, "state": state,
                                                               "error_code": error_code, "at": at})
    current = (await tx.conn.execute(select(d.state).where(d.id == row.id).with_for_update())).scalar_one()
    if SMS_RANK.get(current, 0) >= SMS_RANK[state] or SMS_RANK.get(current, 0) == 4:
        return str(current)
    values: dict[str, Any] = {"state": state}
    if error_code is not None:
        values["error_code"] = error_code
    if error is not None or state in SMS_FAILED:
        values["last_error"] = (error or f"{state} at the provider (error {error_code})")[:1000]
    await tx.conn.execute(update(deliveries).where(d.id == row.id).values(**values))
    metrics.delivery_reached("sms", state)
    if state in SMS_FAILED:
        failed = NotificationFailed(delivery_id=row.id, case_id=row.case_id, channel="sms", template=row.template,
                                    recipient_role=row.recipient_role, recipient=mask_number(row.recipient),
                                    state=state, error_code=error_code, error=values["last_error"], at=at)
        data = failed.model_dump(mode="json")
        subject = str(row.case_id) if row.case_id else None
        await tx.emit(env.follow(source=SOURCE, type="notification.failed.v1", data=data, subject=subject) if env
                      else Envelope(source=SOURCE, type="notification.failed.v1", subject=subject, tenant=row.tenant,
                                    data=data))
    return state


class SmsDeliveries:
    """The e-mail path's two phases for SMS: rows stored with the event (``record``), then sent
    pending → sending → the provider's state. What differs is the unknown outcome: a send whose
    answer was lost (timeout, dropped connection) or a claim whose process died is looked up
    at the provider before anything is resent (by number, body and time: ``SmsSender.find``);
    found, its sid and state are recorded; only a message Twilio does not have is sent again."""

    def __init__(self, db: Database, sender: SmsSender, renderer: domain.Renderer, callback_base: str,
                 lease: timedelta = timedelta(minutes=2)) -> None:
        self.db = db
        self.sender = sender
        self.renderer = renderer
        self.callback_base = callback_base.rstrip("/")
        self.lease = lease  # a claim younger than this may still be sending on another replica

    def callback_url(self, delivery_id: uuid.UUID | str) -> str:
        return f"{self.callback_base}/sms/status/{delivery_id}"

    def handler(self, planner: Planner) -> Handler:
        async def record(tx: Tx, env: Envelope) -> None:
            planned = await for_tenant(tx.conn, env, "sms", await planner(tx.conn, env))  # tenant rules, texts
            if planned and not self.sender.configured:
                log.warning("%d SMS for event %s not sent: Twilio is not configured", len(planned), env.id)
                return
            now = utcnow()
            await insert_many_ignoring_duplicates(tx.conn, deliveries, [{
                "id": uuid.uuid4(), "event_id": env.id, "tenant": env.tenant,
                "case_id": uuid.UUID(m.case_id) if m.case_id else None, "channel": "sms",
                "template": m.template, "recipient": m.address, "recipient_role": m.role,
                "language": m.language, "context": m.context, "state": "pending", "attempts": 0,
                "created_at": now} for m in planned])

        return Handler(record, after_commit_batch=self.send_pending_batch)

    def body(self, row: Any) -> str:
        return self.renderer.render_sms(row.template, row.language, row.context)

    async def send_pending_batch(self, envs: list[Envelope], mark_handled: MarkManyHandled) -> None:
        d = deliveries.c
        by_id = {env.id: env for env in envs}
        async with self.db.read() as conn:
            in_doubt = (await conn.execute(select(deliveries).where(
                d.event_id.in_(by_id), d.channel == "sms", d.state.in_(("sending", "unknown"))))).all()
        for row in in_doubt:
            await self._settle_in_doubt(row, by_id[row.event_id])
        async with self.db.transaction() as tx:
            claimed = (await tx.conn.execute(
                update(deliveries).where(d.event_id.in_(by_id), d.channel == "sms", d.state == "pending")
                .values(state="sending", claimed_at=utcnow(), attempts=d.attempts + 1)
                .returning(*deliveries.c))).all()
        results = await asyncio.gather(*(self.sender.send(row.recipient, self.body(row), self.callback_url(row.id))
                                         for row in claimed), return_exceptions=True)
        retry: list[BaseException] = []
        unfinished: set[uuid.UUID] = set()
        async with self.db.transaction() as tx:
            for row, r in zip(claimed, results, strict=True):
                env = by_id[row.event_id]
                if isinstance(r, SentSms):
                    await self._sent(tx, row, r, env)
                elif isinstance(r, SmsRejected):  # permanent: recorded, not retried
                    log.warning("SMS delivery %s refused by the provider: %s", row.id, r)
                    await record_sms_state(tx, row, "failed", r.code, utcnow(), env, str(r))
                elif isinstance(r, SmsOutcomeUnknown):  # looked up before any resend
                    log.warning("SMS delivery %s outcome unknown: %s", row.id, r)
                    await tx.conn.execute(update(deliveries).where(d.id == row.id, d.state == "sending")
                                          .values(state="unknown", last_error=str(r)[:1000]))
                    retry.append(r)
                    unfinished.add(row.event_id)
                else:  # not taken (429, 5xx, refused): pending again, retried with the message
                    await tx.conn.execute(update(deliveries).where(d.id == row.id, d.state == "sending")
                                          .values(state="pending", last_error=str(r)[:1000]))
                    retry.append(r)
                    unfinished.add(row.event_id)
            completed = [env for env in envs if env.id not in unfinished]
            if completed:
                await mark_handled(tx, completed)
        if retry:
            first = retry[0]
            raise first if isinstance(first, Retryable) else Retryable(str(first))

    async def _sent(self, tx: Tx, row: Any, sms: SentSms, env: Envelope) -> None:
        now = utcnow()
        await tx.conn.execute(update(deliveries).where(deliveries.c.id == row.id)
                              .values(provider_sid=sms.sid, sent_at=now, last_error=None))
        await record_sms_state(tx, row, sms.status, sms.error_code, now, env)
        done = NotificationSent(delivery_id=row.id, case_id=row.case_id, channel="sms", template=row.template,
                                recipient_role=row.recipient_role, sent_at=now)
        await tx.emit(env.follow(source=SOURCE, type="notification.sent.v1", data=done.model_dump(mode="json")))

    async def look_up(self, row: Any, since: datetime) -> SentSms | None:
        """The message of this delivery at the provider, if it has it (sent since ``since``)."""
        d = deliveries.c
        async with self.db.read() as conn:  # sids other deliveries hold cannot be this one's
            taken = set((await conn.execute(select(d.provider_sid).where(
                d.channel == "sms", d.recipient == row.recipient, d.provider_sid.is_not(None),
                d.id != row.id))).scalars())
        return await self.sender.find(row.recipient, self.body(row), since, taken)

    async def _settle_in_doubt(self, row: Any, env: Envelope) -> None:
        """A claim whose answer was lost: ask the provider before resending (never twice)."""
        if row.state == "sending" and row.claimed_at and utcnow() - row.claimed_at < self.lease:
            raise Retryable("SMS delivery in progress elsewhere")
        d = deliveries.c
        found = await self.look_up(row, row.claimed_at or row.created_at)
        async with self.db.transaction() as tx:
            current = (await tx.conn.execute(select(deliveries).where(d.id == row.id).with_for_update())).first()
            if current is None or current.state not in ("sending", "unknown"):
                return  # settled meanwhile
            if current.lease_until is not None and current.lease_until > utcnow():
                return  # the sweeper holds it now (services/notifier/sweeper.py)
            if found is not None:
                log.info("SMS delivery %s found at the provider (%s): not resent", row.id, found.sid)
                await self._sent(tx, current, found, env)
            else:
                log.info("SMS delivery %s not at the provider: sending it again", row.id)
                await tx.conn.execute(update(deliveries).where(d.id == row.id).values(state="pending"))


def all_channels(*handlers: Handler) -> Handler:
    """One handler for an event told on several channels (SMS and e-mail): each records its rows
    in the same transaction and sends them, one channel after the other; the last one marks the
    event handled, in its own outcome's transaction, if every earlier channel completed it too (a
    channel's failure leaves the event for a retry, where what was sent is not sent again)."""

    async def record(tx: Tx, env: Envelope) -> None:
        for h in handlers:
            await h.handle(tx, env)

    async def send(envs: list[Envelope], mark_handled: MarkManyHandled) -> None:
        done_by_all = {e.id for e in envs}
        errors: list[BaseException] = []
        *first, last = handlers
        for h in first:
            got: set[uuid.UUID] = set()

            async def collect(tx: Tx, completed: list[Envelope], got: set[uuid.UUID] = got) -> None:
                got.update(e.id for e in completed)

            assert h.after_commit_batch is not None
            try:
                await h.after_commit_batch(envs, collect)
            except Exception as exc:  # the other channels still go out
                errors.append(exc)
            done_by_all &= got

        async def mark_if_all(tx: Tx, completed: list[Envelope]) -> None:
            ready = [e for e in completed if e.id in done_by_all]
            if ready:
                await mark_handled(tx, ready)

        assert last.after_commit_batch is not None
        try:
            await last.after_commit_batch(envs, mark_if_all)
        except Exception as exc:
            errors.append(exc)
        if errors:
            retryable = [e for e in errors if not isinstance(e, PermanentError)]
            raise retryable[0] if retryable else errors[0]

    return Handler(record, after_commit_batch=send)


def build_handlers(emails: EmailDeliveries, sms: SmsDeliveries | None = None) -> dict[str, Any]:
    def by_email_and_sms(email_planner: Planner, sms_planner: Planner) -> Handler:
        if sms is None:
            return emails.handler(email_planner)
        return all_channels(sms.handler(sms_planner), emails.handler(email_planner))

    handlers = {"case.created.v1": on_case_created,
                "user.upserted.v1": on_user_upserted,
                "user.session_revoked.v1": sessions.on_session_revoked,
                "case.deadline_set.v1": emails.handler(plan_deadline_emails),
                "user.invited.v1": emails.handler(plan_invitation_email),
                "task.created.v1": emails.handler(plan_task_email),
                "case.finished.v1": emails.handler(plan_finished_emails),
                "case.mail_requested.v1": emails.handler(plan_requested_mail),
                "case.escalated.v1": by_email_and_sms(plan_escalation_emails, plan_escalation_sms),
                "case.sla_warning.v1": by_email_and_sms(plan_sla_warning_emails, plan_sla_warning_sms),
                "case.assigned.v1": on_case_assigned}
    # In-app notifications (R4.7, escalations) join the events' transactions: services/notifier/in_app.py.
    return add_in_app(handlers)
