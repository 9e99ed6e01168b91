"""workflow: tenant business calendars (copied from catalog.calendar_changed.v1).

Revision ID: workflow_0002
Revises: workflow_0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType, UTCDateTime

revision = "workflow_0002"
down_revision = "workflow_0001"
branch_labels = None
depends_on = None

S = "workflow"


def upgrade() -> None:
    op.create_table(
        "tenant_calendars",
        sa.Column("tenant", sa.String(60), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("timezone", sa.String(60), nullable=False),
        sa.Column("extra_closed_days", JsonType, nullable=False),
        sa.Column("work_days", JsonType, nullable=False),
        sa.Column("work_start", sa.String(5), nullable=False),
        sa.Column("work_end", sa.String(5), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("tenant_calendars", schema=S)
