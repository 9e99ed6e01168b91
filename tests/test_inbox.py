"""The inbox (R4.5): the default view of in-progress cases, text search, every filter, the sorts,
keyset pages with a total, strict parameter validation, and who sees what (R4.4, R2.7). Also:
the index expressions of migration intake_0005_inbox are the ones the queries use, and the
planner does use those indexes."""

from __future__ import annotations

import importlib.util
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text, update

from services.intake.adapters import inbox_queries as iq
from services.intake.adapters.db import cases
from services.intake.domain.access import Principal, Role
from tests.support.system import System, case_body, demo, wait_for

ROOT = Path(__file__).resolve().parents[1]


def _migration() -> Any:
    path = ROOT / "services/intake/migrations/versions/0005_inbox.py"
    spec = importlib.util.spec_from_file_location("intake_0005_inbox", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_r4_5_the_migrations_index_expressions_are_the_queries_expressions() -> None:
    m = _migration()
    assert m.OPEN == iq.OPEN
    assert m.DUE_KEY == iq.DUE_KEY
    assert m.PRIORITY_RANK == iq.PRIORITY_RANK
    assert m.SEARCH_DOC_PG == iq.SEARCH_DOC_PG
    for dialect in ("postgresql", "sqlite"):
        sql = iq.Sql(dialect)
        assert str(sql.due_key.element.compile()).replace("intake.cases.", "") == iq.DUE_KEY[dialect]
    pg = iq.Sql("postgresql")
    levels = ", ".join(f"({str(pg.category_level(i).compile()).replace('intake.cases.', '')})" for i in range(3))
    assert levels == m.CATEGORY_LEVELS


def test_r4_5_search_folding_and_cursors() -> None:
    assert iq.fold("Héctor NÚÑEZ Ça") == "hector nunez ca"
    row = type("R", (), {"due_key": datetime(2026, 12, 1, 3, tzinfo=UTC), "id": uuid.uuid4(), "priority_rank": 1,
                         "created_at": datetime(2026, 11, 1, tzinfo=UTC)})()
    for sort in ("deadline", "-created", "priority"):
        keys = iq.decode_cursor(iq.encode_cursor(sort, row), sort)
        assert keys[-1] == row.id
    with pytest.raises(iq.BadCursor, match="sort"):
        iq.decode_cursor(iq.encode_cursor("deadline", row), "-deadline")
    for bad in ("", "xyz", "eyJzIjoiZGVhZGxpbmUifQ"):
        with pytest.raises(iq.BadCursor):
            iq.decode_cursor(bad, "deadline")


# -- through the API ------------------------------------------------------------------------------
# Five cases of the real-estate demo tenant, varied on every filter. Case 3 ends finished.
SPECS: list[dict[str, Any]] = [
    {"type": "consulta-general", "area": "posventa", "category_path": ["atencion", "consultas", "general"],
     "channel": "telefono", "project": "edificio-los-robles", "responsible_email": demo("ejecutiva"),
     "subject": "Consulta por estacionamiento", "contact": {"name": "Héctor Núñez", "email": "hnunez@example.cl",
                                                            "phone": "+56987654321"}},
    {"type": "documentacion", "area": "escrituras", "category_path": ["documentacion", "escrituras", "copia"],
     "channel": "correo", "project": "condominio-el-mirador", "responsible_email": demo("ejecutivo"),
     "subject": "Copia de escritura", "contact": {"name": "María José Pérez", "email": "mjperez@example.cl"}},
    {"type": "reclamo-no-tecnico", "area": "posventa", "category_path": ["administracion", "gastos-comunes"],
     "channel": "presencial", "project": "edificio-los-robles", "responsible_email": demo("ejecutiva"),
     "subject": "Cobro de gastos comunes", "contact": {"name": "Ana Rojas", "email": "arojas@example.cl"}},
    {"type": "consulta-general", "area": "posventa", "category_path": ["atencion", "consultas", "general"],
     "channel": "web", "project": "condominio-el-mirador", "responsible_email": demo("ejecutivo"),
     "subject": "Horario de atención", "contact": {"name": "Pedro Soto", "email": "psoto@example.cl"}},
    {"type": "documentacion", "area": "escrituras", "category_path": ["documentacion", "escrituras", "copia"],
     "channel": "correo", "project": "edificio-los-robles", "responsible_email": demo("ejecutiva"),
     "subject": "Escritura de compraventa", "contact": {"name": "Luis Muñoz", "email": "lmunoz@example.cl",
                                                        "phone": "+56955554444"}},
]


async def _load(system: System) -> list[dict[str, Any]]:
    """The five cases, with their deadlines set; case 3 (index 2) finished, case 4 executed, case 5
    overdue, case 2 high priority and association 'owner'."""
    made = []
    for i, spec in enumerate(SPECS):
        made.append(await system.create_case({**case_body(100 + i), **spec}))
    admin = await system.auth("admin")

    async def deadlines_set() -> bool:
        for m in made:
            if (await system.intake.get(f"/cases/{m['id']}", headers=admin)).json()["deadline"] is None:
                return False
        return True

    await wait_for(deadlines_set, what="deadlines from workflow")
    c = system.intake
    assert (await c.post(f"/cases/{made[2]['id']}/finish", json={"outcome": "success", "comment": "Aclarado."},
                         headers=admin)).status_code == 200
    assert (await c.post(f"/cases/{made[3]['id']}/execute", json={"text": "Se envió el horario."},
                         headers=await system.auth("ejecutivo"))).status_code == 200
    assert (await c.post(f"/cases/{made[1]['id']}/priority", json={"priority": "high",
                                                                    "reason": "customer_called_again"},
                         headers=admin)).status_code == 200
    async with system.rt["intake"].db.engine.begin() as conn:
        past = datetime.now(UTC) - timedelta(days=1)
        # Overdue as workflow makes it: its deadline passed, and case.overdue set overdue_since (R4.8).
        await conn.execute(update(cases).where(cases.c.id == uuid.UUID(made[4]["id"]))
                           .values(due_at=past, due_date=past.date(), overdue_since=past))
        await conn.execute(update(cases).where(cases.c.id == uuid.UUID(made[1]["id"])).values(association="owner"))
    return [(await c.get(f"/cases/{m['id']}", headers=admin)).json() for m in made]


async def _ids(system: System, as_user: str = "admin", path: str = "/inbox", **params: Any) -> list[str]:
    r = await system.intake.get(path, params=params, headers=await system.auth(as_user))
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["items"]]


