"""The unit of work of intake's use cases: one database transaction with the one history
writer and the outbox.

    async with UnitOfWork(db) as uow:
        case = await cases_repo.get_for_update(uow.conn, who.tenant, case_id)   # lock first
        ...check rules on the locked row, change it...
        await uow.record(case, who, "executed", {"from": ..., "to": ...})        # history
        uow.emit_case_event(case, "case.executed.v1", CaseTransition(...))       # outbox

Events about a case are numbered: each one gets the case's next version as its envelope
``sequence``, and the case row's ``version`` is brought up to the last one at commit, so the
version of a case is the number of events it has had (``case.created.v1`` is 1). Consumers apply
a case's events in that order (shared/messaging/ordering.py)."""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.case_tables import case_history
from services.intake.adapters.db import cases
from shared.contracts.envelope import Envelope
from shared.db import Database, Tx, utcnow
from shared.logs import correlation_id
from shared.messaging.ordering import CASE_EVENTS

SOURCE = "atiende/intake"


class Actor(Protocol):
    """Who did it (a ``Principal``): recorded in history."""

    @property
    def user_id(self) -> uuid.UUID | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...


class CaseLike(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def tenant(self) -> str: ...
    @property
    def version(self) -> int: ...


class UnitOfWork:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cm: Any = None
        self.tx: Tx
        self.conn: AsyncConnection
        self._versions: dict[uuid.UUID, tuple[int, int]] = {}  # case id -> (version loaded, version now)

    async def __aenter__(self) -> UnitOfWork:
        self._cm = self.db.transaction()
        self.tx = await self._cm.__aenter__()
        self.conn = self.tx.conn
        self._versions = {}
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool | None:
        if exc_type is None:
            for case_id, (loaded, now) in self._versions.items():
                if now != loaded:
                    await self.conn.execute(update(cases).where(cases.c.id == case_id).values(version=now))
        cm, self._cm = self._cm, None
        return await cm.__aexit__(exc_type, exc, tb)  # type: ignore[no-any-return]

    # -- history: the one writer --------------------------------------------------------------
    async def record(self, case: CaseLike, who: Actor | None, kind: str, data: dict[str, Any]) -> None:
        """Append one line to the case's history (never updated or deleted)."""
        await self.conn.execute(insert(case_history), {
            "case_id": case.id, "tenant": case.tenant, "at": utcnow(),
            "actor_id": who.user_id if who is not None else None,
            "actor_name": (who.name or who.email) if who is not None else None, "kind": kind, "data": data})

    # -- outbox -------------------------------------------------------------------------------
    async def emit(self, tenant: str, type_: str, payload: BaseModel, *, subject: str | None = None,
                   sequence: int | None = None) -> None:
        """Write an event to intake's outbox (published by the relay after the commit)."""
        await self.tx.emit(Envelope(source=SOURCE, type=type_, subject=subject, tenant=tenant,
                                    correlationid=correlation_id.get(), sequence=sequence,
                                    data=payload.model_dump(mode="json")))

    async def emit_case_event(self, case: CaseLike, type_: str, payload: BaseModel, *, created: bool = False) -> int:
        """An event about ``case``, numbered with the case's next version (returned). ``created``:
        the case row was inserted in this transaction with version 1, and this is its first event."""
        if type_ not in CASE_EVENTS:  # its consumers would not be subscribed to it: a gap for ever
            raise ValueError(f"{type_} is not in shared.messaging.ordering.CASE_EVENTS")
        if created:
            self._versions[case.id] = (1, 1)
            version = 1
        else:
            loaded, now = self._versions.get(case.id, (case.version, case.version))
            version = now + 1
            self._versions[case.id] = (loaded, version)
        await self.emit(case.tenant, type_, payload, subject=str(case.id), sequence=version)
        return version
