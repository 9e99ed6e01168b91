"""notifier: subject_progress (events in order) and the token copies (token_users, revoked_tokens).

Revision ID: notifier_0003_backbone
Revises: notifier_0002
Create Date: 2026-12-01
"""

from alembic import op

from shared.messaging.ordering import create_progress_table
from shared.sessions import create_session_tables

revision = "notifier_0003_backbone"
down_revision = "notifier_0002"
branch_labels = None
depends_on = None

S = "notifier"


def upgrade() -> None:
    create_progress_table(S)
    create_session_tables(S)


def downgrade() -> None:
    for t in ("revoked_tokens", "token_users", "subject_progress"):
        op.drop_table(t, schema=S)
