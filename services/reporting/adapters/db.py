"""reporting's tables (schema ``reporting``): one row per case, kept from events."""

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Uuid

from shared.db import UTCDateTime
from shared.outbox import messaging_tables

SCHEMA = "reporting"
metadata = MetaData(schema=SCHEMA)
outbox, inbox = messaging_tables(metadata)

case_facts = Table(
    "case_facts", metadata,
    Column("case_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("number", String(20), nullable=False),
    Column("type_code", String(60), nullable=False),
    Column("type_name", String(200), nullable=False),
    Column("status", String(24), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("overdue_at", UTCDateTime(), nullable=True),
    Column("emails_sent", Integer, nullable=False),
)
Index("case_facts_tenant_status", case_facts.c.tenant, case_facts.c.status)
Index("case_facts_tenant_type", case_facts.c.tenant, case_facts.c.type_code)
