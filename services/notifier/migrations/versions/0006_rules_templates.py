"""notifier: notification rules and templates per tenant (issue 11).

Revision ID: notifier_0006_rules_templates
Revises: notifier_0005_in_app
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType, UTCDateTime

revision = "notifier_0006_rules_templates"
down_revision = "notifier_0005_in_app"
branch_labels = None
depends_on = None

S = "notifier"


def upgrade() -> None:
    op.create_table(
        "notification_rules",
        sa.Column("tenant", sa.String(60), primary_key=True),
        sa.Column("event_type", sa.String(80), primary_key=True),
        sa.Column("recipient_role", sa.String(40), primary_key=True),
        sa.Column("channels", JsonType, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_table(
        "notification_templates",
        sa.Column("tenant", sa.String(60), primary_key=True),
        sa.Column("template", sa.String(60), primary_key=True),
        sa.Column("channel", sa.String(10), primary_key=True),
        sa.Column("language", sa.String(2), primary_key=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("notification_templates", schema=S)
    op.drop_table("notification_rules", schema=S)
