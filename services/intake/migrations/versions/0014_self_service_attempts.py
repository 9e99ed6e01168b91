"""intake: customer self-service (R3.5) — failed look-ups, counted per client address and per
request number so that every replica applies the same limit.

Revision ID: intake_0014_self_service
Revises: intake_0013_exports_audit
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.migrations import big_id

revision = "intake_0014_self_service"
down_revision = "intake_0013_exports_audit"
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    op.create_table(
        "self_service_attempts",
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index("self_service_attempts_key", "self_service_attempts", ["tenant", "scope", "key_hash", "at"],
                    schema=S)
    op.create_index("self_service_attempts_at", "self_service_attempts", ["at"], schema=S)


def downgrade() -> None:
    op.drop_index("self_service_attempts_at", "self_service_attempts", schema=S)
    op.drop_index("self_service_attempts_key", "self_service_attempts", schema=S)
    op.drop_table("self_service_attempts", schema=S)
