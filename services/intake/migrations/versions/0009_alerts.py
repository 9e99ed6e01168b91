"""intake: what people see of time (issue 10) — alerts, each case's clocks and hold.

Revision ID: intake_0009_alerts
Revises: intake_0008_time_catalog
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType, UTCDateTime

revision = "intake_0009_alerts"
down_revision = "intake_0008_time_catalog"
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("responsible_id", sa.Uuid(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("raised_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(200), nullable=True),
        schema=S,
    )
    op.create_index("alerts_tenant_open_due", "alerts", ["tenant", "ended_at", "due_at"], schema=S)
    op.create_index("alerts_case", "alerts", ["case_id"], schema=S)
    op.create_table(
        "alert_seen",
        sa.Column("alert_id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), primary_key=True),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_table(
        "case_clocks",
        sa.Column("case_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("clocks", JsonType, nullable=False),
        sa.Column("executable_from", UTCDateTime(), nullable=True),
        sa.Column("executable_from_date", sa.Date(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("case_clocks", schema=S)
    op.drop_table("alert_seen", schema=S)
    op.drop_index("alerts_case", "alerts", schema=S)
    op.drop_index("alerts_tenant_open_due", "alerts", schema=S)
    op.drop_table("alerts", schema=S)
