"""intake's HTTP API, one module per area; ``router`` gathers them."""

from fastapi import APIRouter

from services.intake.api import (
    alerts,
    api_keys,
    assets,
    attachments,
    audit,
    auth,
    case_actions,
    cases,
    catalog,
    followups,
    inbox,
    inbox_export,
    interactions,
    parties,
    retention,
    saved_views,
    self_service,
    tasks,
    tenants,
    users,
)

router = APIRouter()
for module in (auth, tenants, users, api_keys, catalog, cases, case_actions, parties, assets,
               interactions, tasks, attachments, followups, inbox, inbox_export, alerts, retention,
               self_service, audit, saved_views):
    router.include_router(module.router)
