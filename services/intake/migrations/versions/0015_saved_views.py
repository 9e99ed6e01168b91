"""intake: saved inbox views (R4.5) — a user's named inbox query strings.

Revision ID: intake_0015_saved_views
Revises: intake_0014_self_service
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "intake_0015_saved_views"
down_revision = "intake_0014_self_service"
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("query", sa.String(2000), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index("saved_views_owner_name", "saved_views", ["tenant", "user_id", "name"], unique=True, schema=S)


def downgrade() -> None:
    op.drop_index("saved_views_owner_name", "saved_views", schema=S)
    op.drop_table("saved_views", schema=S)
