"""reporting: copies of intake's parties and assets (R2.9 reports per supply, prospect, stakeholder).

Revision ID: reporting_0002
Revises: reporting_0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "reporting_0002"
down_revision = "reporting_0001"
branch_labels = None
depends_on = None

S = "reporting"


def upgrade() -> None:
    op.create_table(
        "party_facts",
        sa.Column("party_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index("party_facts_tenant_kind", "party_facts", ["tenant", "kind"], schema=S)
    op.create_table(
        "asset_facts",
        sa.Column("asset_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("code", sa.String(80), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index("asset_facts_tenant_kind", "asset_facts", ["tenant", "kind"], schema=S)


def downgrade() -> None:
    for t in ("asset_facts", "party_facts"):
        op.drop_table(t, schema=S)
