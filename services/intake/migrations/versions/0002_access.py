"""intake: users, tokens, API keys; cases get responsible user, project and creator.

Revision ID: intake_0002
Revises: intake_0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType, UTCDateTime
from shared.migrations import alter_schema

revision = "intake_0002"
down_revision = "intake_0001"
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("responsible_id", sa.Uuid(), nullable=True))
        b.add_column(sa.Column("project", sa.String(60), nullable=True))
        b.add_column(sa.Column("created_by", sa.Uuid(), nullable=True))
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), sa.ForeignKey(f"{S}.tenants.slug"), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("mobile", sa.String(20), nullable=True),
        sa.Column("roles", JsonType, nullable=False),
        sa.Column("manager_id", sa.Uuid(), nullable=True),
        sa.Column("projects", JsonType, nullable=False),
        sa.Column("escalation_subscriptions", JsonType, nullable=False),
        sa.Column("language", sa.String(2), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index("users_tenant_email", "users", ["tenant", "email"], unique=True, schema=S)
    op.create_table(
        "access_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        schema=S,
    )
    op.create_index("ix_access_tokens_user_id", "access_tokens", ["user_id"], schema=S)
    op.create_table(
        "password_setup_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        schema=S,
    )
    op.create_index("ix_password_setup_tokens_user_id", "password_setup_tokens", ["user_id"], schema=S)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        schema=S,
    )
    op.create_index("ix_api_keys_tenant", "api_keys", ["tenant"], schema=S)


def downgrade() -> None:
    for t in ("api_keys", "password_setup_tokens", "access_tokens", "users"):
        op.drop_table(t, schema=S)
    with op.batch_alter_table("cases", schema=alter_schema(S)) as b:
        for c in ("created_by", "project", "responsible_id"):
            b.drop_column(c)
