"""intake: cases entered before their events were numbered start numbering at 1 (issue 9).

Until now ``cases.version`` counted some changes (not comments or mails) and no event carried a
sequence; the consumers (workflow, notifier, reporting) have no ``subject_progress`` row for such
a case. Their next event must then be #1 — any higher number would wait for events that were
never numbered, and end in the dead-letter queue. So every case existing at this revision gets
version 0: its next event is numbered 1 and the consumers start their progress there. Cases
entered after this revision are numbered from ``case.created.v1`` = 1 as usual.

Revision ID: intake_0007_case_numbering
Revises: intake_0006_case_rules
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import alter_schema

revision = "intake_0007_case_numbering"
down_revision = "intake_0006_case_rules"
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    cases = sa.table("cases", sa.column("version", sa.Integer()), schema=alter_schema(S))
    op.execute(cases.update().values(version=0))


def downgrade() -> None:
    pass  # the old counts are not needed: numbering simply goes on from where it is
