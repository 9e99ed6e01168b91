"""intake: tenants, case types, cases, idempotency keys, outbox and inbox.

Revision ID: intake_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType, UTCDateTime
from shared.migrations import create_messaging_tables

revision = "intake_0001"
down_revision = None
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    create_messaging_tables(S)
    op.create_table(
        "tenants",
        sa.Column("slug", sa.String(60), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("timezone", sa.String(60), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("next_case_number", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_table(
        "case_types",
        sa.Column("tenant", sa.String(60), sa.ForeignKey(f"{S}.tenants.slug"), primary_key=True),
        sa.Column("code", sa.String(60), primary_key=True),
        sa.Column("name_es", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("deadline_business_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        schema=S,
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("type_code", sa.String(60), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact_name", sa.String(200), nullable=False),
        sa.Column("contact_email", sa.String(254), nullable=False),
        sa.Column("contact_phone", sa.String(20), nullable=True),
        sa.Column("responsible_email", sa.String(254), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("overdue_since", UTCDateTime(), nullable=True),
        schema=S,
    )
    op.create_index("cases_tenant_number", "cases", ["tenant", "number"], unique=True, schema=S)
    op.create_index("cases_tenant_status_created", "cases", ["tenant", "status", "created_at"], schema=S)
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant", sa.String(60), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", JsonType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    for t in ("idempotency_keys", "cases", "case_types", "tenants", "inbox", "outbox"):
        op.drop_table(t, schema=S)
