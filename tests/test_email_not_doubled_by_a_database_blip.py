"""An e-mail is not sent twice because PostgreSQL went away for a moment (issue 15).

notifier claims a batch of deliveries, hands the e-mails to the SMTP server, then records them as
"sent" in one transaction. The fault campaign (bench/faults.py: PostgreSQL restarted under load)
saw that transaction fail while the database restarted: the rows stayed "sending", and once their
lease expired the sweeper sent them again (3–16 e-mails twice per restart). The process knows
they went out; it now records them again while the database is only unreachable.

Against real servers on loopback: PostgreSQL, RabbitMQ, aiosmtpd. The database "goes away" for
0.6 s right after the SMTP server accepted the case's first e-mail: notifier's engine points at a
port where nothing listens (as during a restart: connection refused), then back."""

from __future__ import annotations

import asyncio
from email.message import Message
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from services.notifier.adapters.db import deliveries
from shared.db import Database
from shared.settings import Settings
from tests.support.smtp_sink import SmtpSink
from tests.support.system import System, case_body, wait_for

pytestmark = pytest.mark.integration

LEASE_S = 4.0


class DatabaseGoneAfterSend:
    """The real mailer; after it delivered the first e-mail of a case, the database is unreachable
    for ``gone_s`` (the service's engines point at a closed port), then back."""

    def __init__(self, inner: Any, db: Database, gone_s: float) -> None:
        self.inner, self.db, self.gone_s = inner, db, gone_s
        self.gone_for: str | None = None  # the case whose e-mail preceded the blip

    async def send(self, message: Message) -> None:
        await self.inner.send(message)
        if self.gone_for is None and message["X-Atiende-Case"]:
            self.gone_for = str(message["X-Atiende-Case"])
            kept = self.db.engine, self.db._reader
            down = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:1/atiende")
            self.db.engine, self.db._reader = down, down.execution_options(isolation_level="AUTOCOMMIT")

            async def back() -> None:
                await asyncio.sleep(self.gone_s)
                self.db.engine, self.db._reader = kept
                await down.dispose()

            self.restored = asyncio.create_task(back())

    async def close(self) -> None:
        await self.inner.close()


async def test_an_email_accepted_before_the_database_went_away_for_a_moment_is_sent_once(
        rabbit_settings: Settings, smtp_sink: SmtpSink) -> None:
    settings = Settings(**{**rabbit_settings.model_dump(), "delivery_lease_s": LEASE_S})
    s = await System(settings).start()
    try:
        rt = s.rt["notifier"]
        emails = rt.extras["sweeper"].emails
        blip = emails.mailer = DatabaseGoneAfterSend(emails.mailer, rt.db, gone_s=0.6)
        case = await s.create_case(case_body(1))
        cid = str(case["id"])
        await wait_for(lambda: {m.message["X-Atiende-Template"] for m in smtp_sink.for_case(cid)}
                       == {"case_received", "case_assigned"}, 30, "the case's two e-mails")
        assert blip.gone_for == cid  # the database did go away after the first of them
        await asyncio.sleep(LEASE_S + 3.0)  # past the lease and a sweep: a re-send would be here by now
        templates = sorted(str(m.message["X-Atiende-Template"]) for m in smtp_sink.for_case(cid))
        assert templates == ["case_assigned", "case_received"], templates

        async with rt.db.read() as conn:
            rows = (await conn.execute(select(deliveries.c.template, deliveries.c.state, deliveries.c.attempts)
                                       .where(deliveries.c.case_id == case["id"]))).all()
        assert sorted((r.template, r.state, r.attempts) for r in rows) == [
            ("case_assigned", "sent", 1), ("case_received", "sent", 1)], rows
    finally:
        await s.stop()
