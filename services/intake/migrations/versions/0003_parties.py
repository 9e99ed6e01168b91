"""intake: parties, their contacts and sharing (R2.7, R2.8), assets (R2.1, R0.1, R4.2).

Revision ID: intake_0003_parties
Revises: intake_0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType, UTCDateTime

revision = "intake_0003_parties"
down_revision = "intake_0002"
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    op.create_table(
        "parties",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), sa.ForeignKey(f"{S}.tenants.slug"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("search_name", sa.String(200), nullable=False),
        sa.Column("national_id", sa.String(40), nullable=True),
        sa.Column("national_id_key", sa.String(40), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("address", sa.String(300), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("details", JsonType, nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index("parties_tenant_name", "parties", ["tenant", "search_name", "id"], schema=S)
    op.create_index("parties_tenant_national_id", "parties", ["tenant", "national_id_key"], unique=True, schema=S)
    op.create_index("parties_tenant_email", "parties", ["tenant", "email"], schema=S)
    op.create_index("parties_tenant_phone", "parties", ["tenant", "phone"], schema=S)
    op.create_table(
        "party_shares",
        sa.Column("party_id", sa.Uuid(), sa.ForeignKey(f"{S}.parties.id"), primary_key=True),
        sa.Column("user_id", sa.Uuid(), primary_key=True),
        schema=S,
    )
    op.create_index("party_shares_user", "party_shares", ["user_id"], schema=S)
    op.create_table(
        "party_contacts",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("party_id", sa.Uuid(), sa.ForeignKey(f"{S}.parties.id"), nullable=False),
        sa.Column("tenant", sa.String(60), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.String(120), nullable=True),
        sa.Column("decision_maker", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index("party_contacts_party", "party_contacts", ["party_id"], schema=S)
    op.create_index("party_contacts_tenant_email", "party_contacts", ["tenant", "email"], schema=S)
    op.create_index("party_contacts_tenant_phone", "party_contacts", ["tenant", "phone"], schema=S)
    op.create_table(
        "assets",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(60), sa.ForeignKey(f"{S}.tenants.slug"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("code", sa.String(80), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("search_name", sa.String(200), nullable=False),
        sa.Column("attributes", JsonType, nullable=False),
        sa.Column("party_id", sa.Uuid(), sa.ForeignKey(f"{S}.parties.id"), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_index("assets_tenant_kind_code", "assets", ["tenant", "kind", "code"], unique=True, schema=S)
    op.create_index("assets_party", "assets", ["party_id"], schema=S)


def downgrade() -> None:
    for t in ("assets", "party_contacts", "party_shares", "parties"):
        op.drop_table(t, schema=S)
