"""reporting's copies of interactions and tasks (R2.9: a party's or a supply's interactions,
events and tickets over a period), and each tenant's time zone (periods are the tenant's)."""

from sqlalchemy import Column, Date, Index, String, Table, Text, Uuid

from services.reporting.adapters.db import metadata
from shared.db import UTCDateTime

tenant_zones = Table(
    "tenant_zones", metadata,
    Column("tenant", String(60), primary_key=True),
    Column("time_zone", String(60), nullable=False),  # from case.created.v1's tenant_timezone
    Column("updated_at", UTCDateTime(), nullable=False),  # that event's time: the newest wins
)

interaction_facts = Table(
    "interaction_facts", metadata,
    Column("interaction_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("code", String(40), nullable=False),
    Column("party_id", Uuid(), nullable=True),
    Column("asset_id", Uuid(), nullable=True),
    Column("channel", String(60), nullable=False),
    Column("summary", Text(), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
)
Index("interaction_facts_tenant_party", interaction_facts.c.tenant, interaction_facts.c.party_id)
Index("interaction_facts_tenant_asset", interaction_facts.c.tenant, interaction_facts.c.asset_id)

task_facts = Table(
    "task_facts", metadata,
    Column("task_id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("case_id", Uuid(), nullable=False),
    Column("title", String(300), nullable=False),
    Column("area", String(60), nullable=True),
    Column("due_date", Date(), nullable=False),
    Column("responsible_id", Uuid(), nullable=False),
    Column("responsible_name", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
)
Index("task_facts_tenant_case", task_facts.c.tenant, task_facts.c.case_id)
