"""workflow's tables (schema ``workflow``)."""

from sqlalchemy import Column, Date, Integer, MetaData, String, Table, Uuid

from shared.db import UTCDateTime
from shared.outbox import messaging_tables
from shared.timers import timer_table

SCHEMA = "workflow"
metadata = MetaData(schema=SCHEMA)
outbox, inbox = messaging_tables(metadata)
timers = timer_table(metadata)

case_deadlines = Table(
    "case_deadlines", metadata,
    Column("case_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("type_code", String(60), nullable=False),
    Column("status", String(24), nullable=False),
    Column("entered_at", UTCDateTime(), nullable=False),
    Column("business_days", Integer, nullable=False),
    Column("calendar_country", String(2), nullable=False),
    Column("due_date", Date(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("overdue_at", UTCDateTime(), nullable=True),
)
