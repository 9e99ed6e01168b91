"""Demo tenants shaped like the four source companies (../shared/seeds), in Spanish, with the
case types their procedures name and a user per role (R4.4). Loading is idempotent: existing
rows are left as they are.

Demo users share one published password (``DEMO_PASSWORD``) so a new user can log in at once;
they exist only in the demo tenants, which a real installation does not seed."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from sqlalchemy import select

from services.intake.adapters import account_queries
from services.intake.adapters import catalog_tables as catalog_store
from services.intake.adapters.credentials import hash_password
from services.intake.adapters.db import case_types, tenants, users
from services.intake.service_layer import accounts
from shared.contracts.events import ClosedDay, DeadlineRule, EscalationLevel, WorkPeriod
from shared.db import Database, Tx, utcnow

DEMO_PASSWORD = "demo-atiende-2026"
# (local part, name, roles, projects); e-mail = <local>@<tenant slug>.atiende.cl
DEMO_USERS: list[tuple[str, str, list[str], int | None]] = [
    ("admin", "Administración Demo", ["admin"], None),
    ("supervisora", "Supervisora Demo", ["supervisor"], None),
    ("ejecutiva", "Ejecutiva Demo", ["executor"], 0),
    ("ejecutivo", "Ejecutivo Demo", ["executor"], 1),
    ("lectura", "Consulta Demo", ["viewer"], None),
    ("gerencia.tecnica", "Gerencia Técnica Demo", ["technical_manager", "executor"], 1),
]


def demo_email(local: str, tenant: str) -> str:
    return f"{local}@{tenant}.atiende.cl"


# R1.1: the insurer's commercial line, top down (each one's manager is the one before): the
# management, the unit head, and the customers' executive (a user of DEMO_USERS), with mobiles
# for the churn alerts' SMS. (local part, name, roles, mobile); the executive's row only sets
# her manager and mobile.
COMMERCIAL_LINES: dict[str, list[tuple[str, str, list[str], str]]] = {
    "aseguradora-demo": [("gerencia.comercial", "Gerencia Comercial Demo", ["supervisor"], "+56911110003"),
                         ("jefe.comercial", "Jefatura de Unidad Comercial Demo", ["supervisor"], "+56911110002"),
                         ("ejecutiva", "Ejecutiva Demo", ["executor"], "+56911110001")],
}

DEMO_TENANTS: list[dict[str, Any]] = [
    {"slug": "aseguradora-demo", "name": "Aseguradora Demo (seguros de vida)", "country": "CL",
     "timezone": "America/Santiago", "language": "es", "projects": ["vida-individual", "colectivos"], "types": [
         ("consulta-siniestro", "Revisión de siniestro", "Claim review", 5),
         ("retencion-total", "Retención total (sólo alertas)", "Total retention (alerts only)", 2),
         ("rescate", "Rescate de póliza", "Policy surrender", 10)]},
    {"slug": "electrica-demo", "name": "Distribuidora Eléctrica Demo", "country": "SV",
     "timezone": "America/El_Salvador", "language": "es", "projects": ["comercial", "tecnica"], "types": [
         ("evento", "Evento (macrotarea)", "Event (macro task)", 10),
         ("reclamo-suministro", "Reclamo de suministro", "Supply complaint", 5)]},
    {"slug": "gas-demo", "name": "Distribuidora de Gas Demo", "country": "CL",
     "timezone": "America/Santiago", "language": "es", "projects": ["medidor", "envasado", "granel"], "types": [
         ("respuesta-fuera-de-plazo", "Respuesta fuera de plazo", "Late response", 3),
         ("inconformidad-respuesta", "Inconformidad en la respuesta", "Disagreement with the response", 3),
         ("gestion-cobranza", "Gestión de cobranza", "Collections management", 5)]},
    {"slug": "inmobiliaria-demo", "name": "Inmobiliaria Demo (posventa)", "country": "CL",
     "timezone": "America/Santiago", "language": "es", "projects": ["edificio-los-robles", "condominio-el-mirador"],
     "types": [
         ("consulta-general", "Consulta general", "General enquiry", 5),
         ("documentacion", "Solicitud de documentación", "Document request", 3),
         ("reclamo-no-tecnico", "Reclamo no técnico", "Non-technical complaint", 7)]},
]


async def load_tenants(db: Database, data: list[dict[str, Any]]) -> int:
    """Insert the tenants and case types that are missing; returns how many rows were added."""
    added = 0
    demo_hash = hash_password(DEMO_PASSWORD)  # one Argon2 hash (salted) for every demo user: it is slow on purpose
    async with db.transaction() as tx:
        for t in data:
            exists = (await tx.conn.execute(select(tenants.c.slug).where(tenants.c.slug == t["slug"]))).first()
            if exists is None:
                await tx.conn.execute(tenants.insert().values(
                    slug=t["slug"], name=t["name"], country=t["country"], timezone=t["timezone"],
                    language=t["language"], next_case_number=1, created_at=utcnow()))
                added += 1
            for code, name_es, name_en, days in t["types"]:
                found = (await tx.conn.execute(select(case_types.c.code).where(
                    case_types.c.tenant == t["slug"], case_types.c.code == code))).first()
                if found is None:
                    await catalog_store.save_case_type(tx, t["slug"], code, demo_case_type(
                        t["slug"], code, name_es, name_en, days), create=True)
                    added += 1
            tenant = (await tx.conn.execute(select(tenants).where(tenants.c.slug == t["slug"]))).one()
            for local, name, roles, project in DEMO_USERS:
                email = demo_email(local, t["slug"])
                found = (await tx.conn.execute(select(users.c.id).where(
                    users.c.tenant == t["slug"], users.c.email == email))).first()
                if found is None:
                    await accounts.create_user(tx, tenant, {
                        "email": email, "name": name, "roles": roles,
                        "projects": [t["projects"][project]] if project is not None else []},
                        password_hash=demo_hash)
                    added += 1
            added += await load_commercial_line(tx, tenant, demo_hash)
            added += await load_catalog(tx, t["slug"])
    return added


async def load_commercial_line(tx: Tx, tenant: Any, password_hash: str) -> int:
    """R1.1: the tenant's commercial line (``COMMERCIAL_LINES``), when its unit head is missing:
    the users above the executive are created with their managers, and the executive gets the
    unit head as manager and a mobile. Returns how many rows were added."""
    line = COMMERCIAL_LINES.get(tenant.slug, [])
    if len(line) < 2 or await _demo_user(tx, tenant.slug, line[1][0]) is not None:
        return 0
    added, manager = 0, None
    for local, name, roles, mobile in line:
        row = await _demo_user(tx, tenant.slug, local)
        if row is None:
            row = await accounts.create_user(tx, tenant, {
                "email": demo_email(local, tenant.slug), "name": name, "roles": roles, "mobile": mobile,
                "manager_id": manager}, password_hash=password_hash)
            added += 1
        elif manager is not None and row.manager_id is None:
            row = await account_queries.update_user(tx.conn, row.id, {"manager_id": manager, "mobile": mobile,
                                                                     "updated_at": utcnow()})
            await accounts.emit_profile(tx, row, tenant.language)
        manager = row.id
    return added


async def _demo_user(tx: Tx, tenant: str, local: str) -> Any:
    return (await tx.conn.execute(select(users).where(users.c.tenant == tenant,
                                                      users.c.email == demo_email(local, tenant)))).first()


# -- the demo catalog ("mantenedores"): channels, projects, areas, categories, calendar, and the
# rules of each case type (R4.2 deadline, R3.2 typified kinds, R3.1 follow-ups, R1.2) ----------
_CHANNELS = [("telefono", "Teléfono", "Phone"), ("correo", "Correo electrónico", "E-mail"),
             ("carta", "Carta", "Letter"), ("redes-sociales", "Redes sociales", "Social networks"),
             ("presencial", "Presencial", "In person"), ("web", "Sitio web", "Web")]
_WEEK = [1, 2, 3, 4, 5]

# Issue 10: what users subscribe to (R4.9; workflow's case.escalated.v1 kinds), the tenant's
# warning thresholds and escalation ladder (the same for every demo tenant).
ESCALATION_KINDS = [
    ("case_overdue", "Solicitud de atención al cliente vencida", "Customer request overdue"),
    ("first_response_overdue", "Primera respuesta vencida", "First response overdue"),
    ("commitment_passed", "Fecha de compromiso interna vencida", "Internal commitment date passed"),
    ("task_overdue", "Tarea vencida", "Task overdue"),
    ("priority_raised", "Prioridad elevada", "Priority raised"),
    ("triage_supervisor", "Escalamiento al supervisor", "Escalated to the supervisor"),
]
# R1.1: only where a case type sends churn alerts (DEMO_CATALOG's "escalation_kinds").
CHURN_ALERT_KIND = ("churn_alert", "Alerta de fuga (retención de póliza)", "Churn alert (policy retention)")
SLA_SETTINGS: dict[str, Any] = {
    "warning_percents": [50, 75], "quiet_hours": True, "ladder": [
        EscalationLevel(level=1, after=DeadlineRule(unit="business_hours", amount=0), to="manager_chain", steps_up=1,
                        channels=["email", "in_app"]),
        EscalationLevel(level=2, after=DeadlineRule(unit="business_hours", amount=4), to="manager_chain", steps_up=2,
                        channels=["email", "sms"]),
        EscalationLevel(level=3, after=DeadlineRule(unit="business_days", amount=1), to="area_head",
                        channels=["email", "sms", "in_app"]),
    ]}

# Per tenant: project names (codes as in DEMO_TENANTS), areas (code, es, en, head: a demo user's
# local part or None), categories (paths, parents first), calendar, case types' rules, and the
# further case types the procedures name.
DEMO_CATALOG: dict[str, dict[str, Any]] = {
    "aseguradora-demo": {
        "channels": [*_CHANNELS, ("ejecutivo-comercial", "Ejecutivo comercial", "Commercial executive")],
        "escalation_kinds": [CHURN_ALERT_KIND],
        "projects": {"vida-individual": ("Vida individual", "Individual life"),
                     "colectivos": ("Seguros colectivos", "Group insurance")},
        "areas": [("servicio-cliente", "Servicio al Cliente", "Customer Service", "supervisora"),
                  ("operaciones", "Operaciones", "Operations", "gerencia.tecnica"),
                  ("comercial", "Comercial", "Sales", "jefe.comercial")],
        "categories": [("siniestros", "Siniestros", "Claims"), ("siniestros/vida", "Vida", "Life"),
                       ("siniestros/vida/revision", "Revisión de siniestro", "Claim review"),
                       ("polizas", "Pólizas", "Policies"), ("polizas/retencion", "Retención", "Retention"),
                       ("polizas/retencion/retencion-total", "Retención total", "Total retention"),
                       ("polizas/rescate", "Rescate", "Surrender"),
                       ("polizas/rescate/rescate-total", "Rescate total", "Full surrender")],
        "calendar": {"work_days": _WEEK, "work_start": "09:00", "work_end": "18:00", "extra_closed_days": []},
        "types": {
            "consulta-siniestro": {"pinned": {"category": "siniestros/vida/revision", "area": "servicio-cliente",
                                              "document_class": "request"}},
            # R1.1 alerts; R1.2: a successful desistance needs the signed letter attached.
            "retencion-total": {"pinned": {"category": "polizas/retencion/retencion-total", "area": "comercial"},
                                "requires_attachments_to_finish": True, "churn_alert": True},
            # R1.4: 10 business days before Operations may execute it; individual life policies only.
            "rescate": {"pinned": {"category": "polizas/rescate/rescate-total", "area": "operaciones"},
                        "projects": ["vida-individual"], "sla": {"hold_business_days": 10},
                        "preceded_by": "retencion-total"},  # R1.4: refused without a retention request first
        },
        "more_types": [],
    },
    "electrica-demo": {
        "channels": _CHANNELS,
        "projects": {"comercial": ("Gestión comercial", "Commercial"), "tecnica": ("Gestión técnica", "Technical")},
        "areas": [("atencion-cliente", "Atención al Cliente", "Customer Care", "supervisora"),
                  ("departamento-tecnico", "Departamento Técnico", "Technical Department", "gerencia.tecnica"),
                  ("facturacion", "Facturación", "Billing", None)],
        "categories": [("comercial", "Comercial", "Commercial"), ("comercial/facturacion", "Facturación", "Billing"),
                       ("comercial/facturacion/reclamo-factura", "Reclamo por factura", "Bill complaint"),
                       ("tecnico", "Técnico", "Technical"), ("tecnico/suministro", "Suministro", "Supply"),
                       ("tecnico/suministro/interrupcion", "Interrupción de suministro", "Supply interruption")],
        "calendar": {"work_days": _WEEK, "work_start": "08:00", "work_end": "17:00",
                     "extra_closed_days": [{"date": "2026-12-24", "name": "Nochebuena (cierre de oficinas)"},
                                           {"date": "2026-12-31", "name": "Cierre contable anual"}]},
        "types": {
            # R2.3: an event (macro task) is created only under an interaction.
            "evento": {"requires_interaction": True},
            "reclamo-suministro": {"pinned": {"category": "tecnico/suministro/interrupcion",
                                              "area": "departamento-tecnico", "document_class": "complaint"},
                                   "projects": ["tecnica"]},
        },
        "more_types": [],
    },
    "gas-demo": {
        "channels": _CHANNELS,
        "projects": {"medidor": ("Gas medidor", "Metered gas"), "envasado": ("Gas envasado", "Bottled gas"),
                     "granel": ("Gas granel", "Bulk gas")},
        # R3.5: who files a follow-up depends on the project's business line.
        "business_lines": {"medidor": "meter", "envasado": "packaged", "granel": "bulk"},
        "areas": [("gestion-clientes", "Gestión de Clientes", "Customer Management", "supervisora"),
                  ("operaciones", "Operaciones", "Operations", "gerencia.tecnica"),
                  ("comercial", "Comercial", "Sales", None)],
        "categories": [("medidor", "Medidor", "Meter"), ("medidor/cobranza", "Cobranza", "Collections"),
                       ("medidor/cobranza/gestion-cobranza", "Gestión de cobranza", "Collections management"),
                       ("medidor/suministro", "Suministro", "Supply"),
                       ("medidor/suministro/reposicion", "Reposición de suministro", "Supply reconnection"),
                       ("medidor/suministro/habilitacion", "Habilitación del servicio", "Service enabling"),
                       ("medidor/atencion", "Atención", "Service"),
                       ("medidor/atencion/seguimiento", "Seguimiento de requerimiento", "Request follow-up"),
                       ("envasado", "Envasado", "Bottled"), ("envasado/despacho", "Despacho", "Delivery"),
                       ("envasado/despacho/atraso", "Atraso en despacho", "Late delivery"),
                       ("granel", "Granel", "Bulk"), ("granel/abastecimiento", "Abastecimiento", "Supply"),
                       ("granel/abastecimiento/carga", "Carga de estanque", "Tank refill")],
        "calendar": {"work_days": _WEEK, "work_start": "08:30", "work_end": "17:30", "extra_closed_days": []},
        "types": {
            # R3.1 follow-ups on an earlier request (the decision table R3.4 decides when).
            "respuesta-fuera-de-plazo": {"is_follow_up": True, "follow_up_kind": "late_response", "pinned": {
                "category": "medidor/atencion/seguimiento", "document_class": "complaint"}},
            "inconformidad-respuesta": {"is_follow_up": True, "follow_up_kind": "disagreement", "pinned": {
                "category": "medidor/atencion/seguimiento", "document_class": "complaint"}},
            # R3.2, as the procedure types it: Medidor > Cobranza > Gestión de cobranza, Gestión de
            # Clientes, priority high, complaint; phone, e-mail or social networks — never in person.
            "gestion-cobranza": {
                "allowed_channels": ["telefono", "correo", "redes-sociales"],
                "pinned": {"category": "medidor/cobranza/gestion-cobranza", "area": "gestion-clientes",
                           "priority": "high", "document_class": "complaint"},
                "default_priority": "high", "follow_up_kind": "collections_management",
                "required_fields": ["contact.phone", "contact.email", "description"]},
        },
        "more_types": [
            ("no-ejecucion-solucion", "No ejecución de la solución", "Solution not carried out",
             {"deadline_amount": 3, "is_follow_up": True, "follow_up_kind": "solution_not_executed",
              "pinned": {"category": "medidor/atencion/seguimiento", "document_class": "complaint"}}),
            ("demora-habilitacion", "Demora en la habilitación del servicio", "Delay enabling the service",
             {"deadline_amount": 3, "is_follow_up": True, "follow_up_kind": "delay_enabling_service",
              "pinned": {"category": "medidor/suministro/habilitacion", "area": "operaciones",
                         "document_class": "complaint"}}),
            # A business-hours rule: reconnecting a supply cut for debt is counted in working hours.
            ("tardanza-reposicion", "Tardanza en la reposición del suministro", "Late supply reconnection",
             {"deadline_unit": "business_hours", "deadline_amount": 16, "is_follow_up": True,
              "follow_up_kind": "delay_reconnecting_supply",
              "pinned": {"category": "medidor/suministro/reposicion", "area": "operaciones",
                         "priority": "high", "document_class": "complaint"},
              "default_priority": "high"}),
        ],
    },
    "inmobiliaria-demo": {
        "channels": _CHANNELS,
        "projects": {"edificio-los-robles": ("Edificio Los Robles", "Los Robles building"),
                     "condominio-el-mirador": ("Condominio El Mirador", "El Mirador condominium")},
        "areas": [("posventa", "Posventa", "After-sales", "supervisora"),
                  ("escrituras", "Escrituras y documentación", "Deeds and documents", None),
                  ("administracion", "Administración", "Property management", None)],
        "categories": [("atencion", "Atención", "Service"), ("atencion/consultas", "Consultas", "Enquiries"),
                       ("atencion/consultas/general", "Consulta general", "General enquiry"),
                       ("documentacion", "Documentación", "Documents"),
                       ("documentacion/escrituras", "Escrituras", "Deeds"),
                       ("documentacion/escrituras/copia", "Copia de escritura", "Copy of the deed"),
                       ("administracion", "Administración", "Management"),
                       ("administracion/gastos-comunes", "Gastos comunes", "Common charges")],
        "calendar": {"work_days": _WEEK, "work_start": "09:00", "work_end": "18:00", "extra_closed_days": []},
        "types": {
            "consulta-general": {"pinned": {"area": "posventa", "document_class": "inquiry"}},
            "documentacion": {"pinned": {"category": "documentacion/escrituras/copia", "area": "escrituras",
                                         "document_class": "request"}},
            # Issue 10: a complaint gets a first answer within 4 working hours.
            "reclamo-no-tecnico": {"pinned": {"area": "posventa", "document_class": "complaint"},
                                   "sla": {"first_response": {"unit": "business_hours", "amount": 4}}},
        },
        "more_types": [],
    },
}

_PINNED_KEYS = ("category", "area", "priority", "document_class")


def demo_case_type(tenant: str, code: str, name_es: str, name_en: str, days: int,
                   rules: dict[str, Any] | None = None) -> dict[str, Any]:
    """The column values of a demo case type: N business days unless its rules say otherwise."""
    r = dict(rules if rules is not None else DEMO_CATALOG.get(tenant, {}).get("types", {}).get(code, {}))
    pinned = {k: (r.get("pinned") or {}).get(k) for k in _PINNED_KEYS}
    return {"name_es": name_es, "name_en": name_en, "active": True,
            "deadline_unit": r.get("deadline_unit", "business_days"), "deadline_amount": r.get("deadline_amount", days),
            "allowed_channels": r.get("allowed_channels"), "pinned": pinned,
            "default_priority": r.get("default_priority", pinned["priority"] or "normal"),
            "is_follow_up": r.get("is_follow_up", False), "follow_up_kind": r.get("follow_up_kind"),
            "requires_interaction": r.get("requires_interaction", False),
            "requires_attachments_to_finish": r.get("requires_attachments_to_finish", False),
            "required_fields": r.get("required_fields", []), "projects": r.get("projects"), "sla": r.get("sla"),
            "churn_alert": r.get("churn_alert", False), "preceded_by": r.get("preceded_by")}


async def load_catalog(tx: Tx, tenant: str) -> int:
    """Insert the tenant's missing demo catalog entries (existing ones are left as they are);
    each insert emits its catalog event. Returns how many were added."""
    cat = DEMO_CATALOG.get(tenant)
    if cat is None:
        return 0
    added = 0
    heads = {r.email.split("@")[0]: r.id for r in await tx.conn.execute(
        select(users.c.id, users.c.email).where(users.c.tenant == tenant))}
    entries = [("channel", code, {"name_es": es, "name_en": en}) for code, es, en in cat["channels"]]
    entries += [("escalation_kind", code, {"name_es": es, "name_en": en})
                for code, es, en in [*ESCALATION_KINDS, *cat.get("escalation_kinds", [])]]
    lines = cat.get("business_lines", {})
    entries += [("project", code, {"name_es": es, "name_en": en, "business_line": lines.get(code)})
                for code, (es, en) in cat["projects"].items()]
    entries += [("area", code, {"name_es": es, "name_en": en, "head_user_id": heads.get(head) if head else None})
                for code, es, en, head in cat["areas"]]
    for kind, code, values in entries:
        if await catalog_store.get_entry(tx.conn, kind, tenant, code) is None:
            await catalog_store.save_entry(tx, kind, tenant, code, values, create=True)
            added += 1
    for path, es, en in cat["categories"]:
        if await catalog_store.category_by_path(tx.conn, tenant, path) is None:
            parent_path, _, code = path.rpartition("/")
            parent = await catalog_store.category_by_path(tx.conn, tenant, parent_path) if parent_path else None
            await catalog_store.save_category(tx, tenant, {"code": code, "name_es": es, "name_en": en}, parent=parent)
            added += 1
    for code, es, en, rules in cat["more_types"]:
        if await catalog_store.get_case_type(tx.conn, tenant, code) is None:
            await catalog_store.save_case_type(tx, tenant, code, demo_case_type(tenant, code, es, en, 0, rules),
                                               create=True)
            added += 1
    if (await catalog_store.get_calendar(tx.conn, tenant)).version is None:
        c = cat["calendar"]
        row = (await tx.conn.execute(select(tenants).where(tenants.c.slug == tenant))).one()
        # The procedures name no lunch break: one period a day (``hours`` would give several).
        hours = {d: [WorkPeriod(start=time.fromisoformat(a), end=time.fromisoformat(b)) for a, b in ps]
                 for d, ps in c.get("hours", {str(day): [(c["work_start"], c["work_end"])]
                                              for day in c["work_days"]}).items()}
        await catalog_store.save_calendar(
            tx, tenant, country=row.country, timezone=row.timezone, name="Calendario general",
            extra_closed_days=[ClosedDay(date=date.fromisoformat(d["date"]), name=d["name"])
                               for d in c["extra_closed_days"]], hours=hours)
        added += 1
    if await catalog_store.get_sla_settings(tx.conn, tenant) is None:
        await catalog_store.save_sla_settings(tx, tenant, **SLA_SETTINGS)
        added += 1
    return added
