"""notifier's in-app notifications (issue 11 item 3), on the metadata of ``adapters/db.py``.

One row per (event, user): the unique index makes a redelivered or replayed event store nothing
twice. ``read_at`` null: unread. Listed per user newest first (``notifications_user_newest``)."""

from sqlalchemy import Column, Index, String, Table, Text, Uuid

from services.notifier.adapters.db import metadata
from shared.db import UTCDateTime

notifications = Table(
    "notifications", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("event_id", Uuid(), nullable=False),  # the event told of: one notification per (event, user)
    Column("tenant", String(60), nullable=False),
    Column("user_id", Uuid(), nullable=False),
    Column("case_id", Uuid(), nullable=True),
    Column("kind", String(60), nullable=False),  # e.g. "case.commented"
    Column("title", String(300), nullable=False),
    Column("body", Text(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("read_at", UTCDateTime(), nullable=True),
)
Index("notifications_once", notifications.c.event_id, notifications.c.user_id, unique=True)
Index("notifications_user_newest", notifications.c.user_id, notifications.c.created_at.desc(),
      notifications.c.id.desc())
