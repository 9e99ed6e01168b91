"""intake: R1.4 surrender rules — a case type may require an earlier case of another type on the
same policy (``case_types.preceded_by``: that type's code; NULL: none).

Revision ID: intake_0012_surrender_rules
Revises: intake_0011_party_executive
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import alter_schema

revision = "intake_0012_surrender_rules"
down_revision = "intake_0011_party_executive"
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    with op.batch_alter_table("case_types", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("preceded_by", sa.String(60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_types", schema=alter_schema(S)) as b:
        b.drop_column("preceded_by")
