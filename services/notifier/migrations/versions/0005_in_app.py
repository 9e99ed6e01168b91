"""notifier: in-app notifications per user (issue 11).

Revision ID: notifier_0005_in_app
Revises: notifier_0004_sms
Create Date: 2026-12-03
"""

revision = "notifier_0005_in_app"
down_revision = "notifier_0004_sms"
branch_labels = None
depends_on = None

S = "notifier"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
