"""intake: POST /cases (FastAPI under uvicorn, one worker) -> one transaction: the case row and the
outbox row case.created -> 201 with the id.  The relay runs in this process.  Also consumes
case.deadline_set: inbox row + the case's due date, one transaction, then ack.
Usage (started by ../chain_ceiling.py): python intake.py PORT"""
from __future__ import annotations

import asyncio
import json
import sys
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Literal

from common import DSN, POOL, Consumer, Relay, Schema, tune_gc
from fastapi import FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class CaseIn(BaseModel):  # 10 fields, validated like bench-limits' TicketIn
    tenant_id: uuid.UUID
    contact_email: str = Field(pattern=EMAIL, max_length=254)
    responsible_email: str = Field(pattern=EMAIL, max_length=254)
    subject: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20000)
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    category: str = Field(default="general", max_length=64)
    channel: Literal["web", "email", "phone", "api"] = "web"
    tags: list[str] = Field(default_factory=list, max_length=20)
    external_ref: str | None = Field(default=None, max_length=128)


class CaseCreated(BaseModel):
    id: uuid.UUID
    status: str


INSERT_CASE = text("""INSERT INTO intake.cases (id, tenant_id, contact_email, responsible_email, subject,
    description, priority, category, channel, tags, external_ref, created_at) VALUES (:id, :tenant_id,
    :contact_email, :responsible_email, :subject, :description, :priority, :category, :channel, :tags,
    :external_ref, :created_at)""")
INSERT_EVENT = text("INSERT INTO intake.outbox (event_id, type, body) VALUES (:event_id, 'case.created', :body)")
SET_DUE = text("""UPDATE intake.cases c SET due_at = d.due, updated_at = now()
    FROM unnest(CAST(:ids AS uuid[]), CAST(:dues AS timestamptz[])) AS d(id, due) WHERE c.id = d.id""")
schema = Schema("intake")
relay = Relay("intake")
state: dict = {}


async def on_deadline_set(msgs: list) -> None:
    async with state["engine"].begin() as db:
        new = sorted((b["case_id"], b["due_at"]) for _, b in await schema.claim_inbox(db, msgs))
        if new:  # sorted by case id: two batch workers never lock the same rows in opposite order
            await db.execute(SET_DUE, {"ids": [c for c, _ in new], "dues": [datetime.fromisoformat(d) for _, d in new]})


@asynccontextmanager
async def lifespan(app):
    state["engine"] = create_async_engine(DSN, pool_size=POOL, max_overflow=0)
    relay_task = asyncio.create_task(relay.run())
    consumer = Consumer("intake", on_deadline_set)
    await consumer.start()
    tune_gc()
    yield
    await consumer.close()
    relay_task.cancel()
    await asyncio.gather(relay_task, return_exceptions=True)
    await state["engine"].dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health():
    return {"ok": True}


@app.post("/cases", status_code=201, response_model=CaseCreated)
async def create_case(c: CaseIn):
    cid = uuid.uuid4()
    now = datetime.now(UTC)
    row = c.model_dump()
    row.update(id=cid, created_at=now)
    # What every consumer needs travels in the event (no service reads another's tables).
    body = json.dumps({"case_id": str(cid), "tenant_id": str(c.tenant_id), "ctype": c.category,
                       "priority": c.priority, "subject": c.subject, "contact_email": c.contact_email,
                       "responsible_email": c.responsible_email, "created_at": now.isoformat()})
    async with state["engine"].begin() as db:
        await db.execute(INSERT_CASE, row)
        await db.execute(INSERT_EVENT, {"event_id": uuid.uuid4(), "body": body})
    relay.wake()  # after the commit: the relay's claim sees the row
    return CaseCreated(id=cid, status="new")


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools",
                log_level="warning", access_log=False)
