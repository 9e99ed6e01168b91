"""workflow: SLA clocks (issue 10) — several calendars per tenant, time settings, areas, people,
each case's clocks and each task's due date. The single ``tenant_calendars`` row of a tenant
becomes its calendar "default".

Revision ID: workflow_0004_clocks
Revises: workflow_0003_backbone
Create Date: 2026-12-03
"""

import json

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType, UTCDateTime
from shared.migrations import alter_schema

revision = "workflow_0004_clocks"
down_revision = "workflow_0003_backbone"
branch_labels = None
depends_on = None

S = "workflow"
_OPEN = "open"


def upgrade() -> None:
    op.create_table(
        "calendars",
        sa.Column("tenant", sa.String(60), primary_key=True),
        sa.Column("code", sa.String(60), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", JsonType, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    old = sa.table("tenant_calendars", *(sa.column(c) for c in (
        "tenant", "version", "country", "timezone", "extra_closed_days", "work_days", "work_start", "work_end",
        "updated_at")), schema=alter_schema(S))
    new = sa.table("calendars", *(sa.column(c) for c in ("tenant", "code", "version", "data", "updated_at")),
                   schema=alter_schema(S))
    bind = op.get_bind()
    for r in bind.execute(sa.select(old)).mappings().all():
        days = r["extra_closed_days"]
        days = days if isinstance(days, list) else json.loads(days)
        work = r["work_days"] if isinstance(r["work_days"], list) else json.loads(r["work_days"])
        data = {"country": r["country"], "timezone": r["timezone"], "extra_closed_days": [{"date": d} for d in days],
                "work_days": work, "work_start": r["work_start"], "work_end": r["work_end"],
                "version": r["version"], "code": "default"}
        bind.execute(new.insert().values(tenant=r["tenant"], code="default", version=r["version"],
                                         data=sa.bindparam("d", data, type_=JsonType), updated_at=r["updated_at"]))
    op.drop_table("tenant_calendars", schema=S)
    op.create_table(
        "sla_settings",
        sa.Column("tenant", sa.String(60), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", JsonType, nullable=False),
        schema=S,
    )
    op.create_table(
        "areas",
        sa.Column("tenant", sa.String(60), primary_key=True),
        sa.Column("code", sa.String(60), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("head_user_id", sa.Uuid(), nullable=True),
        sa.Column("calendar", sa.String(60), nullable=True),
        schema=S,
    )
    op.create_table(
        "people",
        sa.Column("user_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("manager_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("subscriptions", JsonType, nullable=False),
        sa.Column("roles", JsonType, nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index("ix_workflow_people_tenant", "people", ["tenant"], schema=S)
    op.create_table(
        "case_clocks",
        sa.Column("case_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("type_code", sa.String(60), nullable=False),
        sa.Column("area", sa.String(60), nullable=True),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("responsible_id", sa.Uuid(), nullable=True),
        sa.Column("contact_email", sa.String(320), nullable=False),
        sa.Column("calendar_code", sa.String(60), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("timezone", sa.String(60), nullable=False),
        sa.Column("entered_at", UTCDateTime(), nullable=False),
        sa.Column("case_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("policy", JsonType, nullable=False),
        sa.Column("clocks", JsonType, nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        schema=S,
    )
    op.create_index("case_clocks_open_type", "case_clocks", ["tenant", "type_code"], schema=S,
                    postgresql_where=sa.text(_OPEN), sqlite_where=sa.text(_OPEN))
    op.create_index("case_clocks_open_calendar", "case_clocks", ["tenant", "calendar_code"], schema=S,
                    postgresql_where=sa.text(_OPEN), sqlite_where=sa.text(_OPEN))
    op.create_table(
        "task_clocks",
        sa.Column("task_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("responsible_id", sa.Uuid(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("overdue_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        schema=S,
    )


def downgrade() -> None:
    for t in ("task_clocks", "case_clocks", "people", "areas", "sla_settings", "calendars"):
        op.drop_table(t, schema=S)
