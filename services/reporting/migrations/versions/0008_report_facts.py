"""reporting: the facts the SLA and workload reports need (issue 13), interactions and tasks
(R2.9), each tenant's time zone, and an event log that keeps every event reporting applied, in
the order it applied them (the source of ``atiende reporting rebuild``).

The old ``event_log`` (working-day events only, no order) is copied into the new one in time
order and replaced.

Revision ID: reporting_0008_report_facts
Revises: reporting_0005_event_log
Create Date: 2026-12-03
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType, UTCDateTime
from shared.migrations import alter_schema, big_id

revision = "reporting_0008_report_facts"
down_revision = "reporting_0005_event_log"
branch_labels = None
depends_on = None

S = "reporting"

# The old log's types that workflow publishes (the rest are intake's).
WORKFLOW_TYPES = ("case.clock_met.v1", "case.clock_breached.v1", "case.escalated.v1", "case.sla_warning.v1")
CLOCK_COLUMNS = ("state", "cycle", "due_at", "met_at", "breached_at", "business_seconds")


def _clock_columns(kind: str) -> list[sa.Column[Any]]:
    return [sa.Column(f"{kind}_state", sa.String(16), nullable=True),
            sa.Column(f"{kind}_cycle", sa.Integer(), nullable=True),
            sa.Column(f"{kind}_due_at", UTCDateTime(), nullable=True),
            sa.Column(f"{kind}_met_at", UTCDateTime(), nullable=True),
            sa.Column(f"{kind}_breached_at", UTCDateTime(), nullable=True),
            sa.Column(f"{kind}_business_seconds", sa.Integer(), nullable=True)]


def upgrade() -> None:
    columns: list[sa.Column[Any]] = [
        sa.Column("area", sa.String(60), nullable=True),
        sa.Column("channel", sa.String(60), nullable=True),
        sa.Column("project", sa.String(60), nullable=True),
        sa.Column("responsible_id", sa.Uuid(), nullable=True),
        sa.Column("responsible_name", sa.String(200), nullable=True),
        sa.Column("priority", sa.String(16), nullable=True),
        sa.Column("party_id", sa.Uuid(), nullable=True),
        sa.Column("asset_id", sa.Uuid(), nullable=True),
        sa.Column("time_zone", sa.String(60), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("finished_status", sa.String(24), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("sla_revision", sa.Integer(), nullable=False, server_default="0"),
        *_clock_columns("first_response"), *_clock_columns("resolution")]
    with op.batch_alter_table("case_facts", schema=alter_schema(S)) as b:
        for col in columns:
            b.add_column(col)
    op.create_index("case_facts_tenant_created", "case_facts", ["tenant", "created_at"], schema=S)
    op.create_index("case_facts_tenant_party", "case_facts", ["tenant", "party_id"], schema=S)
    op.create_index("case_facts_tenant_asset", "case_facts", ["tenant", "asset_id"], schema=S)

    op.create_table(
        "tenant_zones",
        sa.Column("tenant", sa.String(60), primary_key=True),
        sa.Column("time_zone", sa.String(60), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_table(
        "interaction_facts",
        sa.Column("interaction_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=True),
        sa.Column("asset_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(60), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        schema=S,
    )
    op.create_index("interaction_facts_tenant_party", "interaction_facts", ["tenant", "party_id"], schema=S)
    op.create_index("interaction_facts_tenant_asset", "interaction_facts", ["tenant", "asset_id"], schema=S)
    op.create_table(
        "task_facts",
        sa.Column("task_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("area", sa.String(60), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("responsible_id", sa.Uuid(), nullable=False),
        sa.Column("responsible_name", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        schema=S,
    )
    op.create_index("task_facts_tenant_case", "task_facts", ["tenant", "case_id"], schema=S)

    op.create_table(
        "event_log_v2",
        sa.Column("position", big_id(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("source", sa.String(80), nullable=False),
        sa.Column("subject", sa.String(80), nullable=True),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("correlationid", sa.String(120), nullable=True),
        sa.Column("causationid", sa.String(120), nullable=True),
        sa.Column("data", JsonType, nullable=False),
        schema=S,
    )
    cols = ("event_id", "tenant", "type", "subject", "at", "data")
    old = sa.table("event_log", *(sa.column(c) for c in cols), schema=alter_schema(S))
    new = sa.table("event_log_v2", *(sa.column(c) for c in (*cols, "source")), schema=alter_schema(S))
    op.execute(new.insert().from_select(
        [*cols, "source"], sa.select(*(old.c[c] for c in cols), sa.case(
            (old.c.type.in_(WORKFLOW_TYPES), "atiende/workflow"), else_="atiende/intake"))
        .order_by(old.c.at, old.c.event_id)))
    op.drop_table("event_log", schema=S)
    op.rename_table("event_log_v2", "event_log", schema=alter_schema(S))
    op.create_index("event_log_tenant_type_at", "event_log", ["tenant", "type", "at"], schema=S)


def downgrade() -> None:
    op.drop_table("task_facts", schema=S)
    op.drop_table("interaction_facts", schema=S)
    op.drop_table("tenant_zones", schema=S)
    for name in ("case_facts_tenant_asset", "case_facts_tenant_party", "case_facts_tenant_created"):
        op.drop_index(name, "case_facts", schema=S)
    with op.batch_alter_table("case_facts", schema=alter_schema(S)) as b:
        for kind in ("resolution", "first_response"):
            for c in CLOCK_COLUMNS:
                b.drop_column(f"{kind}_{c}")
        for c in ("sla_revision", "reopened", "finished_status", "finished_at", "answered_at", "time_zone",
                  "asset_id", "party_id", "priority", "responsible_name", "responsible_id", "project", "channel",
                  "area"):
            b.drop_column(c)
