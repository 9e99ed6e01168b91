"""Demo tenants shaped like the four source companies (../shared/seeds), in Spanish, with the
case types their procedures name and a user per role (R4.4). Loading is idempotent: existing
rows are left as they are.

Demo users share one published password (``DEMO_PASSWORD``) so a new user can log in at once;
they exist only in the demo tenants, which a real installation does not seed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.intake import accounts
from services.intake.adapters.db import case_types, tenants, users
from services.intake.credentials import hash_password
from shared.db import Database, utcnow

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
                    await tx.conn.execute(case_types.insert().values(
                        tenant=t["slug"], code=code, name_es=name_es, name_en=name_en,
                        deadline_business_days=days, active=True))
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
                        password_hash=hash_password(DEMO_PASSWORD))
                    added += 1
    return added
