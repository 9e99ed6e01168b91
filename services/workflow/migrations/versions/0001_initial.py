"""workflow: case deadlines, timers, outbox and inbox.

Revision ID: workflow_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.migrations import create_messaging_tables
from shared.timers import create_timer_table

revision = "workflow_0001"
down_revision = None
branch_labels = None
depends_on = None

S = "workflow"


def upgrade() -> None:
    create_messaging_tables(S)
    create_timer_table(S)
    op.create_table(
        "case_deadlines",
        sa.Column("case_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("type_code", sa.String(60), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("entered_at", UTCDateTime(), nullable=False),
        sa.Column("business_days", sa.Integer(), nullable=False),
        sa.Column("calendar_country", sa.String(2), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("overdue_at", UTCDateTime(), nullable=True),
        schema=S,
    )


def downgrade() -> None:
    for t in ("case_deadlines", "timers", "inbox", "outbox"):
        op.drop_table(t, schema=S)
