"""notifier: delivery claim leases (no delivery left in doubt) (issue 11).

Revision ID: notifier_0007_delivery_leases
Revises: notifier_0006_rules_templates
Create Date: 2026-12-03
"""

revision = "notifier_0007_delivery_leases"
down_revision = "notifier_0006_rules_templates"
branch_labels = None
depends_on = None

S = "notifier"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
