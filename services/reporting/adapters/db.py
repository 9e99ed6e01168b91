"""reporting's tables (schema ``reporting``): one row per case, kept from events."""

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Uuid

from shared.db import JsonType, UTCDateTime
from shared.messaging.ordering import progress_table
from shared.outbox import messaging_tables
from shared.sessions import SessionCopies

SCHEMA = "reporting"
metadata = MetaData(schema=SCHEMA)
outbox, inbox = messaging_tables(metadata)
progress = progress_table(metadata)  # events in order (shared/messaging/ordering.py)
sessions = SessionCopies(metadata)  # token checks (shared/sessions.py)

# The SLA clocks whose facts each case keeps (its latest cycle): ``<clock>_state`` (workflow's state),
# ``_cycle``, ``_due_at``, ``_met_at``, ``_breached_at`` and ``_business_seconds`` (used until met).
CLOCKS = ("first_response", "resolution")

case_facts = Table(
    "case_facts", metadata,
    Column("case_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("number", String(20), nullable=False),
    Column("type_code", String(60), nullable=False),
    Column("type_name", String(200), nullable=False),
    Column("status", String(24), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("overdue_at", UTCDateTime(), nullable=True),
    Column("emails_sent", Integer, nullable=False),
    # issue 13: what the SLA and workload reports group and filter by
    Column("area", String(60), nullable=True),
    Column("channel", String(60), nullable=True),
    Column("project", String(60), nullable=True),
    Column("responsible_id", Uuid(), nullable=True),
    Column("responsible_name", String(200), nullable=True),  # None after a reassignment (the event has no name)
    Column("priority", String(16), nullable=True),
    Column("party_id", Uuid(), nullable=True),
    Column("asset_id", Uuid(), nullable=True),
    Column("time_zone", String(60), nullable=True),
    Column("answered_at", UTCDateTime(), nullable=True),  # first response (first met)
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("finished_status", String(24), nullable=True),
    Column("reopened", Integer, nullable=False, server_default="0"),
    Column("sla_revision", Integer, nullable=False, server_default="0"),  # case.sla_changed.v1's, highest wins
    *(Column(f"{kind}_{name}", type_, nullable=True) for kind in CLOCKS for name, type_ in (
        ("state", String(16)), ("cycle", Integer), ("due_at", UTCDateTime()), ("met_at", UTCDateTime()),
        ("breached_at", UTCDateTime()), ("business_seconds", Integer))),
)
Index("case_facts_tenant_status", case_facts.c.tenant, case_facts.c.status)
Index("case_facts_tenant_created", case_facts.c.tenant, case_facts.c.created_at)
Index("case_facts_tenant_party", case_facts.c.tenant, case_facts.c.party_id)
Index("case_facts_tenant_asset", case_facts.c.tenant, case_facts.c.asset_id)
Index("case_facts_tenant_type", case_facts.c.tenant, case_facts.c.type_code)

# Copies of intake's parties and assets (party.upserted.v1, asset.upserted.v1), for reports per
# supply, prospect or stakeholder (R2.9). ``updated_at`` orders the copies: an older event never
# overwrites a newer one.
party_facts = Table(
    "party_facts", metadata,
    Column("party_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("internal", Boolean, nullable=False),
    Column("name", String(200), nullable=False),
    Column("restricted", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("party_facts_tenant_kind", party_facts.c.tenant, party_facts.c.kind)

asset_facts = Table(
    "asset_facts", metadata,
    Column("asset_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("code", String(80), nullable=False),
    Column("name", String(200), nullable=False),
    Column("party_id", Uuid(), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("asset_facts_tenant_kind", asset_facts.c.tenant, asset_facts.c.kind)

# R1.5 commission report: one row per retained case (case.desistance_registered.v1), filed under
# the month of its retention in the report's time zone (domain.REPORT_TIMEZONE), and the offers
# made on retention requests (case.retention_offer_recorded.v1; the newest event per offer wins).
retentions = Table(
    "retentions", metadata,
    Column("case_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("number", String(40), nullable=False),
    Column("executive_id", Uuid(), nullable=True),
    Column("executive_name", String(200), nullable=True),
    Column("party_id", Uuid(), nullable=True),
    Column("asset_id", Uuid(), nullable=True),
    Column("policy_code", String(80), nullable=True),
    Column("offers_accepted", JsonType, nullable=False),
    Column("retained_at", UTCDateTime(), nullable=False),
    Column("period", String(7), nullable=False),
)
Index("retentions_tenant_period", retentions.c.tenant, retentions.c.period)

retention_offers = Table(
    "retention_offers", metadata,
    Column("offer_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("case_id", Uuid(), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("accepted", Boolean, nullable=True),
    Column("offered_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("retention_offers_case", retention_offers.c.case_id)
