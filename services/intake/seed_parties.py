"""Demo parties and assets for the four demo tenants (../shared/seeds): customers with valid
national ids, prospects and stakeholders (one internal, one shared only with the technical
manager, R2.7), owners, a lessee and a non-owner (R4.2), with contacts (R2.8), policies and a
product (R0.1), properties (R4.2) and supplies as the billing import would leave them (R2.1).

Loading is idempotent: ids are derived from the tenant and a fixed key, and rows that exist are
left as they are. Run after the demo tenants and users (``services.intake.seed.load_tenants``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select

from services.intake.adapters.db import tenants, users
from services.intake.adapters.party_tables import assets, parties, party_contacts
from services.intake.domain import parties as rules
from services.intake.seed import demo_email
from services.intake.service_layer.assets import store_asset
from services.intake.service_layer.parties import store_party
from services.intake.service_layer.unit_of_work import UnitOfWork
from shared.db import Database, utcnow

_NS = uuid.UUID("6f6c2b1e-2d0a-4b8e-9a53-0d7c1e5a4b21")


def demo_id(tenant: str, what: str, key: str) -> uuid.UUID:
    """Stable id of a demo row, so loading twice finds what the first run added."""
    return uuid.uuid5(_NS, f"{tenant}/{what}/{key}")


# Per tenant: parties (key, kind, name, national id, email, phone, extra) and their contacts and
# assets. ``extra``: internal, restricted_to (demo user local parts), address, details, executive
# (R1.1: the demo user local part of the customer's commercial executive).
DEMO_PARTIES: dict[str, list[dict[str, Any]]] = {
    "aseguradora-demo": [
        {"key": "hector", "kind": "person", "name": "Héctor Contreras Muñoz", "national_id": "10.359.182-1",
         "email": "hector.contreras@example.cl", "phone": "+56912345678", "address": "Av. Providencia 1234, Santiago",
         "assets": [("policy", "POL-VI-2019-004512", "Seguro de vida individual Plan Protección",
                     {"plan": "Protección", "start_date": "2019-04-01", "premium_uf": 1.85, "payment": "PAC"}),
                    ("product", "APV-AHORRO-01", "Ahorro previsional voluntario (APV)",
                     {"category": "Ahorro", "regime": "A"})]},
        # R1.1 (issue 12): the customer of the retention walk-through, with her commercial executive
        # ("ejecutiva": her unit head is jefe.comercial, and above, gerencia.comercial).
        {"key": "carolina", "kind": "person", "name": "Carolina Fuentes Rojas", "national_id": "12.345.678-5",
         "email": "carolina.fuentes@example.cl", "phone": "+56987654321", "executive": "ejecutiva",
         "assets": [("policy", "POL-0001", "Seguro de vida individual con ahorro (SVI)",
                     {"plan": "SVI Ahorro", "start_date": "2020-03-02", "premium_uf": 1.2, "payment": "PAC"}),
                    ("policy", "POL-VI-2021-010233", "Seguro de vida con ahorro",
                     {"plan": "Vida Ahorro", "start_date": "2021-09-15", "premium_uf": 2.4, "payment": "PAT"})]},
        {"key": "constructora", "kind": "company", "name": "Constructora Andes SpA", "national_id": "76.086.428-5",
         "email": "rrhh@constructora-andes.example.cl", "phone": "+56223456789",
         "contacts": [("Patricio Soto", "Gerente de Personas", True, "patricio.soto@constructora-andes.example.cl",
                       "+56998765432")],
         "assets": [("policy", "POL-CO-2022-000871", "Seguro colectivo de vida (142 trabajadores)",
                     {"plan": "Colectivo Vida", "insured": 142, "start_date": "2022-01-01"})]},
    ],
    "electrica-demo": [
        {"key": "hotel", "kind": "prospect", "name": "Hotel Costa del Sol, S.A. de C.V.",
         "national_id": "0614-150385-102-9", "email": "gerencia@costadelsol.example.sv", "phone": "+50325551234",
         "address": "Km 62 carretera del Litoral, La Libertad",
         "details": {"interest": "Conexión en media tensión", "estimated_demand_kw": 450},
         "contacts": [("Ana Beatriz Molina", "Gerente general", True, "ana.molina@costadelsol.example.sv",
                       "+50370001234"),
                      ("Roberto Chávez", "Jefe de mantenimiento", False, None, "+50370005678")]},
        {"key": "alcaldia", "kind": "stakeholder", "name": "Alcaldía Municipal de San Miguel",
         "email": "despacho@sanmiguel.example.sv", "phone": "+50326601000",
         "contacts": [("Lic. Mario Ventura", "Secretario municipal", True, None, "+50326601010")]},
        {"key": "siget", "kind": "stakeholder", "name": "Superintendencia General de Electricidad y Telecomunicaciones",
         "restricted_to": ["gerencia.tecnica"], "details": {"note": "Información regulatoria: acceso restringido"}},
        {"key": "ti", "kind": "stakeholder", "internal": True, "name": "Gerencia de Tecnología (cliente interno)",
         "details": {"requests": "Mejoras a sistemas informáticos y procesos internos"}},
        {"key": "maria", "kind": "person", "name": "María Elena López", "national_id": "00016297-5",
         "email": "maria.lopez@example.sv", "phone": "+50378901234",
         "supplies": [("100200300", "Suministro Av. Roosevelt 123, San Miguel",
                       {"address": "Av. Roosevelt 123, San Miguel", "tariff": "BT-1 Residencial",
                        "meter": "MTR-558812", "status": "conectado"})]},
        {"key": "panaderia", "kind": "company", "name": "Panadería La Espiga, S.A. de C.V.",
         "national_id": "0614-010190-101-5", "phone": "+50326612345",
         "supplies": [("100200301", "Suministro 4a Calle Poniente 18, San Miguel",
                       {"address": "4a Calle Poniente 18, San Miguel", "tariff": "BT-2 Comercial",
                        "meter": "MTR-601144", "status": "conectado"})]},
    ],
    "gas-demo": [
        {"key": "rosa", "kind": "person", "name": "Rosa Elena Pizarro", "national_id": "7.654.321-6",
         "email": "rosa.pizarro@example.cl", "phone": "+56955512345",
         "supplies": [("GM-0045821", "Medidor Los Aromos 456, Maipú",
                       {"business_line": "medidor", "address": "Los Aromos 456, Maipú", "meter": "G4-778120"})]},
        {"key": "fogon", "kind": "company", "name": "Restaurante El Fogón Ltda.", "national_id": "77.123.456-9",
         "email": "compras@elfogon.example.cl", "phone": "+56222334455",
         "contacts": [("Luis Araya", "Administrador", True, "luis.araya@elfogon.example.cl", "+56944455566")],
         "supplies": [("GR-0003310", "Estanque granel 2 m³, Av. Pajaritos 3300",
                       {"business_line": "granel", "tank_m3": 2, "address": "Av. Pajaritos 3300, Maipú"})]},
    ],
    "inmobiliaria-demo": [
        {"key": "propietario", "kind": "owner", "name": "Jorge Contreras Vidal", "national_id": "16.048.532-9",
         "email": "jorge.contreras@example.cl", "phone": "+56911122233",
         "assets": [("property", "LR-A-1204", "Edificio Los Robles, departamento 1204",
                     {"project": "edificio-los-robles", "tower": "A", "unit": "1204", "parking": "E-45",
                      "delivered_on": "2025-06-30"})]},
        {"key": "arrendataria", "kind": "lessee", "name": "Camila Rojas Pérez", "national_id": "18.765.432-7",
         "email": "camila.rojas@example.cl", "phone": "+56933344455",
         "details": {"leases": "LR-A-1204"}},
        {"key": "no-propietario", "kind": "non_owner", "name": "Daniela Contreras Soto", "national_id": "13.579.246-2",
         "email": "daniela.contreras@example.cl", "details": {"relation": "Hija del propietario de LR-A-1204"}},
        {"key": "propietaria-mirador", "kind": "owner", "name": "Francisca Méndez Larraín",
         "national_id": "14.123.456-0", "email": "francisca.mendez@example.cl", "phone": "+56966677788",
         "assets": [("property", "EM-C-07", "Condominio El Mirador, casa 7",
                     {"project": "condominio-el-mirador", "unit": "Casa 7", "delivered_on": "2024-11-15"})]},
    ],
}


async def _user_ids(uow: UnitOfWork, tenant: str, locals_: list[str]) -> list[uuid.UUID]:
    emails = [demo_email(x, tenant) for x in locals_]
    return list((await uow.conn.execute(select(users.c.id).where(users.c.tenant == tenant,
                                                                users.c.email.in_(emails)))).scalars())


async def _asset(uow: UnitOfWork, tenant: str, party_id: uuid.UUID, kind: str, code: str, name: str,
                 attributes: dict[str, Any], source: str) -> int:
    aid = demo_id(tenant, "asset", f"{kind}/{code}")
    if (await uow.conn.execute(select(assets.c.id).where(assets.c.tenant == tenant, assets.c.kind == kind,
                                                        assets.c.code == code))).first() is not None:
        return 0
    now = utcnow()
    await store_asset(uow, {"id": aid, "tenant": tenant, "kind": kind, "code": code, "name": name,
                            "search_name": rules.fold(name), "attributes": attributes, "party_id": party_id,
                            "active": True, "source": source, "created_by": None, "created_at": now,
                            "updated_at": now})
    return 1


async def load_parties(db: Database, data: dict[str, list[dict[str, Any]]] | None = None) -> int:
    """Insert the demo parties, contacts and assets that are missing (tenants that do not exist
    are skipped); returns how many rows were added. Emits the usual events for what it adds."""
    added = 0
    async with UnitOfWork(db) as uow:  # the usual events for what it adds
        for tenant, items in (DEMO_PARTIES if data is None else data).items():
            country = (await uow.conn.execute(select(tenants.c.country).where(tenants.c.slug == tenant))).scalar()
            if country is None:
                continue
            for item in items:
                pid = demo_id(tenant, "party", item["key"])
                if (await uow.conn.execute(select(parties.c.id).where(parties.c.id == pid))).first() is None:
                    nid = rules.normalize_national_id(item["national_id"], country) if item.get("national_id") else None
                    taken = nid is not None and (await uow.conn.execute(select(parties.c.id).where(
                        parties.c.tenant == tenant, parties.c.national_id_key == nid.key))).first() is not None
                    if taken:  # someone registered that person already: leave theirs alone
                        continue
                    restricted_to = item.get("restricted_to")
                    executive = await _user_ids(uow, tenant, [item["executive"]]) if item.get("executive") else []
                    now = utcnow()
                    await store_party(uow, {
                        "id": pid, "tenant": tenant, "kind": item["kind"], "internal": bool(item.get("internal")),
                        "name": item["name"], "search_name": rules.fold(item["name"]),
                        "national_id": nid.value if nid else None, "national_id_key": nid.key if nid else None,
                        "email": item.get("email"), "phone": item.get("phone"), "address": item.get("address"),
                        "notes": None, "details": item.get("details", {}), "restricted": bool(restricted_to),
                        "active": True, "source": "seed", "created_by": None, "created_at": now, "updated_at": now,
                        "executive_id": executive[0] if executive else None},
                        await _user_ids(uow, tenant, restricted_to) if restricted_to else [])
                    added += 1
                    for name, position, decides, email, phone in item.get("contacts", []):
                        await uow.conn.execute(insert(party_contacts), {
                            "id": demo_id(tenant, "contact", f"{item['key']}/{name}"), "party_id": pid,
                            "tenant": tenant, "name": name, "position": position, "decision_maker": decides,
                            "email": email, "phone": phone, "notes": None, "created_at": now, "updated_at": now})
                        added += 1
                for kind, code, name, attributes in item.get("assets", []):
                    added += await _asset(uow, tenant, pid, kind, code, name, attributes, "seed")
                for code, name, attributes in item.get("supplies", []):
                    added += await _asset(uow, tenant, pid, rules.AssetKind.SUPPLY.value, code, name, attributes,
                                          "billing_import")
    return added
