"""notifier: case recipients, deliveries, outbox and inbox.

Revision ID: notifier_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.migrations import create_messaging_tables

revision = "notifier_0001"
down_revision = None
branch_labels = None
depends_on = None

S = "notifier"


def upgrade() -> None:
    create_messaging_tables(S)
    op.create_table(
        "case_recipients",
        sa.Column("case_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("timezone", sa.String(60), nullable=False),
        sa.Column("type_name", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact_name", sa.String(200), nullable=False),
        sa.Column("contact_email", sa.String(254), nullable=False),
        sa.Column("contact_phone", sa.String(20), nullable=True),
        sa.Column("responsible_email", sa.String(254), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("template", sa.String(60), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("recipient_role", sa.String(30), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        schema=S,
    )
    op.create_index("deliveries_once", "deliveries", ["event_id", "channel", "recipient"], unique=True, schema=S)


def downgrade() -> None:
    for t in ("deliveries", "case_recipients", "inbox", "outbox"):
        op.drop_table(t, schema=S)
