"""notifier's tables (schema ``notifier``)."""

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text, Uuid

from shared.db import JsonType, UTCDateTime
from shared.messaging.ordering import progress_table
from shared.outbox import messaging_tables
from shared.sessions import SessionCopies

SCHEMA = "notifier"
metadata = MetaData(schema=SCHEMA)
outbox, inbox = messaging_tables(metadata)
progress = progress_table(metadata)  # events in order (shared/messaging/ordering.py)
sessions = SessionCopies(metadata)  # token checks (shared/sessions.py)

# notifier's own copy of what it needs to write about a case (from case.created).
case_recipients = Table(
    "case_recipients", metadata,
    Column("case_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("number", String(20), nullable=False),
    Column("language", String(2), nullable=False),
    Column("timezone", String(60), nullable=False),
    Column("type_name", String(200), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("description", Text(), nullable=False),
    Column("contact_name", String(200), nullable=False),
    Column("contact_email", String(254), nullable=False),
    Column("contact_phone", String(20), nullable=True),
    Column("responsible_email", String(254), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# One row per (event, channel, recipient): states pending → sending → sent, or failed/unknown.
deliveries = Table(
    "deliveries", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("event_id", Uuid(), nullable=False),
    Column("tenant", String(60), nullable=False),
    Column("case_id", Uuid(), nullable=True),
    Column("channel", String(10), nullable=False),
    Column("template", String(60), nullable=False),
    Column("recipient", String(254), nullable=False),
    Column("recipient_role", String(30), nullable=False),
    Column("language", String(2), nullable=False),
    Column("context", JsonType, nullable=False),  # what the template is rendered with
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("claimed_at", UTCDateTime(), nullable=True),
    Column("sent_at", UTCDateTime(), nullable=True),
)
Index("deliveries_once", deliveries.c.event_id, deliveries.c.channel, deliveries.c.recipient, unique=True)

# notifier's directory of users (from user.upserted): addresses, phones, language.
user_directory = Table(
    "user_directory", metadata,
    Column("user_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("email", String(254), nullable=False),
    Column("name", String(200), nullable=False),
    Column("mobile", String(20), nullable=True),
    Column("language", String(2), nullable=False),
    Column("active", Boolean, nullable=False),
)
