"""intake: what people see of time (issue 10) — alerts, each case's clocks and hold.

Revision ID: intake_0009_alerts
Revises: intake_0008_time_catalog
Create Date: 2026-12-03
"""

revision = "intake_0009_alerts"
down_revision = "intake_0008_time_catalog"
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
