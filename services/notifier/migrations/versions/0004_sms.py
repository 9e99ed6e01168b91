"""notifier: SMS deliveries (Twilio): provider ids, states and their history (issue 11).

Revision ID: notifier_0004_sms
Revises: notifier_0003_backbone
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.migrations import alter_schema

revision = "notifier_0004_sms"
down_revision = "notifier_0003_backbone"
branch_labels = None
depends_on = None

S = "notifier"


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=alter_schema(S)) as b:
        b.alter_column("state", type_=sa.String(12), existing_type=sa.String(10), existing_nullable=False)
        b.add_column(sa.Column("provider_sid", sa.String(64), nullable=True))
        b.add_column(sa.Column("error_code", sa.String(12), nullable=True))
    op.create_index("deliveries_provider_sid", "deliveries", ["provider_sid"], schema=S)
    op.create_table(
        "delivery_events",
        sa.Column("delivery_id", sa.Uuid(), primary_key=True),
        sa.Column("state", sa.String(12), primary_key=True),
        sa.Column("error_code", sa.String(12), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("delivery_events", schema=S)
    op.drop_index("deliveries_provider_sid", table_name="deliveries", schema=S)
    with op.batch_alter_table("deliveries", schema=alter_schema(S)) as b:
        b.drop_column("error_code")
        b.drop_column("provider_sid")
        b.alter_column("state", type_=sa.String(10), existing_type=sa.String(12), existing_nullable=False)
