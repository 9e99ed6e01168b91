"""notifier's tables (schema ``notifier``)."""

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text, Uuid, text

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
# SMS (issue 11): after sending, the provider's state: queued → sent → delivered | failed |
# undelivered (a callback never moves it back), with the provider's id and error code; an
# interrupted send is "unknown" until it is looked up at the provider.
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
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("claimed_at", UTCDateTime(), nullable=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("provider_sid", String(64), nullable=True),  # SMS: Twilio's MessageSid
    Column("error_code", String(12), nullable=True),  # SMS: Twilio's ErrorCode
    # The claim's lease (no delivery left in doubt: services/notifier/sweeper.py): who claimed it
    # (replica id) and until when; "sending" past its lease is in doubt and resolved by the sweeper.
    Column("claimed_by", String(40), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
)
Index("deliveries_once", deliveries.c.event_id, deliveries.c.channel, deliveries.c.recipient, unique=True)
_UNSETTLED = "state IN ('pending', 'sending', 'unknown')"
Index("deliveries_unsettled", deliveries.c.claimed_at, postgresql_where=text(_UNSETTLED), sqlite_where=text(_UNSETTLED))

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
    Column("changed_at", UTCDateTime(), nullable=False),  # the event's time: a late older one is ignored
)

# A delivery's state history (SMS: each state the provider reported, once per state).
delivery_events = Table(
    "delivery_events", metadata,
    Column("delivery_id", Uuid(), primary_key=True),
    Column("state", String(12), primary_key=True),
    Column("error_code", String(12), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
)
Index("deliveries_provider_sid", deliveries.c.provider_sid)
