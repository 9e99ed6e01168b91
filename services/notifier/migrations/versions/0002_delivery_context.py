"""notifier: deliveries carry their language and template context; user directory.

Revision ID: notifier_0002
Revises: notifier_0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType
from shared.migrations import alter_schema

revision = "notifier_0002"
down_revision = "notifier_0001"
branch_labels = None
depends_on = None

S = "notifier"


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("language", sa.String(2), nullable=False, server_default="es"))
        b.add_column(sa.Column("context", JsonType, nullable=False, server_default="{}"))
    op.create_table(
        "user_directory",
        sa.Column("user_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("mobile", sa.String(20), nullable=True),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("user_directory", schema=S)
    with op.batch_alter_table("deliveries", schema=alter_schema(S)) as b:
        b.drop_column("context")
        b.drop_column("language")
