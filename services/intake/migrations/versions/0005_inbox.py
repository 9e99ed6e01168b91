"""intake: indexes for the inbox (R4.5) — the default view of in-progress cases, its sorts, "my
cases", keyset pagination, and (PostgreSQL) trigram text search over a stored, folded column.

The expressions below are copied, character for character, in
services/intake/adapters/inbox_queries.py: PostgreSQL uses an expression index only for the same
expression, and a partial index only when the query's status list implies the index's predicate
(tests/test_inbox.py checks the copies agree). A migration keeps its own copy so that later edits
to the queries never rewrite history.

Revision ID: intake_0005_inbox
Revises: intake_0004_cases
Create Date: 2026-11-22
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "intake_0005_inbox"
down_revision = ("intake_0004_cases", "intake_0003_parties")  # a merge: its R2.7 index is on parties
branch_labels = None
depends_on = None

S = "intake"
log = logging.getLogger("atiende.migrations")

OPEN = "status IN ('new', 'in_execution', 'waiting_on_customer')"
CATEGORY_LEVELS = "(category_path ->> 0), (category_path ->> 1), (category_path ->> 2)"
# As services/intake/adapters/party_tables.py writes "restricted" in its hidden-parties condition.
RESTRICTED = "restricted IS NOT false"
DUE_KEY = {"postgresql": "coalesce(due_at, '9999-12-31 00:00:00+00'::timestamptz)",
           "sqlite": "coalesce(due_at, '9999-12-31 00:00:00.000000')"}
PRIORITY_RANK = "CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END"
_ACCENTED = "ÁÀÂÄÉÈÊËÍÌÎÏÓÒÔÖÚÙÛÜÑÇáàâäéèêëíìîïóòôöúùûüñç"
_PLAIN = "AAAAEEEEIIIIOOOOUUUUNCaaaaeeeeiiiioooouuuunc"
SEARCH_DOC_PG = ("lower(translate(contact_name || ' ' || contact_email || ' ' || coalesce(contact_phone, '') || ' ' "
                 f"|| number || ' ' || subject, '{_ACCENTED}', '{_PLAIN}'))")

# name → (columns or expressions, partial on in-progress statuses?)
INDEXES: dict[str, tuple[list[str], bool]] = {
    "cases_open_due": (["tenant", "DUE", "id"], True),  # default view, sorted by deadline; overdue / on time
    "cases_open_created": (["tenant", "created_at", "id"], True),  # sorted by entry date
    "cases_open_priority": (["tenant", "PRIORITY", "DUE", "id"], True),  # sorted by priority, then deadline
    "cases_open_responsible": (["tenant", "responsible_id", "DUE", "id"], True),  # "my cases"
    "cases_due": (["tenant", "DUE", "id"], False),  # any status, by deadline
    "cases_created": (["tenant", "created_at", "id"], False),  # any status, by entry date
}
# PostgreSQL: the default view's index also carries every column the inbox filters on, so that the
# total of a filtered view is an index-only scan of the in-progress cases (no heap visits).
OPEN_DUE_INCLUDE = ["status", "due_at", "due_date", "created_at", "type_code", "area", "project", "channel",
                    "association", "priority", "responsible_id", "party_id", "category_path"]


def _column(name: str, dialect: str) -> str | sa.TextClause:
    if name == "DUE":
        return sa.text(f"({DUE_KEY[dialect]})")
    if name == "PRIORITY":
        return sa.text(f"({PRIORITY_RANK})")
    return name


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    for name, (cols, partial) in INDEXES.items():
        where = sa.text(OPEN) if partial else None
        op.create_index(name, "cases", [_column(c, dialect) for c in cols], schema=S,
                        postgresql_where=where, sqlite_where=where,
                        postgresql_include=OPEN_DUE_INCLUDE if name == "cases_open_due" else [])
    # R2.7 in the inbox: the parties hidden from a user are among the restricted ones, which are few;
    # without this, every executor's inbox query would read all of the tenant's parties.
    op.create_index("parties_restricted", "parties", ["tenant"], schema=S,
                    postgresql_where=sa.text(RESTRICTED), sqlite_where=sa.text(RESTRICTED))
    if dialect == "postgresql" and (bind.dialect.server_version_info or (0,)) >= (14,):
        # The category filter compares each level of the JSON path; without statistics on those
        # expressions the planner guesses 0.5 % per level and sorts whole views (PostgreSQL 14+).
        op.execute(f"CREATE STATISTICS IF NOT EXISTS {S}.cases_category (ndistinct, dependencies, mcv) "
                   f"ON {CATEGORY_LEVELS} FROM {S}.cases")
    if dialect == "postgresql":
        # The folded text the search looks in, stored: folding on the fly (translate, lower) costs
        # 10-20 µs a row, paid on every candidate a search checks. Written by PostgreSQL itself on
        # every insert and update; the application never sets it. (SQLite folds on the fly.)
        op.execute(f"ALTER TABLE {S}.cases ADD COLUMN search_doc text GENERATED ALWAYS AS ({SEARCH_DOC_PG}) STORED")
        opclass = _trigram_opclass(bind)
        if opclass is None:
            log.warning("pg_trgm is not available: the inbox's text search works without its index (slowly)")
        else:
            # Searches within the default view (in-progress cases) and over every case.
            op.execute(f"CREATE INDEX cases_open_search_trgm ON {S}.cases USING gin (search_doc {opclass}) "
                       f"WHERE {OPEN}")
            op.execute(f"CREATE INDEX cases_search_trgm ON {S}.cases USING gin (search_doc {opclass})")


def _trigram_opclass(bind: sa.engine.Connection) -> str | None:
    """The qualified gin_trgm_ops operator class, creating the extension when allowed (it needs a
    superuser or a trusted-extension grant; without it the index is skipped, not the migration)."""
    find = sa.text("SELECT n.nspname FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace "
                   "JOIN pg_am a ON a.oid = c.opcmethod WHERE c.opcname = 'gin_trgm_ops' AND a.amname = 'gin'")
    schema = bind.execute(find).scalar()
    if schema is None:
        try:
            with bind.begin_nested():
                bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except sa.exc.DBAPIError as exc:
            log.warning("cannot create extension pg_trgm: %s", exc)
            return None
        schema = bind.execute(find).scalar()
    return f'"{schema}".gin_trgm_ops' if schema else None


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP STATISTICS IF EXISTS {S}.cases_category")
        op.execute(f"DROP INDEX IF EXISTS {S}.cases_search_trgm")
        op.execute(f"DROP INDEX IF EXISTS {S}.cases_open_search_trgm")
        op.execute(f"ALTER TABLE {S}.cases DROP COLUMN IF EXISTS search_doc")
    op.drop_index("parties_restricted", table_name="parties", schema=S)
    for name in reversed(INDEXES):
        op.drop_index(name, table_name="cases", schema=S)
