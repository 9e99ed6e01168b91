"""intake: R1.1 (issue 12) — the customer's commercial executive (a user of the tenant) on
parties, the churn-alert flag on case types and, in the SLA settings, how many managers above
the executive the churn alerts reach (None: the default, 2).

Revision ID: intake_0011_party_executive
Revises: intake_0010_retention_offers
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import alter_schema

revision = "intake_0011_party_executive"
down_revision = "intake_0010_retention_offers"
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    with op.batch_alter_table("parties", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("executive_id", sa.Uuid(), nullable=True))
    op.create_index("parties_executive", "parties", ["executive_id"], schema=S)
    with op.batch_alter_table("case_types", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("churn_alert", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("sla_settings", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("churn_alert_levels", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sla_settings", schema=alter_schema(S)) as b:
        b.drop_column("churn_alert_levels")
    with op.batch_alter_table("case_types", schema=alter_schema(S)) as b:
        b.drop_column("churn_alert")
    op.drop_index("parties_executive", "parties", schema=S)
    with op.batch_alter_table("parties", schema=alter_schema(S)) as b:
        b.drop_column("executive_id")
