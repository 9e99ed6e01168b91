"""Failed attempts that rate limits count (migration intake_0016_failed_attempts): customer
self-service look-ups (R3.5), log-ins, password set-ups and API keys (``shared/rate_limits.py``).

One row per limit a failure counts against: ``scope`` names the limit (e.g. "ip" and "number" for
self-service, "login-ip", "setup-ip", "key-ip", "key-prefix"), ``tenant`` the tenant as typed
("" where none is known, e.g. an API key), ``key_hash`` an HMAC of the value counted (an address,
a number, a key prefix), so the table holds none of them in the clear. The rows live in intake's
database so every replica counts the same attempts; rows older than the window go as new
failures are written."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Column, Index, String, Table, and_, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters.db import metadata
from shared.db import UTCDateTime
from shared.migrations import big_id
from shared.rate_limits import Limit, retry_after

failed_attempts = Table(
    "failed_attempts", metadata,
    Column("id", big_id(), primary_key=True, autoincrement=True),
    Column("tenant", String(60), nullable=False),
    Column("scope", String(20), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
Index("failed_attempts_key", failed_attempts.c.tenant, failed_attempts.c.scope, failed_attempts.c.key_hash,
      failed_attempts.c.at)
Index("failed_attempts_at", failed_attempts.c.at)


def key_hash(secret: str, scope: str, value: str) -> str:
    return hmac.new(secret.encode(), f"attempts:{scope}:{value}".encode(), hashlib.sha256).hexdigest()


async def wait_for(conn: AsyncConnection, tenant: str, checks: Sequence[tuple[str, str, Limit]],
                   now: datetime) -> int | None:
    """Seconds until every limit of ``checks`` (scope, key hash, limit) allows one more attempt,
    or None when all allow it now: one query for all of them."""
    t = failed_attempts
    since = {scope: now - limit.window for scope, _, limit in checks}
    rows = await conn.execute(select(t.c.scope, t.c.at).where(t.c.tenant == tenant, or_(*(
        and_(t.c.scope == scope, t.c.key_hash == key, t.c.at >= since[scope]) for scope, key, _ in checks)))
        .order_by(t.c.at))
    seen: dict[str, list[datetime]] = {}
    for r in rows:
        seen.setdefault(r.scope, []).append(r.at)
    waits = [w for scope, _, limit in checks if (w := retry_after(seen.get(scope, []), now, limit)) is not None]
    return max(waits) if waits else None


async def add_failure(conn: AsyncConnection, tenant: str, keys: dict[str, str], now: datetime,
                      forget_before: datetime) -> None:
    """One failure against each key (scope → key hash); what of these scopes has left the window
    (``forget_before``) goes."""
    t = failed_attempts
    await conn.execute(delete(t).where(t.c.scope.in_(list(keys)), t.c.at < forget_before))
    await conn.execute(insert(t), [{"tenant": tenant, "scope": s, "key_hash": k, "at": now} for s, k in keys.items()])
