"""reporting's record of priority changes (R0.5: who changed which priorities, when and why)."""

from sqlalchemy import Boolean, Column, Index, String, Table, Text, Uuid

from services.reporting.adapters.db import metadata
from shared.db import UTCDateTime
from shared.migrations import big_id

priority_changes = Table(
    "priority_changes", metadata,
    Column("id", big_id(), primary_key=True, autoincrement=True),
    Column("event_id", Uuid(), nullable=False, unique=True),
    Column("tenant", String(60), nullable=False),
    Column("case_id", Uuid(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("by", Uuid(), nullable=True),
    Column("by_name", String(200), nullable=True),
    Column("old", String(16), nullable=False),
    Column("new", String(16), nullable=False),
    Column("raised", Boolean, nullable=False),
    Column("reason", String(40), nullable=True),
    Column("reason_text", Text(), nullable=True),
)
Index("priority_changes_tenant_at", priority_changes.c.tenant, priority_changes.c.at)
