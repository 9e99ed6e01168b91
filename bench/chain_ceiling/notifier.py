"""notifier: consumes case.deadline_set (which carries the contact and responsible e-mails, so the
notifier needs no copy of case.created) ->
  1. one transaction: inbox row + 2 delivery rows "pending" (contact, responsible) -> commit;
  2. the 2 e-mails by SMTP (aiosmtplib, a pool of 4 kept-open connections, as Atiende's mailer);
  3. one transaction: both deliveries "sent" + 2 outbox rows notification.sent -> commit;
then ack.  Relay in this process."""
from __future__ import annotations

import asyncio
import os
from email.mime.text import MIMEText

import aiosmtplib
from common import DSN, MINIMAL, POOL, Relay, Schema, serve
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

SMTP_PORT = int(os.environ.get("CHAIN_SMTP_PORT", "8025"))
PLAN = text("""INSERT INTO notifier.deliveries (case_id, template, recipient, state)
    SELECT c, t, r, 'pending' FROM unnest(CAST(:cases AS uuid[]), CAST(:tpls AS text[]), CAST(:rcpts AS text[]))
    AS d(c, t, r) RETURNING id""")
MARK_SENT = text("UPDATE notifier.deliveries SET state = 'sent', sent_at = now() WHERE id = ANY(:ids)")
engine = create_async_engine(DSN, pool_size=POOL, max_overflow=0)
schema = Schema("notifier")
relay = Relay("notifier")
smtp_idle: asyncio.LifoQueue = asyncio.LifoQueue()
smtp_slots = asyncio.Semaphore(4)


async def send(case_id: str, template: str, rcpt: str, subject: str, due_at: str) -> None:
    # email.mime builds compat32 messages: ~1 ms cheaper per e-mail than EmailMessage's default policy.
    msg = MIMEText(f"Case {case_id}: {subject}\nDue: {due_at}\n", "plain", "utf-8")
    msg["From"] = "atiende@example.cl"
    msg["To"] = rcpt
    msg["Subject"] = f"[{template}] {subject}"
    msg["X-Case"] = case_id
    msg["X-Template"] = template
    async with smtp_slots:
        smtp = smtp_idle.get_nowait() if not smtp_idle.empty() else None
        if smtp is None or not smtp.is_connected:
            smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=SMTP_PORT, start_tls=False, timeout=10)
            await smtp.connect()
        await smtp.send_message(msg)
        smtp_idle.put_nowait(smtp)


async def on_deadline_set(msgs: list) -> None:
    async with engine.begin() as db:
        new = [b for _, b in await schema.claim_inbox(db, msgs)]
        if not new:
            return
        plan = [(b, tpl, b[f"{tpl}_email"]) for b in new for tpl in ("contact", "responsible")]
        ids = [r[0] for r in await db.execute(PLAN, {"cases": [b["case_id"] for b, _, _ in plan],
                                                      "tpls": [t for _, t, _ in plan],
                                                      "rcpts": [r for _, _, r in plan]})]
    await asyncio.gather(*(send(b["case_id"], tpl, rcpt, b["subject"], b["due_at"]) for b, tpl, rcpt in plan))
    async with engine.begin() as db:
        await db.execute(MARK_SENT, {"ids": ids})
        if not MINIMAL:
            await schema.emit(db, [("notification.sent", {"case_id": b["case_id"], "template": tpl})
                                   for b, tpl, _ in plan])
    relay.wake()


if __name__ == "__main__":
    serve("notifier", on_deadline_set, relay)
