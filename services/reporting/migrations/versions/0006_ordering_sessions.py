"""reporting: subject_progress (events in order) and the token copies (token_users, revoked_tokens).

Revision ID: reporting_0006_backbone
Revises: reporting_0001
Create Date: 2026-12-01
"""

from alembic import op

from shared.messaging.ordering import create_progress_table
from shared.sessions import create_session_tables

revision = "reporting_0006_backbone"
down_revision = "reporting_0001"
branch_labels = None
depends_on = None

S = "reporting"


def upgrade() -> None:
    create_progress_table(S)
    create_session_tables(S)


def downgrade() -> None:
    for t in ("revoked_tokens", "token_users", "subject_progress"):
        op.drop_table(t, schema=S)
