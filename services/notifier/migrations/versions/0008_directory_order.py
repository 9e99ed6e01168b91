"""notifier: the user directory keeps the newest profile (``changed_at``).

``user.upserted`` events of one user can be handled out of order (concurrent consumers, a
retry queue): each row remembers the time of the event it holds, and an older event that
arrives late changes nothing. Existing rows get the epoch, so the next event always applies.

Revision ID: notifier_0008_directory_order
Revises: notifier_0007_delivery_leases
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.migrations import alter_schema

revision = "notifier_0008_directory_order"
down_revision = "notifier_0007_delivery_leases"
branch_labels = None
depends_on = None

S = "notifier"


def upgrade() -> None:
    with op.batch_alter_table("user_directory", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("changed_at", UTCDateTime(), nullable=False,
                               server_default=sa.text("'1970-01-01 00:00:00'")))


def downgrade() -> None:
    with op.batch_alter_table("user_directory", schema=alter_schema(S)) as b:
        b.drop_column("changed_at")