@pytest.mark.integration
async def test_r4_5_default_view_search_and_every_filter(rabbit_system: System) -> None:
    s = rabbit_system
    k = await _load(s)
    ids = [x["id"] for x in k]
    r = await s.intake.get("/inbox", headers=await s.auth("lectura"))
    assert r.status_code == 200
    page = r.json()
    # Default: in-progress only (new, in execution, waiting), sorted by deadline; the finished one is out.
    assert {x["id"] for x in page["items"]} == {ids[0], ids[1], ids[3], ids[4]}
    assert page["total"] == 4 and page["total_exact"] is True and page["next_cursor"] is None
    assert page["items"][0]["id"] == ids[4] and page["items"][0]["overdue"] is True  # overdue first
    dues = [x["deadline"]["due_at"] for x in page["items"]]
    assert dues == sorted(dues)
    first = next(x for x in page["items"] if x["id"] == ids[0])
    assert first["contact"] == {"name": "Héctor Núñez", "email": "hnunez@example.cl", "phone": "+56987654321"}
    assert first["category_path"] == ["atencion", "consultas", "general"] and first["overdue"] is False
    # Text search: accents and case do not matter, every word must appear.
    assert await _ids(s, q="hector nunez") == [ids[0]]
    assert await _ids(s, q="HÉCTOR") == [ids[0]]
    assert await _ids(s, q="héctor pérez") == []
    assert await _ids(s, q="+56 9 8765 4321") == [ids[0]]  # phone, typed with spaces
    assert await _ids(s, q="mjperez@example") == [ids[1]]  # e-mail
    assert await _ids(s, q=k[3]["number"]) == [ids[3]]  # case number
    assert set(await _ids(s, q="escritura")) == {ids[1], ids[4]}  # subject
    assert await _ids(s, q="gastos comunes") == []  # finished: not in the default view…
    assert await _ids(s, q="gastos comunes", status=["finished_success"]) == [ids[2]]  # …but findable
    assert await _ids(s, q="100%_") == []  # LIKE wildcards are literal
    # Filters.
    assert set(await _ids(s, type="documentacion")) == {ids[1], ids[4]}
    assert set(await _ids(s, type=["documentacion", "consulta-general"])) == {ids[0], ids[1], ids[3], ids[4]}
    assert set(await _ids(s, area="escrituras")) == {ids[1], ids[4]}
    assert set(await _ids(s, project="condominio-el-mirador")) == {ids[1], ids[3]}
    assert set(await _ids(s, channel="correo")) == {ids[1], ids[4]}
    assert await _ids(s, association="owner") == [ids[1]]
    assert await _ids(s, priority="high") == [ids[1]]
    assert set(await _ids(s, category="atencion")) == {ids[0], ids[3]}
    assert set(await _ids(s, category="documentacion/escrituras/copia")) == {ids[1], ids[4]}
    assert await _ids(s, category="atencion/reclamos") == []
    assert await _ids(s, status="in_execution") == [ids[3]]
    assert set(await _ids(s, status=["new", "finished_success"])) == {ids[0], ids[1], ids[2], ids[4]}
    assert await _ids(s, overdue="true") == [ids[4]]
    assert set(await _ids(s, overdue="false")) == {ids[0], ids[1], ids[3]}
    ejecutiva = k[0]["responsible"]["id"]
    assert set(await _ids(s, responsible=ejecutiva)) == {ids[0], ids[4]}
    assert set(await _ids(s, "ejecutiva", responsible="me")) == {ids[0], ids[4]}
    assert set(await _ids(s, "ejecutiva", "/inbox/mine")) == {ids[0], ids[4]}
    assert set(await _ids(s, "ejecutiva", "/inbox/mine", status=["finished_success"])) == {ids[2]}
    due_day = date.fromisoformat(k[0]["deadline"]["due_date"])
    in_range = await _ids(s, due_from=due_day.isoformat(), due_to=due_day.isoformat())
    assert ids[0] in in_range and ids[4] not in in_range
    assert await _ids(s, due_to=(date.today() - timedelta(days=1)).isoformat()) == [ids[4]]
    # Filters combine with AND.
    assert await _ids(s, area="posventa", project="condominio-el-mirador", status="in_execution") == [ids[3]]


