"""intake: one table of failed attempts for every rate limit — self-service look-ups (R3.5),
log-ins, password set-ups, API keys — replacing ``self_service_attempts`` (its rows only matter
for 15 minutes, so they are not carried over).

Revision ID: intake_0016_failed_attempts
Revises: intake_0015_saved_views
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.migrations import big_id

revision = "intake_0016_failed_attempts"
down_revision = "intake_0015_saved_views"
branch_labels = None
depends_on = None

S = "intake"


def _create(name: str, scope_length: int) -> None:
    op.create_table(
        name,
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("scope", sa.String(scope_length), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index(f"{name}_key", name, ["tenant", "scope", "key_hash", "at"], schema=S)
    op.create_index(f"{name}_at", name, ["at"], schema=S)


def _drop(name: str) -> None:
    op.drop_index(f"{name}_at", name, schema=S)
    op.drop_index(f"{name}_key", name, schema=S)
    op.drop_table(name, schema=S)


def upgrade() -> None:
    _create("failed_attempts", 20)
    _drop("self_service_attempts")


def downgrade() -> None:
    _create("self_service_attempts", 10)
    _drop("failed_attempts")
