"""intake: R1.3 retention offers on a retention request (issue 12).

Revision ID: intake_0010_retention_offers
Revises: intake_0009_alerts
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "intake_0010_retention_offers"
down_revision = "intake_0009_alerts"
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    op.create_table(
        "retention_offers",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("offered_at", UTCDateTime(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_by_name", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index("retention_offers_case", "retention_offers", ["case_id", "offered_at"], schema=S)


def downgrade() -> None:
    op.drop_index("retention_offers_case", "retention_offers", schema=S)
    op.drop_table("retention_offers", schema=S)
