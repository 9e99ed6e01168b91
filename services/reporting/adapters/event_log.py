"""reporting's event log: every event reporting applied to its read models, in the order it
applied them (``position``). It is the source of truth of ``atiende reporting rebuild``, and the
raw material of the period reports per party (R2.9)."""

from sqlalchemy import BigInteger, Column, Index, String, Table, Uuid

from services.reporting.adapters.db import metadata
from shared.db import JsonType, UTCDateTime
from shared.migrations import big_id

event_log = Table(
    "event_log", metadata,
    Column("position", big_id(), primary_key=True, autoincrement=True),
    Column("event_id", Uuid(), nullable=False, unique=True),
    Column("tenant", String(60), nullable=False),
    Column("type", String(120), nullable=False),
    Column("source", String(80), nullable=False),
    Column("subject", String(80), nullable=True),
    Column("sequence", BigInteger(), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("correlationid", String(120), nullable=True),
    Column("causationid", String(120), nullable=True),
    Column("data", JsonType, nullable=False),
)
Index("event_log_tenant_type_at", event_log.c.tenant, event_log.c.type, event_log.c.at)
