"""notifier: delivery claim leases (no delivery left in doubt) (issue 11).

A claim records who took a delivery (``claimed_by``: the replica id) and until when
(``lease_until``). A delivery still "sending" (or "unknown") after its lease is in doubt and is
resolved by notifier's sweeper (services/notifier/sweeper.py); the partial index keeps that
sweep proportional to what is unsettled, not to the ledger's history. Rows left "sending" or
"unknown" by earlier versions get an expired lease, so the sweeper resolves them too.

Revision ID: notifier_0007_delivery_leases
Revises: notifier_0006_rules_templates
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.migrations import alter_schema

revision = "notifier_0007_delivery_leases"
down_revision = "notifier_0006_rules_templates"
branch_labels = None
depends_on = None

S = "notifier"
UNSETTLED = "state IN ('pending', 'sending', 'unknown')"


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("claimed_by", sa.String(40), nullable=True))
        b.add_column(sa.Column("lease_until", UTCDateTime(), nullable=True))
    op.create_index("deliveries_unsettled", "deliveries", ["claimed_at"], schema=S,
                    postgresql_where=sa.text(UNSETTLED), sqlite_where=sa.text(UNSETTLED))
    table = "deliveries" if alter_schema(S) is None else f"{S}.deliveries"
    op.execute(f"UPDATE {table} SET lease_until = COALESCE(claimed_at, created_at) "  # noqa: S608 - constants
               "WHERE state IN ('sending', 'unknown')")


def downgrade() -> None:
    op.drop_index("deliveries_unsettled", table_name="deliveries", schema=S)
    with op.batch_alter_table("deliveries", schema=alter_schema(S)) as b:
        b.drop_column("lease_until")
        b.drop_column("claimed_by")
