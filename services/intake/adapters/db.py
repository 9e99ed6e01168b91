"""intake's tables (schema ``intake``). Only intake reads or writes them."""

from sqlalchemy import Boolean, Column, Date, ForeignKey, Index, Integer, MetaData, String, Table, Text, Uuid

from shared.db import JsonType, UTCDateTime
from shared.outbox import messaging_tables

SCHEMA = "intake"
metadata = MetaData(schema=SCHEMA)
outbox, inbox = messaging_tables(metadata)

tenants = Table(
    "tenants", metadata,
    Column("slug", String(60), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=False),  # ISO 3166 alpha-2: drives national holidays
    Column("timezone", String(60), nullable=False),
    Column("language", String(2), nullable=False),  # es | en
    Column("next_case_number", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime(), nullable=False),
)

case_types = Table(
    "case_types", metadata,
    Column("tenant", String(60), ForeignKey(f"{SCHEMA}.tenants.slug"), primary_key=True),
    Column("code", String(60), primary_key=True),
    Column("name_es", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("deadline_business_days", Integer, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

cases = Table(
    "cases", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("number", String(20), nullable=False),
    Column("type_code", String(60), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("description", Text(), nullable=False),
    Column("contact_name", String(200), nullable=False),
    Column("contact_email", String(254), nullable=False),
    Column("contact_phone", String(20), nullable=True),
    Column("responsible_email", String(254), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("status", String(24), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("due_date", Date(), nullable=True),
    Column("overdue_since", UTCDateTime(), nullable=True),
)
Index("cases_tenant_number", cases.c.tenant, cases.c.number, unique=True)
Index("cases_tenant_status_created", cases.c.tenant, cases.c.status, cases.c.created_at)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("tenant", String(60), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JsonType, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
