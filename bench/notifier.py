"""notifier's delivery throughput (issue 11): e-mails and SMS per second through notifier, against
an SMTP server on loopback (aiosmtpd, tests/support/smtp_sink.py) and the Twilio stand-in
(tests/support/twilio_standin.py, driven by the real ``twilio`` client).

What runs: a throw-away PostgreSQL database and broker namespace; intake and notifier in this
process (tests/support/system.py); ``--cases`` cases created through intake (workflow is not
started, so they send nothing themselves); then ``--events`` ``case.escalated.v1`` events published on the
bus as workflow would, each to one user with channels e-mail and SMS. Measured: from the first
publish until the last e-mail reaches the sink and the last SMS the stand-in — per channel,
messages per second, and the count received (each must be exactly ``--events``).

Usage: .venv/bin/python bench/notifier.py [--events 500] [--cases 20]
Prints one JSON line (also appended to bench/results/notifier.jsonl). About a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from shared import clock  # noqa: E402
from shared.contracts.envelope import Envelope  # noqa: E402
from shared.messaging.bus import OutgoingMessage  # noqa: E402
from shared.settings import Settings  # noqa: E402
from tests.support.smtp_sink import SmtpSink  # noqa: E402
from tests.support.system import TENANT, System, case_body, demo, wait_for  # noqa: E402
from tests.support.twilio_standin import TwilioStandIn  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/"
AMQP = "amqp://guest:guest@127.0.0.1:5672/"
MOBILE = "+56987654321"


def log(*a: object) -> None:
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


async def main(a: argparse.Namespace) -> dict:
    import asyncpg

    run = uuid.uuid4().hex[:8]
    dbname, ns = f"atiende_notifier_{run}", f"benchn{run}"
    admin = await asyncpg.connect(PG + "postgres")
    await admin.execute(f'CREATE DATABASE "{dbname}"')
    await admin.close()
    sink = SmtpSink().start()
    twilio = await TwilioStandIn().start()
    settings = Settings(database_url=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{dbname}", amqp_url=AMQP,
                        namespace=ns, smtp_host="127.0.0.1", smtp_port=sink.port,
                        token_secret="bench-only-secret-0123456789-abcdefghijklmnop", log_json=False,
                        twilio_account_sid=twilio.account_sid, twilio_auth_token=twilio.auth_token,
                        twilio_from="+15005550006", twilio_base_url=twilio.base_url)
    system = await System(settings, services=("intake", "notifier")).start()
    out: dict = {"bench": "notifier", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "events": a.events,
                 "cases": a.cases}
    try:
        h = await system.auth()
        users = (await system.intake.get("/users", params={"limit": 100}, headers=h)).json()["items"]
        uid = next(u["id"] for u in users if u["email"] == demo("ejecutiva"))
        r = await system.intake.patch(f"/users/{uid}", json={"mobile": MOBILE}, headers=h)
        assert r.status_code == 200, r.text
        cases = [await system.create_case(case_body(i)) for i in range(a.cases)]
        from sqlalchemy import func, select

        from services.notifier.adapters.db import case_recipients, user_directory

        async def ready() -> bool:
            async with system.rt["notifier"].db.read() as conn:
                copies = (await conn.execute(select(func.count()).select_from(case_recipients))).scalar_one()
                mobile = (await conn.execute(select(user_directory.c.mobile)
                                             .where(user_directory.c.user_id == uuid.UUID(uid)))).scalar()
            return bool(copies >= a.cases and mobile == MOBILE)

        await wait_for(ready, 60, "notifier's copies of the cases and of the user's mobile")
        envs = [Envelope(source="atiende/workflow", type="case.escalated.v1", subject=c["id"], tenant=TENANT, data={
            "case_id": c["id"], "case_version": 1, "kind": "case_overdue", "level": 1, "cycle": 1,
            "clock": "resolution", "due_at": clock.now().isoformat(), "overdue_seconds": 60, "urgent": False,
            "message": None, "task_id": None, "at": clock.now().isoformat(),
            "recipients": [{"user_id": uid, "reason": "manager", "channels": ["email", "sms"]}]})
            for i in range(a.events) for c in [cases[i % len(cases)]]]

        def escalation_mails() -> int:
            return sum(1 for m in list(sink.messages) if m.message["X-Atiende-Template"] == "case_escalated")

        t0 = time.monotonic()
        for i in range(0, len(envs), 100):
            await system.bus.publish([OutgoingMessage(e.id, e.type, e.to_bytes()) for e in envs[i:i + 100]])
        done: dict[str, float] = {}
        while len(done) < 2 and time.monotonic() - t0 < a.timeout:
            if "email" not in done and escalation_mails() >= a.events:
                done["email"] = time.monotonic() - t0
            if "sms" not in done and len(twilio.sent_to(MOBILE)) >= a.events:
                done["sms"] = time.monotonic() - t0
            await asyncio.sleep(0.02)
        await asyncio.sleep(1)  # anything extra (a duplicate) would show here
        for ch, got in (("email", escalation_mails()), ("sms", len(twilio.sent_to(MOBILE)))):
            s = done.get(ch)
            out[ch] = {"received": got, "seconds": round(s, 2) if s else None,
                       "per_second": round(a.events / s, 1) if s else None}
            log(f"{ch}: {got} received in {s and round(s, 2)} s → {out[ch]['per_second']}/s")
    finally:
        await system.stop()
        await twilio.stop()
        sink.stop()
        admin = await asyncpg.connect(PG + "postgres")
        await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        await admin.close()
        sys.path.insert(0, str(HERE.parent / "tests"))
        from tests.conftest import delete_namespace
        await delete_namespace(ns)
    return out


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=500, help="escalations published (one e-mail + one SMS each)")
    ap.add_argument("--cases", type=int, default=20, help="cases they are spread over")
    ap.add_argument("--timeout", type=float, default=240, help="give up after this many seconds")
    a = ap.parse_args()
    out = asyncio.run(main(a))
    line = json.dumps(out, ensure_ascii=False)
    print(line, flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    with open(HERE / "results" / "notifier.jsonl", "a") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    cli()
