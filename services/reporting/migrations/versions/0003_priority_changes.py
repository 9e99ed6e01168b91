"""reporting: priority changes (R0.5).

Revision ID: reporting_0003_priority
Revises: reporting_0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.migrations import big_id

revision = "reporting_0003_priority"
down_revision = "reporting_0001"
branch_labels = None
depends_on = None

S = "reporting"


def upgrade() -> None:
    op.create_table(
        "priority_changes",
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("by", sa.Uuid(), nullable=True),
        sa.Column("by_name", sa.String(200), nullable=True),
        sa.Column("old", sa.String(16), nullable=False),
        sa.Column("new", sa.String(16), nullable=False),
        sa.Column("raised", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("reason_text", sa.Text(), nullable=True),
        schema=S,
    )
    op.create_index("priority_changes_tenant_at", "priority_changes", ["tenant", "at"], schema=S)


def downgrade() -> None:
    op.drop_table("priority_changes", schema=S)
