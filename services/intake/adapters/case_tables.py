"""intake's tables for the agent's working day (issue 4): history, interactions, tasks, work
orders, activities, attachments. The ``cases`` table itself is in ``db.py``."""

from sqlalchemy import Boolean, Column, Date, Index, Integer, LargeBinary, String, Table, Text, Uuid

from services.intake.adapters.db import metadata
from shared.db import JsonType, UTCDateTime
from shared.migrations import big_id

# Append-only: every action, state change, field change, priority change and mail (R4.6 history).
case_history = Table(
    "case_history", metadata,
    Column("id", big_id(), primary_key=True, autoincrement=True),
    Column("case_id", Uuid(), nullable=False),
    Column("tenant", String(60), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor_id", Uuid(), nullable=True),
    Column("actor_name", String(200), nullable=True),
    Column("kind", String(40), nullable=False),
    Column("data", JsonType, nullable=False),
)
Index("case_history_case", case_history.c.case_id, case_history.c.id)

# R2.2: an interaction (call, e-mail, letter, visit…) with a party; may stand alone.
interactions = Table(
    "interactions", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("code", String(30), nullable=False),  # human-readable, unique per tenant
    Column("party_id", Uuid(), nullable=True),
    Column("asset_id", Uuid(), nullable=True),
    Column("channel", String(40), nullable=False),
    Column("summary", Text(), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # open | closed
    Column("created_by", Uuid(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("closed_by", Uuid(), nullable=True),  # intake_0005_hierarchy
    Column("closing_note", Text(), nullable=True),
)
Index("interactions_tenant_code", interactions.c.tenant, interactions.c.code, unique=True)
Index("interactions_party", interactions.c.tenant, interactions.c.party_id)

# R2.2: the last interaction number given per tenant ("AT-000123"; intake_0005_hierarchy).
interaction_counters = Table(
    "interaction_counters", metadata,
    Column("tenant", String(60), primary_key=True),
    Column("last_number", Integer, nullable=False),
)

# R2.4: a task (ticket) only under a case; one responsible, optional CC users.
tasks = Table(
    "tasks", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("case_id", Uuid(), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text(), nullable=False),
    Column("responsible_id", Uuid(), nullable=False),
    Column("cc_user_ids", JsonType, nullable=False),
    Column("area", String(60), nullable=True),
    Column("due_date", Date(), nullable=False),
    Column("status", String(16), nullable=False),  # open | closed
    Column("created_by", Uuid(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("closing_note", Text(), nullable=True),
)
Index("tasks_case", tasks.c.case_id)
Index("tasks_responsible_open", tasks.c.tenant, tasks.c.responsible_id, tasks.c.status, tasks.c.due_date)

# R2.5: a technical work order on a task; approved by a technical manager before execution.
work_orders = Table(
    "work_orders", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("task_id", Uuid(), nullable=False, unique=True),
    Column("description", Text(), nullable=False),
    Column("status", String(16), nullable=False),  # pending_approval | approved | rejected | executed
    Column("decided_by", Uuid(), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decision_comment", Text(), nullable=True),
    Column("executed_at", UTCDateTime(), nullable=True),
    Column("created_by", Uuid(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("executed_by", Uuid(), nullable=True),  # intake_0005_hierarchy
    Column("execution_note", Text(), nullable=True),
)
Index("work_orders_tenant_status", work_orders.c.tenant, work_orders.c.status, work_orders.c.created_at)

# R0.2: activities of a case (note, task, logged call) with priority, reason, type, dates, owner.
activities = Table(
    "activities", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("case_id", Uuid(), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # note | task | call
    Column("priority", String(16), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("type", String(60), nullable=False),
    Column("planned_date", Date(), nullable=True),
    Column("done_date", Date(), nullable=True),
    Column("status", String(16), nullable=False),  # open | completed
    Column("owner_id", Uuid(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("description", Text(), nullable=True),  # intake_0005_hierarchy
    Column("created_by", Uuid(), nullable=True),
    Column("completed_by", Uuid(), nullable=True),
    Column("completed_at", UTCDateTime(), nullable=True),
)

# Attachments on interactions, cases and actions (PDF and images), stored in the database.
attachments = Table(
    "attachments", metadata,
    Column("id", Uuid(), primary_key=True),
    Column("tenant", String(60), nullable=False),
    Column("owner_kind", String(16), nullable=False),  # case | interaction | task | history
    Column("owner_id", Uuid(), nullable=False),
    Column("case_id", Uuid(), nullable=True),  # the case whose visibility governs access
    Column("filename", String(200), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("uploaded_by", Uuid(), nullable=True),
    Column("uploaded_at", UTCDateTime(), nullable=False),
    Column("is_signed_letter", Boolean, nullable=False),  # R1.2 desistance letter
)
Index("attachments_owner", attachments.c.owner_kind, attachments.c.owner_id)
Index("attachments_case", attachments.c.case_id)  # intake_0005_hierarchy
