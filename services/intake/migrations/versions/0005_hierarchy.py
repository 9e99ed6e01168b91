"""intake: the hierarchy's remaining columns (issue 4, R2.2–R2.6, R0.2) — the per-tenant counter
of interaction codes, who closed an interaction and why, an activity's text and completion, a
work order's execution, and the technical manager's inbox index.

Revision ID: intake_0005_hierarchy
Revises: intake_0004_cases
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.migrations import alter_schema

revision = "intake_0005_hierarchy"
down_revision = "intake_0004_cases"
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    # R2.2: "AT-000123", one counter row per tenant, taken with an upsert (race-safe).
    op.create_table(
        "interaction_counters",
        sa.Column("tenant", sa.String(60), primary_key=True),
        sa.Column("last_number", sa.Integer(), nullable=False),
        schema=S,
    )
    with op.batch_alter_table("interactions", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("closed_by", sa.Uuid(), nullable=True))
        b.add_column(sa.Column("closing_note", sa.Text(), nullable=True))
    with op.batch_alter_table("activities", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("description", sa.Text(), nullable=True))
        b.add_column(sa.Column("created_by", sa.Uuid(), nullable=True))
        b.add_column(sa.Column("completed_by", sa.Uuid(), nullable=True))
        b.add_column(sa.Column("completed_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("work_orders", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("executed_by", sa.Uuid(), nullable=True))
        b.add_column(sa.Column("execution_note", sa.Text(), nullable=True))
    op.create_index("work_orders_tenant_status", "work_orders", ["tenant", "status", "created_at"], schema=S)
    op.create_index("attachments_case", "attachments", ["case_id"], schema=S)


def downgrade() -> None:
    op.drop_index("attachments_case", table_name="attachments", schema=S)
    op.drop_index("work_orders_tenant_status", table_name="work_orders", schema=S)
    with op.batch_alter_table("work_orders", schema=alter_schema(S)) as b:
        b.drop_column("execution_note")
        b.drop_column("executed_by")
    with op.batch_alter_table("activities", schema=alter_schema(S)) as b:
        for name in ("completed_at", "completed_by", "created_by", "description"):
            b.drop_column(name)
    with op.batch_alter_table("interactions", schema=alter_schema(S)) as b:
        b.drop_column("closing_note")
        b.drop_column("closed_by")
    op.drop_table("interaction_counters", schema=S)
