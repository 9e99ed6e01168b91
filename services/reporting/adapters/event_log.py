"""reporting's log of the working-day events (interactions, tasks, work orders, activities,
attachments, comments): the raw material of the period reports per party of R2.9."""

from sqlalchemy import Column, Index, String, Table, Uuid

from services.reporting.adapters.db import metadata
from shared.db import JsonType, UTCDateTime

event_log = Table(
    "event_log", metadata,
    Column("event_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("type", String(120), nullable=False),
    Column("subject", String(80), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("data", JsonType, nullable=False),
)
Index("event_log_tenant_type_at", event_log.c.tenant, event_log.c.type, event_log.c.at)
