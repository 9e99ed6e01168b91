"""intake: catalog data of the case rules — a case type's ``requires_interaction`` (R2.3) and
``follow_up_kind`` (R3.5), a project's ``business_line`` (R3.5).

TEMPORARY on branch ``accounts``: helper "cases" owns the real migration of this revision;
the lead keeps theirs at merge.

Revision ID: intake_0006_case_rules
Revises: intake_0005_hierarchy, intake_0005_inbox, intake_0003_catalog
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import alter_schema

revision = "intake_0006_case_rules"
down_revision = ("intake_0005_hierarchy", "intake_0005_inbox", "intake_0003_catalog")
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    with op.batch_alter_table("case_types", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("requires_interaction", sa.Boolean(), nullable=False, server_default=sa.false()))
        b.add_column(sa.Column("follow_up_kind", sa.String(40), nullable=True))
    with op.batch_alter_table("projects", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("business_line", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=alter_schema(S)) as b:
        b.drop_column("business_line")
    with op.batch_alter_table("case_types", schema=alter_schema(S)) as b:
        b.drop_column("follow_up_kind")
        b.drop_column("requires_interaction")
