"""workflow's tables (schema ``workflow``)."""

from sqlalchemy import Column, Date, Integer, MetaData, String, Table, Uuid

from shared.db import JsonType, UTCDateTime
from shared.messaging.ordering import progress_table
from shared.outbox import messaging_tables
from shared.sessions import SessionCopies
from shared.timers import timer_table

SCHEMA = "workflow"
metadata = MetaData(schema=SCHEMA)
outbox, inbox = messaging_tables(metadata)
progress = progress_table(metadata)  # events in order (shared/messaging/ordering.py)
sessions = SessionCopies(metadata)  # token checks (shared/sessions.py)
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

# Each tenant's business calendar, copied from catalog.calendar_changed.v1 (highest version wins).
tenant_calendars = Table(
    "tenant_calendars", metadata,
    Column("tenant", String(60), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("country", String(2), nullable=False),
    Column("timezone", String(60), nullable=False),
    Column("extra_closed_days", JsonType, nullable=False),  # ISO dates
    Column("work_days", JsonType, nullable=False),  # ISO weekdays, 1 = Monday
    Column("work_start", String(5), nullable=False),  # "HH:MM" local
    Column("work_end", String(5), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
