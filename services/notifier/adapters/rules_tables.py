"""A tenant's notification rules and templates (issue 11 items 4 and 5), on the metadata of
``adapters/db.py``, and the one step the planners call before storing what they planned
(``for_tenant``; in-app: ``by_rules``).

- ``notification_rules``: a tenant's own rule per (event type, recipient role); no row: the
  default of services/notifier/rules.py.
- ``notification_templates``: a tenant's own text per (template, channel, language); no row: the
  shipped file (services/notifier/templates/). Stored as written; validated on save (domain.py).

A planned e-mail or SMS carries its tenant template, when there is one, in its context
(``domain.OVERRIDE``): the delivery row then renders the same text on every attempt, on any
replica, whatever is saved meanwhile."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy import Boolean, Column, Integer, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifier import domain, rules
from services.notifier.adapters.db import metadata
from shared.contracts.envelope import Envelope
from shared.db import JsonType, UTCDateTime

notification_rules = Table(
    "notification_rules", metadata,
    Column("tenant", String(60), primary_key=True),
    Column("event_type", String(80), primary_key=True),
    Column("recipient_role", String(40), primary_key=True),
    Column("channels", JsonType, nullable=False),  # e.g. ["email", "in_app"]
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

notification_templates = Table(
    "notification_templates", metadata,
    Column("tenant", String(60), primary_key=True),
    Column("template", String(60), primary_key=True),
    Column("channel", String(10), primary_key=True),  # "email" (subject + body) or "sms" (body)
    Column("language", String(2), primary_key=True),  # "es" (es-CL) or "en"
    Column("subject", Text(), nullable=True),
    Column("body", Text(), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)


def rule_of(row: Any) -> rules.Rule:
    default = rules.DEFAULTS.get((row.event_type, row.recipient_role))
    return rules.Rule(row.event_type, row.recipient_role, frozenset(row.channels), bool(row.active),
                      default.procedure if default else "", default.published if default else True)


async def tenant_rules(conn: AsyncConnection, tenant: str) -> dict[tuple[str, str], rules.Rule]:
    """The tenant's own rules (the overrides of the defaults)."""
    r = notification_rules.c
    return {(row.event_type, row.recipient_role): rule_of(row)
            for row in await conn.execute(select(notification_rules).where(r.tenant == tenant))}


T = TypeVar("T")


async def by_rules(conn: AsyncConnection, env: Envelope, channel: str, planned: Sequence[T],
                   role: Callable[[T], str]) -> list[T]:
    """``planned`` without what the tenant's rules say ``role(item)`` does not get by ``channel``
    for this event (the defaults keep everything the planners make today)."""
    if not planned:
        return []
    own = await tenant_rules(conn, env.tenant)
    return [p for p in planned if channel in rules.channels_for(own, env.type, role(p))]


async def for_tenant(conn: AsyncConnection, env: Envelope, channel: str,
                     planned: list[domain.PlannedEmail]) -> list[domain.PlannedEmail]:
    """What the planners made for ``channel`` ("email" or "sms"), as the tenant has it: filtered
    by its rules, each carrying the tenant's template when it has one."""
    kept = await by_rules(conn, env, channel, planned, lambda m: m.role)
    if not kept:
        return kept
    t = notification_templates.c
    own = {(row.template, row.language): row for row in await conn.execute(
        select(notification_templates).where(t.tenant == env.tenant, t.channel == channel,
                                             t.template.in_({m.template for m in kept})))}
    if not own:
        return kept
    out = []
    for m in kept:
        row = own.get((m.template, domain.language_of(m.language)))
        if row is not None:
            m = replace(m, context={**m.context, domain.OVERRIDE: {
                "subject": row.subject, "body": row.body, "version": row.version}})
        out.append(m)
    return out
