"""notifier: in-app notifications per user (issue 11).

Revision ID: notifier_0005_in_app
Revises: notifier_0004_sms
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "notifier_0005_in_app"
down_revision = "notifier_0004_sms"
branch_labels = None
depends_on = None

S = "notifier"


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        schema=S,
    )
    op.create_index("notifications_once", "notifications", ["event_id", "user_id"], unique=True, schema=S)
    op.create_index("notifications_user_newest", "notifications",
                    ["user_id", sa.text("created_at DESC"), sa.text("id DESC")], schema=S)


def downgrade() -> None:
    op.drop_index("notifications_user_newest", table_name="notifications", schema=S)
    op.drop_index("notifications_once", table_name="notifications", schema=S)
    op.drop_table("notifications", schema=S)
