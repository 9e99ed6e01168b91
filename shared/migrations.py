"""Alembic glue shared by every service's ``migrations/`` folder.

Each service's ``migrations/env.py`` calls ``run_env()``; migrations run programmatically from
``Database.migrate`` on a connection handed over through ``config.attributes`` (Alembic's
"connection sharing" recipe), so they work inside the async app and from the CLI alike.
``create_messaging_tables`` creates the outbox and inbox every service has."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from shared.db import UTCDateTime


def run_env() -> None:
    cfg = context.config
    connection = cfg.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `atiende migrate` (they need the service's connection)")
    context.configure(connection=connection, target_metadata=None,
                      version_table_schema=cfg.attributes.get("version_table_schema"))
    with context.begin_transaction():
        context.run_migrations()


def big_id() -> sa.types.TypeEngine:
    # SQLite only auto-increments INTEGER PRIMARY KEY.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def create_messaging_tables(schema: str) -> None:
    """Outbox (events waiting for the relay) and inbox (events already handled)."""
    op.create_table(
        "outbox",
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        schema=schema,
    )
    # The relay only ever scans pending rows: a partial index keeps that independent of history.
    op.create_index("outbox_pending", "outbox", ["id"], schema=schema,
                    postgresql_where=sa.text("published_at IS NULL"),
                    sqlite_where=sa.text("published_at IS NULL"))
    op.create_index("outbox_published_at", "outbox", ["published_at"], schema=schema)
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("handled_at", UTCDateTime(), nullable=False),
        schema=schema,
    )


def alter_schema(schema: str) -> str | None:
    """Schema to name in ALTER operations: Alembic writes those itself, past SQLAlchemy's
    schema translation, and SQLite (embedded mode) has no schemas."""
    return None if op.get_bind().dialect.name == "sqlite" else schema
