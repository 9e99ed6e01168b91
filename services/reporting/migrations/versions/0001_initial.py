"""reporting: case facts, outbox and inbox.

Revision ID: reporting_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.migrations import create_messaging_tables

revision = "reporting_0001"
down_revision = None
branch_labels = None
depends_on = None

S = "reporting"


def upgrade() -> None:
    create_messaging_tables(S)
    op.create_table(
        "case_facts",
        sa.Column("case_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("type_code", sa.String(60), nullable=False),
        sa.Column("type_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("overdue_at", UTCDateTime(), nullable=True),
        sa.Column("emails_sent", sa.Integer(), nullable=False, server_default="0"),
        schema=S,
    )
    op.create_index("case_facts_tenant_status", "case_facts", ["tenant", "status"], schema=S)
    op.create_index("case_facts_tenant_type", "case_facts", ["tenant", "type_code"], schema=S)


def downgrade() -> None:
    for t in ("case_facts", "inbox", "outbox"):
        op.drop_table(t, schema=S)