@pytest.mark.integration
async def test_r4_5_sorts_and_keyset_pages_cover_every_case_once(rabbit_system: System) -> None:
    s = rabbit_system
    k = await _load(s)
    every = ["new", "in_execution", "waiting_on_customer", "finished_success", "finished_failure"]
    for sort in ("deadline", "-deadline", "created", "-created", "priority", "-priority"):
        whole = await _ids(s, sort=sort, status=every, limit=200)
        assert sorted(whole) == sorted(x["id"] for x in k)
        seen: list[str] = []
        cursor = None
        totals = []
        while True:
            params: dict[str, Any] = {"sort": sort, "status": every, "limit": 2}
            if cursor:
                params["cursor"] = cursor
            r = await s.intake.get("/inbox", params=params, headers=await s.auth("admin"))
            assert r.status_code == 200, r.text
            body = r.json()
            seen += [x["id"] for x in body["items"]]
            totals.append(body["total"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == whole, sort  # same order, nothing twice, nothing missed
        assert totals == [5, None, None]  # the total comes with the first page
    by_created = await _ids(s, sort="created", status=every)
    assert by_created == [x["id"] for x in k]
    by_priority = await _ids(s, sort="priority")
    assert by_priority[0] == k[1]["id"]  # the high one first, then by deadline
    r = await s.intake.get("/inbox", params={"limit": 1, "count": "true", "cursor": (await s.intake.get(
        "/inbox", params={"limit": 1}, headers=await s.auth("admin"))).json()["next_cursor"]},
        headers=await s.auth("admin"))
    assert r.json()["total"] == 4


@pytest.mark.integration
async def test_r4_5_parameters_are_validated_field_by_field(rabbit_system: System) -> None:
    s = rabbit_system
    admin = await s.auth("admin")
    r = await s.intake.get("/inbox", params={"stauts": "new", "status": "open", "limit": "0", "sort": "due",
                                             "overdue": "maybe", "due_from": "2026-13-01", "type": "Tipo X",
                                             "category": "a/b/c/d", "association": "tenant"}, headers=admin)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"stauts", "status.0", "limit", "sort", "overdue", "due_from", "type.0", "category",
            "association.0"} <= fields
    r = await s.intake.get("/inbox", params={"q": "ab", "due_from": "2026-12-10", "due_to": "2026-12-01",
                                             "cursor": "garbage", "responsible": "bob"},
                           headers={**admin, "Accept-Language": "en"})
    assert r.status_code == 422
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert sorted(errors) == ["cursor", "due_to", "q", "responsible.0"]
    assert errors["q"]["code"] == "too_short" and errors["cursor"]["code"] == "invalid_cursor"
    assert errors["due_to"]["message"] == "Must be on or after due_from."
    first = (await s.intake.get("/inbox", params={"limit": 1}, headers=admin)).json()
    assert first["next_cursor"] is None  # nothing there yet
    await s.create_case(case_body(1))
    await s.create_case(case_body(2))
    cursor = (await s.intake.get("/inbox", params={"limit": 1}, headers=admin)).json()["next_cursor"]
    r = await s.intake.get("/inbox", params={"limit": 1, "cursor": cursor, "sort": "-deadline"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "cursor_sort_mismatch"
    assert (await s.intake.get("/inbox/mine", params={"responsible": "me"}, headers=admin)).status_code == 422
    assert (await s.intake.get("/inbox")).status_code == 401


@pytest.mark.integration
async def test_r4_4_r2_7_inbox_shows_the_tenants_cases_except_parties_not_shared(rabbit_system: System) -> None:
    s = rabbit_system
    c = s.intake
    admin = await s.auth("admin")
    r = await c.post("/parties", headers=admin, json={"kind": "owner", "name": "Rosa Valdés",
                                                      "national_id": "10.359.182-1", "restricted": True})
    assert r.status_code == 201, r.text
    party = r.json()["id"]
    hidden = await s.create_case(case_body(7, party_id=party, subject="Consulta reservada"))
    open_ = await s.create_case(case_body(8))
    # Executors see every case of the tenant (R4.4)… except a restricted party's (R2.7).
    assert await _ids(s, "ejecutivo") == [open_["id"]]
    assert set(await _ids(s, "admin")) == {hidden["id"], open_["id"]}
    # The national id finds the party's cases (any formatting), for those who may see them.
    assert await _ids(s, "admin", q="10359182-1") == [hidden["id"]]
    assert await _ids(s, "ejecutivo", q="10359182-1") == []
    users = (await c.get("/users", headers=admin)).json()
    users = users["items"] if isinstance(users, dict) else users
    ejecutivo = next(u["id"] for u in users if u["email"] == demo("ejecutivo"))
    r = await c.put(f"/parties/{party}/sharing", headers=admin, json={"restricted": True, "shared_with": [ejecutivo]})
    assert r.status_code == 200, r.text
    assert set(await _ids(s, "ejecutivo")) == {hidden["id"], open_["id"]}
    # Another tenant sees none of it.
    r = await c.get("/inbox", headers=await s.auth("admin", "gas-demo"))
    assert r.json()["items"] == [] and r.json()["total"] == 0


@pytest.mark.integration
async def test_r4_5_total_is_exact_up_to_the_cap_then_an_estimate(rabbit_system: System) -> None:
    s = rabbit_system
    for i in range(4):
        await s.create_case(case_body(i))
    p = Principal(tenant="inmobiliaria-demo", roles=frozenset({Role.ADMIN}))
    q = iq.InboxQuery(tenant="inmobiliaria-demo", now=datetime.now(UTC))
    async with s.rt["intake"].db.engine.connect() as conn:
        assert await iq.count(conn, q, p) == (4, True)
        n, exact = await iq.count(conn, q, p, cap=2)
    assert n >= 3 and exact is False


@pytest.mark.integration
async def test_r4_5_the_planner_uses_the_inbox_indexes(rabbit_system: System) -> None:
    """With sequential scans and sorts priced out (a tiny table would not need indexes), every main
    query finds its index: proof that the expressions and the partial predicate match."""
    s = rabbit_system
    for i in range(3):
        await s.create_case(case_body(i))
    admin = Principal(tenant="inmobiliaria-demo", roles=frozenset({Role.ADMIN}))
    now = datetime.now(UTC)
    every = ("new", "in_execution", "waiting_on_customer", "finished_success", "finished_failure")
    expect = {
        "cases_open_due": iq.InboxQuery(tenant="inmobiliaria-demo", now=now),
        "cases_open_created": iq.InboxQuery(tenant="inmobiliaria-demo", now=now, sort="-created"),
        "cases_open_priority": iq.InboxQuery(tenant="inmobiliaria-demo", now=now, sort="priority"),
        "cases_open_responsible": iq.InboxQuery(tenant="inmobiliaria-demo", now=now,
                                                responsible_ids=(uuid.uuid4(),)),
        "cases_due": iq.InboxQuery(tenant="inmobiliaria-demo", now=now, statuses=every),
    }
    search = iq.InboxQuery(tenant="inmobiliaria-demo", now=now, statuses=every, words=("contreras",))
    async with s.rt["intake"].db.engine.begin() as conn:  # a few thousand more, for realistic statistics
        await conn.execute(text(
            "INSERT INTO intake.cases (id, tenant, number, type_code, subject, description, contact_name, "
            "contact_email, contact_phone, responsible_email, priority, status, created_at, due_at, document_class, "
            "not_satisfied, version) SELECT gen_random_uuid(), 'inmobiliaria-demo', 'B' || g, 'consulta-general', "
            "'Consulta ' || g, '-', 'Nombre ' || g, 'c' || g || '@example.cl', NULL, 'x@example.cl', 'normal', "
            "(ARRAY['new', 'in_execution', 'finished_success'])[1 + g % 3], now() - g * interval '1 minute', "
            "now() + g * interval '1 minute', 'request', false, 1 FROM generate_series(1, 3000) g"))
        await conn.execute(text(  # parties too, a few of them restricted (R2.7)
            "INSERT INTO intake.parties (id, tenant, kind, internal, name, search_name, details, restricted, active, "
            "source, created_at, updated_at) SELECT gen_random_uuid(), 'inmobiliaria-demo', 'owner', false, "
            "'Parte ' || g, 'parte ' || g, '{}'::jsonb, g % 100 = 0, true, 'seed', now(), now() "
            "FROM generate_series(1, 1000) g"))
    async with s.rt["intake"].db.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE intake.cases"))  # also moves the GIN's pending list in
        await conn.execute(text("VACUUM ANALYZE intake.parties"))
    async with s.rt["intake"].db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        await conn.execute(text("SET LOCAL enable_sort = off"))
        for index, q in expect.items():
            plan = await iq.explain_analyze(conn, q, admin)
            assert index in plan, f"{index} not used:\n{plan}"
        # R2.7 for an executor: the hidden parties come from the few restricted ones.
        executor = Principal(tenant="inmobiliaria-demo", roles=frozenset({Role.EXECUTOR}), user_id=uuid.uuid4())
        plan = await iq.explain_analyze(conn, iq.InboxQuery(tenant="inmobiliaria-demo", now=now), executor)
        assert "parties_restricted" in plan, plan
        # Text search: a bitmap over the trigram index, then a top-N sort of the matches.
        await conn.execute(text("SET LOCAL enable_sort = on"))
        await conn.execute(text("SET LOCAL enable_indexscan = off"))
        plan = await iq.explain_analyze(conn, search, admin)
        assert "cases_search_trgm" in plan, plan
        # In the default view either trigram index will do at this size (the bench's million cases
        # pick cases_open_search_trgm, the partial one).
        plan = await iq.explain_analyze(conn, iq.InboxQuery(tenant="inmobiliaria-demo", now=now,
                                                            words=("contreras",)), admin)
        assert "cases_open_search_trgm" in plan or "cases_search_trgm" in plan, plan


@pytest.mark.integration
async def test_r4_5_inbox_in_embedded_mode(embedded_system: System) -> None:
    """SQLite (embedded): same search folding, filters and keyset pages."""
    s = embedded_system
    made = [await s.create_case({**case_body(i), **spec}) for i, spec in enumerate(SPECS[:3])]
    assert await _ids(s, q="HECTOR núñez") == [made[0]["id"]]
    assert set(await _ids(s, category="documentacion/escrituras")) == {made[1]["id"]}
    every: list[str] = []
    cursor = None
    while True:
        r = await s.intake.get("/inbox", params={"limit": 1, "sort": "-created", **({"cursor": cursor} if cursor
                                                                                       else {})},
                               headers=await s.auth("admin"))
        assert r.status_code == 200, r.text
        every += [x["id"] for x in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert every == [m["id"] for m in reversed(made)]
