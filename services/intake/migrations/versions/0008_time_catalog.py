"""intake: the catalog of time (issue 10) — several calendars per tenant, SLA settings,
escalation kinds, the area's calendar, the case type's SLA policy.

``calendars`` becomes keyed by (tenant, code): the existing row of each tenant becomes its
"default" calendar; it gains a name, its own country/time zone (None: the tenant's), a
subdivision (regional holidays), working hours per weekday (``hours``), extra working days and
an active flag.

Revision ID: intake_0008_time_catalog
Revises: intake_0007_case_numbering
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from shared.db import JsonType, UTCDateTime
from shared.migrations import alter_schema

revision = "intake_0008_time_catalog"
down_revision = "intake_0007_case_numbering"
branch_labels = None
depends_on = None

S = "intake"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _primary_key(columns: list[str]) -> None:
    """Replace the calendars' primary key (SQLite: by recreating the table with the key columns
    declared as such)."""
    if _sqlite():
        keys = [sa.Column("tenant", sa.String(60), sa.ForeignKey("tenants.slug"), primary_key=True),
                sa.Column("code", sa.String(60), primary_key=True, nullable=False, server_default="default")]
        if "code" in columns:
            with op.batch_alter_table("calendars", recreate="always", reflect_args=tuple(keys)):
                pass
        # else: dropping ``code`` (below) leaves the key on ``tenant``
    else:
        op.drop_constraint("calendars_pkey", "calendars", type_="primary", schema=S)
        op.create_primary_key("calendars_pkey", "calendars", columns, schema=S)


def upgrade() -> None:
    with op.batch_alter_table("calendars", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("code", sa.String(60), nullable=False, server_default="default"))
        b.add_column(sa.Column("name", sa.String(200), nullable=True))
        b.add_column(sa.Column("country", sa.String(2), nullable=True))  # None: the tenant's
        b.add_column(sa.Column("timezone", sa.String(60), nullable=True))  # None: the tenant's
        b.add_column(sa.Column("subdivision", sa.String(10), nullable=True))
        b.add_column(sa.Column("hours", JsonType, nullable=True))  # {"1": [{"start": "09:00", "end": "13:00"}, …]}
        b.add_column(sa.Column("extra_working_days", JsonType, nullable=True))  # [{"date", "name"}]
        b.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    _primary_key(["tenant", "code"])

    with op.batch_alter_table("areas", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("calendar", sa.String(60), nullable=True))
    with op.batch_alter_table("case_types", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("sla", JsonType, nullable=True))

    op.create_table(
        "sla_settings",
        sa.Column("tenant", sa.String(60), sa.ForeignKey(f"{S}.tenants.slug"), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("warning_percents", JsonType, nullable=False),
        sa.Column("ladder", JsonType, nullable=False),
        sa.Column("quiet_hours", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )
    op.create_table(
        "escalation_kinds",
        sa.Column("tenant", sa.String(60), sa.ForeignKey(f"{S}.tenants.slug"), primary_key=True),
        sa.Column("code", sa.String(60), primary_key=True),
        sa.Column("name_es", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("escalation_kinds", schema=S)
    op.drop_table("sla_settings", schema=S)
    with op.batch_alter_table("case_types", schema=alter_schema(S)) as b:
        b.drop_column("sla")
    with op.batch_alter_table("areas", schema=alter_schema(S)) as b:
        b.drop_column("calendar")
    cal = sa.table("calendars", sa.column("code", sa.String()), schema=alter_schema(S))
    op.execute(cal.delete().where(cal.c.code != "default"))  # only the tenant's own calendar survives
    _primary_key(["tenant"])
    with op.batch_alter_table("calendars", schema=alter_schema(S)) as b:
        for c in ("active", "extra_working_days", "hours", "subdivision", "timezone", "country", "name", "code"):
            b.drop_column(c)
