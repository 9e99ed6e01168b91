"""reporting: event log (R2.9 period reports).

Revision ID: reporting_0005_event_log
Revises: reporting_0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType, UTCDateTime

revision = "reporting_0005_event_log"
down_revision = "reporting_0001"
branch_labels = None
depends_on = None

S = "reporting"


def upgrade() -> None:
    op.create_table(
        "event_log",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("subject", sa.String(80), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("data", JsonType, nullable=False),
        schema=S,
    )
    op.create_index("event_log_tenant_type_at", "event_log", ["tenant", "type", "at"], schema=S)


def downgrade() -> None:
    op.drop_table("event_log", schema=S)
