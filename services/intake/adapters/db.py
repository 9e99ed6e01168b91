"""intake's tables (schema ``intake``). Only intake reads or writes them."""

from sqlalchemy import Boolean, Column, Date, ForeignKey, Index, Integer, MetaData, String, Table, Text, Uuid

from shared.db import JsonType, UTCDateTime
from shared.outbox import messaging_tables

SCHEMA = "intake"
metadata = MetaData(schema=SCHEMA)
outbox, inbox = messaging_tables(metadata)

tenants = Table(
    "tenants", metadata,
    Column("slug", String(60), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=False),  # ISO 3166 alpha-2: drives national holidays
    Column("timezone", String(60), nullable=False),
    Column("language", String(2), nullable=False),  # es | en
    Column("next_case_number", Integer, nullable=False, default=1),
    Column("max_mail_recipients", Integer, nullable=False, default=20),  # R4.6 "Enviar mail": to + cc (0006)
    Column("created_at", UTCDateTime(), nullable=False),
)

case_types = Table(
    "case_types", metadata,
    Column("tenant", String(60), ForeignKey(f"{SCHEMA}.tenants.slug"), primary_key=True),
    Column("code", String(60), primary_key=True),
    Column("name_es", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    # The catalog (intake_0003_catalog; rules in services/intake/catalog.py):
    Column("deadline_unit", String(16), nullable=False, default="business_days"),  # | business_hours
    Column("deadline_amount", Integer, nullable=False),
    Column("allowed_channels", JsonType, nullable=True),  # channel codes; NULL: any (R3.2)
    Column("pinned", JsonType, nullable=True),  # {category, area, priority, document_class} (R3.2)
    Column("default_priority", String(16), nullable=False, default="normal"),
    Column("is_follow_up", Boolean, nullable=False, default=False),  # R3.1
    # The follow-up kind the type stands for (R3.1, R3.4: triage.FollowUpKind; NULL: none) and
    # whether its cases exist only under an interaction (R2.3) — intake_0006_case_rules.
    Column("follow_up_kind", String(40), nullable=True),
    Column("requires_interaction", Boolean, nullable=False, default=False),
    Column("requires_attachments_to_finish", Boolean, nullable=False, default=False),  # R1.2
    Column("required_fields", JsonType, nullable=True),  # e.g. ["contact.phone"] (R3.2)
    Column("projects", JsonType, nullable=True),  # project codes; NULL: every project (R4.2)
    Column("version", Integer, nullable=False, default=1),
    Column("updated_at", UTCDateTime(), nullable=True),
)

cases = Table(
    "cases", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("number", String(20), nullable=False),
    Column("type_code", String(60), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("description", Text(), nullable=False),
    Column("contact_name", String(200), nullable=False),
    Column("contact_email", String(254), nullable=False),
    Column("contact_phone", String(20), nullable=True),
    Column("responsible_email", String(254), nullable=False),
    Column("responsible_id", Uuid(), nullable=True),
    Column("project", String(60), nullable=True),
    Column("created_by", Uuid(), nullable=True),
    # issue 4: classification, association, dates, follow-ups (intake_0004_cases)
    Column("interaction_id", Uuid(), nullable=True),
    Column("party_id", Uuid(), nullable=True),
    Column("asset_id", Uuid(), nullable=True),
    Column("association", String(20), nullable=True),  # owner | lessee | property | non_owner | party | asset
    Column("channel", String(40), nullable=True),
    Column("category_path", JsonType, nullable=True),  # up to three levels
    Column("area", String(60), nullable=True),
    Column("document_class", String(30), nullable=False, default="request"),
    Column("start_date", Date(), nullable=True),
    Column("customer_commitment_date", Date(), nullable=True),
    Column("internal_commitment_date", Date(), nullable=True),
    Column("explicit_due_date", Date(), nullable=True),  # an admin's own deadline instead of the type's rule
    Column("not_satisfied", Boolean, nullable=False, default=False),
    Column("follow_up_of", Uuid(), nullable=True),
    Column("follow_up_kind", String(40), nullable=True),
    Column("answered_at", UTCDateTime(), nullable=True),  # first execution: "the area answered" (R3.3)
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Column("priority", String(16), nullable=False),
    Column("status", String(24), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("due_date", Date(), nullable=True),
    Column("overdue_since", UTCDateTime(), nullable=True),
)
Index("cases_tenant_number", cases.c.tenant, cases.c.number, unique=True)
Index("cases_tenant_status_created", cases.c.tenant, cases.c.status, cases.c.created_at)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("tenant", String(60), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JsonType, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)


# -- access (R4.1, R4.4) ---------------------------------------------------------------------
users = Table(
    "users", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), ForeignKey(f"{SCHEMA}.tenants.slug"), nullable=False),
    Column("email", String(254), nullable=False),  # stored lower-case
    Column("name", String(200), nullable=False),
    Column("mobile", String(20), nullable=True),  # E.164, for SMS
    Column("roles", JsonType, nullable=False),
    Column("manager_id", Uuid(), nullable=True),  # the management line above (escalations)
    Column("projects", JsonType, nullable=False),  # R4.4: where an executor may create cases
    Column("escalation_subscriptions", JsonType, nullable=False),  # R4.9
    Column("language", String(2), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("password_hash", String(200), nullable=True),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("users_tenant_email", users.c.tenant, users.c.email, unique=True)

access_tokens = Table(
    "access_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Uuid(), nullable=False, index=True),
    Column("tenant", String(60), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

password_setup_tokens = Table(
    "password_setup_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Uuid(), nullable=False, index=True),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("prefix", String(12), nullable=False),  # shown in lists so a key can be recognised
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_by", Uuid(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
)
