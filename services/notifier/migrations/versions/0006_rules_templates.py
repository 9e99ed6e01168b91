"""notifier: notification rules and templates per tenant (issue 11).

Revision ID: notifier_0006_rules_templates
Revises: notifier_0005_in_app
Create Date: 2026-12-03
"""

revision = "notifier_0006_rules_templates"
down_revision = "notifier_0005_in_app"
branch_labels = None
depends_on = None

S = "notifier"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
