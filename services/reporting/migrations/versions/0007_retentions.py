"""reporting: retentions and retention offers (R1.5 commission report).

Revision ID: reporting_0007_retentions
Revises: reporting_0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType, UTCDateTime

revision = "reporting_0007_retentions"
down_revision = "reporting_0001"
branch_labels = None
depends_on = None

S = "reporting"


def upgrade() -> None:
    op.create_table(
        "retentions",
        sa.Column("case_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("executive_id", sa.Uuid(), nullable=True),
        sa.Column("executive_name", sa.String(200), nullable=True),
        sa.Column("party_id", sa.Uuid(), nullable=True),
        sa.Column("asset_id", sa.Uuid(), nullable=True),
        sa.Column("policy_code", sa.String(80), nullable=True),
        sa.Column("offers_accepted", JsonType, nullable=False),
        sa.Column("retained_at", UTCDateTime(), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        schema=S,
    )
    op.create_index("retentions_tenant_period", "retentions", ["tenant", "period"], schema=S)
    op.create_table(
        "retention_offers",
        sa.Column("offer_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=True),
        sa.Column("offered_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index("retention_offers_case", "retention_offers", ["case_id"], schema=S)


def downgrade() -> None:
    op.drop_table("retention_offers", schema=S)
    op.drop_table("retentions", schema=S)
