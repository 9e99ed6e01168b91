"""intake: the catalog — channels, areas, projects, category tree, business calendar; case types
get their rules (deadline unit and amount instead of deadline_business_days, allowed channels,
pinned fields, default priority, follow-up and attachments flags, required fields, project scope,
version).

Revision ID: intake_0003_catalog
Revises: intake_0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType, UTCDateTime
from shared.migrations import alter_schema

revision = "intake_0003_catalog"
down_revision = "intake_0002"
branch_labels = None
depends_on = None

S = "intake"


def _entry_table(name: str, *extra: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("tenant", sa.String(60), sa.ForeignKey(f"{S}.tenants.slug"), primary_key=True),
        sa.Column("code", sa.String(60), primary_key=True),
        sa.Column("name_es", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        *extra,
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )


def upgrade() -> None:
    _entry_table("channels")
    _entry_table("areas", sa.Column("head_user_id", sa.Uuid(), nullable=True))
    _entry_table("projects")
    op.create_table(
        "categories",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), sa.ForeignKey(f"{S}.tenants.slug"), nullable=False),
        sa.Column("parent_id", sa.Uuid(), sa.ForeignKey(f"{S}.categories.id"), nullable=True),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("path", sa.String(200), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("name_es", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index("categories_tenant_path", "categories", ["tenant", "path"], unique=True, schema=S)
    op.create_table(
        "calendars",
        sa.Column("tenant", sa.String(60), sa.ForeignKey(f"{S}.tenants.slug"), primary_key=True),
        sa.Column("extra_closed_days", JsonType, nullable=False),
        sa.Column("work_days", JsonType, nullable=False),
        sa.Column("work_start", sa.String(5), nullable=False),
        sa.Column("work_end", sa.String(5), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )

    # Case types: the rule becomes unit + amount; existing types keep their business days.
    with op.batch_alter_table("case_types", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("deadline_unit", sa.String(16), nullable=False, server_default="business_days"))
        b.add_column(sa.Column("deadline_amount", sa.Integer(), nullable=True))
        b.add_column(sa.Column("allowed_channels", JsonType, nullable=True))
        b.add_column(sa.Column("pinned", JsonType, nullable=True))
        b.add_column(sa.Column("default_priority", sa.String(16), nullable=False, server_default="normal"))
        b.add_column(sa.Column("is_follow_up", sa.Boolean(), nullable=False, server_default=sa.false()))
        b.add_column(sa.Column("requires_attachments_to_finish", sa.Boolean(), nullable=False,
                               server_default=sa.false()))
        b.add_column(sa.Column("required_fields", JsonType, nullable=True))
        b.add_column(sa.Column("projects", JsonType, nullable=True))
        b.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        b.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
    ct = sa.table("case_types", sa.column("deadline_amount", sa.Integer()),
                  sa.column("deadline_business_days", sa.Integer()), schema=alter_schema(S))
    op.execute(ct.update().values(deadline_amount=ct.c.deadline_business_days))
    with op.batch_alter_table("case_types", schema=alter_schema(S)) as b:
        b.alter_column("deadline_amount", existing_type=sa.Integer(), nullable=False)
        b.drop_column("deadline_business_days")


def downgrade() -> None:
    with op.batch_alter_table("case_types", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("deadline_business_days", sa.Integer(), nullable=True))
    ct = sa.table("case_types", sa.column("deadline_amount", sa.Integer()),
                  sa.column("deadline_unit", sa.String()),
                  sa.column("deadline_business_days", sa.Integer()), schema=alter_schema(S))
    # A business-hours rule has no exact business-days equivalent: a day per 8 hours, at least 1.
    op.execute(ct.update().values(deadline_business_days=sa.case(
        (ct.c.deadline_unit == "business_hours", sa.func.max(1, (ct.c.deadline_amount + 7) / 8))
        if op.get_bind().dialect.name == "sqlite" else
        (ct.c.deadline_unit == "business_hours", sa.func.greatest(1, (ct.c.deadline_amount + 7) / 8)),
        else_=ct.c.deadline_amount)))
    with op.batch_alter_table("case_types", schema=alter_schema(S)) as b:
        b.alter_column("deadline_business_days", existing_type=sa.Integer(), nullable=False)
        for c in ("updated_at", "version", "projects", "required_fields", "requires_attachments_to_finish",
                  "is_follow_up", "default_priority", "pinned", "allowed_channels", "deadline_amount",
                  "deadline_unit"):
            b.drop_column(c)
    for t in ("calendars", "categories", "projects", "areas", "channels"):
        op.drop_table(t, schema=S)
