"""The tenant's audit trail: one line per action worth tracing (who, when, what, with which
details), newest first. The first action recorded is ``inbox.exported`` (R4.10: every download
of the inbox, direct or of an export job); ``GET /audit`` lists them for admins (R4.4)."""

from __future__ import annotations

import uuid
from typing import Any

from services.intake.adapters import export_tables as xt
from services.intake.domain.access import Principal
from shared.db import Database, utcnow

INBOX_EXPORTED = "inbox.exported"
ACTIONS = (INBOX_EXPORTED,)


async def record(db: Database, who: Principal, action: str, details: dict[str, Any]) -> uuid.UUID:
    """Append one line (its own transaction) and return its id."""
    line_id = uuid.uuid4()
    async with db.transaction() as tx:
        await xt.insert_audit(tx.conn, {
            "id": line_id, "tenant": who.tenant, "at": utcnow(), "actor_id": who.user_id,
            "actor_api_key_id": who.api_key_id, "actor_name": who.name, "actor_email": who.email,
            "action": action, "details": details})
    return line_id


async def lines(db: Database, who: Principal, action: str | None, after: list[Any] | None, limit: int) -> list[Any]:
    """The caller's tenant's lines, newest first, ``limit + 1`` at most (shared/paging's ``Page.of``
    cuts the page). The route admits admins only (R4.4)."""
    async with db.read() as conn:
        return await xt.audit_page(conn, who.tenant, action, after, limit + 1)
