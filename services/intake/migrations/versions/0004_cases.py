"""intake: the working day (issue 4) — case classification, association, dates and follow-ups;
history, interactions, tasks, work orders, activities, attachments.

Revision ID: intake_0004_cases
Revises: intake_0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType, UTCDateTime
from shared.migrations import alter_schema, big_id

revision = "intake_0004_cases"
down_revision = "intake_0002"
branch_labels = None
depends_on = None

S = "intake"


def new_case_columns() -> list[sa.Column]:  # fresh objects each time: a Column belongs to one table
    return [
        sa.Column("interaction_id", sa.Uuid(), nullable=True),
        sa.Column("party_id", sa.Uuid(), nullable=True),
        sa.Column("asset_id", sa.Uuid(), nullable=True),
        sa.Column("association", sa.String(20), nullable=True),
        sa.Column("channel", sa.String(40), nullable=True),
        sa.Column("category_path", JsonType, nullable=True),
        sa.Column("area", sa.String(60), nullable=True),
        sa.Column("document_class", sa.String(30), nullable=False, server_default="request"),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("customer_commitment_date", sa.Date(), nullable=True),
        sa.Column("internal_commitment_date", sa.Date(), nullable=True),
        sa.Column("explicit_due_date", sa.Date(), nullable=True),
        sa.Column("not_satisfied", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("follow_up_of", sa.Uuid(), nullable=True),
        sa.Column("follow_up_kind", sa.String(40), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    ]


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=alter_schema(S)) as b:
        for col in new_case_columns():
            b.add_column(col)
    op.create_index("cases_follow_up_of", "cases", ["follow_up_of"], schema=S)
    op.create_index("cases_interaction", "cases", ["interaction_id"], schema=S)
    op.create_index("cases_party", "cases", ["tenant", "party_id"], schema=S)
    op.create_table(
        "case_history",
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("data", JsonType, nullable=False),
        schema=S,
    )
    op.create_index("case_history_case", "case_history", ["case_id", "id"], schema=S)
    op.create_table(
        "interactions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("code", sa.String(30), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=True),
        sa.Column("asset_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        schema=S,
    )
    op.create_index("interactions_tenant_code", "interactions", ["tenant", "code"], unique=True, schema=S)
    op.create_index("interactions_party", "interactions", ["tenant", "party_id"], schema=S)
    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("responsible_id", sa.Uuid(), nullable=False),
        sa.Column("cc_user_ids", JsonType, nullable=False),
        sa.Column("area", sa.String(60), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closing_note", sa.Text(), nullable=True),
        schema=S,
    )
    op.create_index("tasks_case", "tasks", ["case_id"], schema=S)
    op.create_index("tasks_responsible_open", "tasks", ["tenant", "responsible_id", "status", "due_date"], schema=S)
    op.create_table(
        "work_orders",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("executed_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_table(
        "activities",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("planned_date", sa.Date(), nullable=True),
        sa.Column("done_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index("ix_activities_case_id", "activities", ["case_id"], schema=S)
    op.create_table(
        "attachments",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("owner_kind", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.Uuid(), nullable=True),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.Column("is_signed_letter", sa.Boolean(), nullable=False, server_default=sa.false()),
        schema=S,
    )
    op.create_index("attachments_owner", "attachments", ["owner_kind", "owner_id"], schema=S)


def downgrade() -> None:
    for t in ("attachments", "activities", "work_orders", "tasks", "interactions", "case_history"):
        op.drop_table(t, schema=S)
    for ix in ("cases_party", "cases_interaction", "cases_follow_up_of"):
        op.drop_index(ix, table_name="cases", schema=S)
    with op.batch_alter_table("cases", schema=alter_schema(S)) as b:
        for col in reversed(new_case_columns()):
            b.drop_column(col.name)
