"""intake: R4.10 — the inbox export's background jobs and their files (in chunks, so any replica
serves a download), and the tenant's audit trail (``audit_log``; every download is a line).

Revision ID: intake_0013_exports_audit
Revises: intake_0012_surrender_rules
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType, UTCDateTime

revision = "intake_0013_exports_audit"
down_revision = "intake_0012_surrender_rules"
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("separator", sa.String(1), nullable=True),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("filters", JsonType, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("rows_total_exact", sa.Boolean(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("file_name", sa.String(120), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index("export_jobs_owner_created", "export_jobs", ["tenant", "user_id", "created_at", "id"], schema=S)
    op.create_index("export_jobs_expires", "export_jobs", ["expires_at"], schema=S)
    op.create_table(
        "export_files",
        sa.Column("job_id", sa.Uuid(), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        schema=S,
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("actor_email", sa.String(254), nullable=True),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("details", JsonType, nullable=False),
        schema=S,
    )
    op.create_index("audit_log_tenant_at", "audit_log", ["tenant", "at", "id"], schema=S)
    op.create_index("audit_log_tenant_action_at", "audit_log", ["tenant", "action", "at", "id"], schema=S)


def downgrade() -> None:
    op.drop_index("audit_log_tenant_action_at", "audit_log", schema=S)
    op.drop_index("audit_log_tenant_at", "audit_log", schema=S)
    op.drop_table("audit_log", schema=S)
    op.drop_table("export_files", schema=S)
    op.drop_index("export_jobs_expires", "export_jobs", schema=S)
    op.drop_index("export_jobs_owner_created", "export_jobs", schema=S)
    op.drop_table("export_jobs", schema=S)
