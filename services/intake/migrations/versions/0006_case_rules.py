"""intake: the case rules that were constants or missing (issue 9) — a case type that requires an
interaction (R2.3) and the follow-up kind it stands for (R3.1), each project's business line
(R3.5), and the tenant's cap on the recipients of one mail (R4.6 "Enviar mail").

Existing rows keep the behaviour the removed constants gave them: the follow-up kinds of the
type codes ``triage.KIND_CODES`` named and the lines of the project codes ``PROJECT_LINES``
named are written into the new columns, and the cases' ``follow_up_kind`` (which held the type
code) becomes the kind.

Revision ID: intake_0006_case_rules
Revises: intake_0005_hierarchy, intake_0005_inbox, intake_0003_catalog
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import alter_schema

revision = "intake_0006_case_rules"
down_revision = ("intake_0005_hierarchy", "intake_0005_inbox", "intake_0003_catalog")
branch_labels = None
depends_on = None

S = "intake"

# The mappings the code held before this revision (domain/triage.py), applied once to old rows.
_OLD_KIND_CODES = {
    "late_response": ("respuesta-fuera-de-plazo", "late-response"),
    "disagreement": ("inconformidad-respuesta", "inconformidad-en-la-respuesta", "disagreement"),
    "solution_not_executed": ("no-ejecucion-solucion", "solution-not-executed"),
    "delay_enabling_service": ("demora-habilitacion", "delay-enabling-service"),
    "delay_reconnecting_supply": ("tardanza-reposicion", "delay-reconnecting-supply"),
    "collections_management": ("gestion-cobranza", "collections-management"),
}
_OLD_PROJECT_LINES = {
    "meter": ("medidor", "gas-medidor", "meter"),
    "packaged": ("envasado", "gas-envasado", "packaged"),
    "bulk": ("granel", "gas-granel", "bulk"),
}


def upgrade() -> None:
    with op.batch_alter_table("case_types", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("requires_interaction", sa.Boolean(), nullable=False, server_default=sa.false()))
        b.add_column(sa.Column("follow_up_kind", sa.String(40), nullable=True))
    with op.batch_alter_table("projects", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("business_line", sa.String(16), nullable=True))
    with op.batch_alter_table("tenants", schema=alter_schema(S)) as b:
        b.add_column(sa.Column("max_mail_recipients", sa.Integer(), nullable=False, server_default="20"))

    ct = sa.table("case_types", sa.column("code", sa.String()), sa.column("follow_up_kind", sa.String()),
                  schema=alter_schema(S))
    for kind, codes in _OLD_KIND_CODES.items():
        op.execute(ct.update().where(ct.c.code.in_(codes)).values(follow_up_kind=kind))
    pr = sa.table("projects", sa.column("code", sa.String()), sa.column("business_line", sa.String()),
                  schema=alter_schema(S))
    for line, codes in _OLD_PROJECT_LINES.items():
        op.execute(pr.update().where(pr.c.code.in_(codes)).values(business_line=line))
    cs = sa.table("cases", sa.column("follow_up_kind", sa.String()), schema=alter_schema(S))
    for kind, codes in _OLD_KIND_CODES.items():
        op.execute(cs.update().where(cs.c.follow_up_kind.in_(codes)).values(follow_up_kind=kind))
    known = [k for k in _OLD_KIND_CODES]
    op.execute(cs.update().where(cs.c.follow_up_kind.is_not(None), cs.c.follow_up_kind.not_in(known))
               .values(follow_up_kind=None))


def downgrade() -> None:
    with op.batch_alter_table("tenants", schema=alter_schema(S)) as b:
        b.drop_column("max_mail_recipients")
    with op.batch_alter_table("projects", schema=alter_schema(S)) as b:
        b.drop_column("business_line")
    with op.batch_alter_table("case_types", schema=alter_schema(S)) as b:
        b.drop_column("follow_up_kind")
        b.drop_column("requires_interaction")
