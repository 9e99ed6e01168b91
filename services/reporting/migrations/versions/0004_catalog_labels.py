"""reporting: catalog labels.

Revision ID: reporting_0004_labels
Revises: reporting_0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "reporting_0004_labels"
down_revision = "reporting_0001"
branch_labels = None
depends_on = None

S = "reporting"


def upgrade() -> None:
    op.create_table(
        "catalog_labels",
        sa.Column("tenant", sa.String(60), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("code", sa.String(200), primary_key=True),
        sa.Column("name_es", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("catalog_labels", schema=S)
