"""workflow's tables (schema ``workflow``): its copies of what it needs from other services
(calendars, time settings, areas, people: from catalog and user events; never intake's tables),
each case's clocks, each task's due date, and the durable timers behind them."""

import sqlalchemy as sa
from sqlalchemy import Boolean, Column, Date, Index, Integer, MetaData, String, Table, Uuid

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

# The promised date as first computed (case.deadline_set.v1, GET /deadlines/{id}); the live
# resolution clock is in case_clocks.
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

# A tenant's calendars (catalog.calendar_changed.v1; highest version per code wins). ``data`` is
# the event's payload: domain.calendar_from_event builds the calendar from it.
calendars = Table(
    "calendars", metadata,
    Column("tenant", String(60), primary_key=True),
    Column("code", String(60), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", JsonType, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# A tenant's warning thresholds, escalation ladder and quiet hours (catalog.sla_settings_changed.v1).
sla_settings = Table(
    "sla_settings", metadata,
    Column("tenant", String(60), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", JsonType, nullable=False),
)

# Areas: their head (the ladder's top, R3.4's supervisor) and calendar (catalog.area_changed.v1).
areas = Table(
    "areas", metadata,
    Column("tenant", String(60), primary_key=True),
    Column("code", String(60), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("head_user_id", Uuid(), nullable=True),
    Column("calendar", String(60), nullable=True),
)

# The manager chain and escalation subscriptions (user.upserted.v1).
people = Table(
    "people", metadata,
    Column("user_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False, index=True),
    Column("manager_id", Uuid(), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("subscriptions", JsonType, nullable=False),  # escalation kind codes
    Column("roles", JsonType, nullable=False),
    Column("changed_at", UTCDateTime(), nullable=False),  # the event's time: a late older one is ignored
)

_OPEN = "open"
# Each case's clocks (domain.clocks.Clock.to_dict by kind) and what deciding on them needs.
case_clocks = Table(
    "case_clocks", metadata,
    Column("case_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("type_code", String(60), nullable=False),
    Column("area", String(60), nullable=True),
    Column("priority", String(16), nullable=False),
    Column("status", String(24), nullable=False),
    Column("responsible_id", Uuid(), nullable=True),
    Column("contact_email", String(320), nullable=False),  # a mail to it is a first response
    Column("calendar_code", String(60), nullable=False),
    Column("country", String(2), nullable=False),
    Column("timezone", String(60), nullable=False),
    Column("entered_at", UTCDateTime(), nullable=False),
    Column("case_version", Integer, nullable=False),  # the last intake case event applied
    Column("revision", Integer, nullable=False),  # case.sla_changed.v1's count
    Column("policy", JsonType, nullable=False),  # {"deadline", "sla", "type_version", "explicit_due"}
    Column("clocks", JsonType, nullable=False),
    Column("open", Boolean, nullable=False),  # not finished
)
Index("case_clocks_open_type", case_clocks.c.tenant, case_clocks.c.type_code,
      postgresql_where=sa.text(_OPEN), sqlite_where=sa.text(_OPEN))
Index("case_clocks_open_calendar", case_clocks.c.tenant, case_clocks.c.calendar_code,
      postgresql_where=sa.text(_OPEN), sqlite_where=sa.text(_OPEN))

# R2.4: each task's due date is a clock too.
task_clocks = Table(
    "task_clocks", metadata,
    Column("task_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("case_id", Uuid(), nullable=False),
    Column("responsible_id", Uuid(), nullable=True),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("overdue_at", UTCDateTime(), nullable=True),
    Column("closed_at", UTCDateTime(), nullable=True),
)
