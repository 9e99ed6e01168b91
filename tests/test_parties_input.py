"""Bad input to parties, contacts, assets and the billing import of supplies (R2.1, R2.7, R2.8)
is refused as a 422 (413 for size) problem naming the field — never a database error (500):
NUL bytes and lone surrogates, tampered cursors, deep or non-finite free-form JSON, deep,
huge or overlong imports. And a change decides R2.7 on the party row as locked for it."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select, update

from services.intake.adapters.db import outbox
from services.intake.adapters.party_tables import assets, parties
from services.intake.domain import parties as rules
from tests.support.system import System

GAS = "gas-demo"
JSON = {"Content-Type": "application/json"}


async def count(s: System, table: Any, *where: Any) -> int:
    async with s.rt["intake"].db.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


def errors_of(r: Any) -> list[tuple[str, str]]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return [(e["pointer"], e["code"]) for e in r.json()["errors"]]


def tampered(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


# -- rules, no I/O ------------------------------------------------------------------------------

def test_free_json_depth_finiteness_and_size_are_bounded() -> None:
    assert rules.json_depth({"a": {"b": [1]}}) == 3 and rules.json_depth("x") == 0
    deep: Any = 1
    for _ in range(5000):  # measured without recursion
        deep = [deep]
    assert rules.json_depth(deep) == 5000
    assert rules.free_json_problem({"a": deep})[0] == "json_too_deep"  # type: ignore[index]
    assert rules.free_json_problem({"a": [float("nan")]})[0] == "number_not_finite"  # type: ignore[index]
    assert rules.free_json_problem({"a": "x" * 20_000})[0] == "json_too_large"  # type: ignore[index]
    assert rules.free_json_problem({"plan": "Vida", "premium_uf": 1.85}) is None


# -- through the API ----------------------------------------------------------------------------

@pytest.mark.integration
async def test_r2_1_nul_and_lone_surrogates_in_a_party_are_422_unsafe_text_and_nothing_is_stored(
        rabbit_system: System) -> None:
    s = rabbit_system
    h = {**await s.auth("ejecutiva"), **JSON}
    before = await count(s, parties)
    events = await count(s, outbox, outbox.c.type == "party.upserted.v1")
    r = await s.intake.post("/parties", content=b'{"kind": "person", "name": "H\\u0000ctor"}', headers=h)
    assert errors_of(r) == [("#/body/name", "unsafe_text")]
    assert r.json()["errors"][0]["message"].startswith("El texto contiene caracteres no permitidos")
    # A lone surrogate, sent as raw JSON text: in a name, and deep in free-form details.
    r = await s.intake.post("/parties", content=b'{"kind": "person", "name": "a\\ud800b"}', headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/body/name"
    r = await s.intake.post("/parties", content=b'{"kind": "person", "name": "X", "details": {"a": ["\\ud800"]}}',
                            headers=h)
    assert errors_of(r) == [("#/body/details", "unsafe_text")]
    r = await s.intake.post("/parties", content=b'{"kind": "person", "name": "X", "details": {"k\\u0000": 1}}',
                            headers=h)
    assert errors_of(r) == [("#/body/details", "unsafe_text")]
    party = (await s.intake.post("/parties", json={"kind": "person", "name": "Ok"}, headers=h)).json()
    r = await s.intake.post(f"/parties/{party['id']}/contacts", content=b'{"name": "L\\u0000", "notes": "\\udfff"}',
                            headers=h)
    # pydantic's own str check names a lone surrogate in a plain text field string_unicode.
    assert sorted(errors_of(r)) == [("#/body/name", "unsafe_text"), ("#/body/notes", "string_unicode")]
    r = await s.intake.patch(f"/parties/{party['id']}", content=b'{"address": "Av.\\u0000 Sur"}', headers=h)
    assert errors_of(r) == [("#/body/address", "unsafe_text")]
    assert await count(s, parties) == before + 1
    assert await count(s, outbox, outbox.c.type == "party.upserted.v1") == events + 1


@pytest.mark.integration
async def test_nul_in_search_parameters_is_422_naming_the_parameter(rabbit_system: System) -> None:
    s = rabbit_system
    h = await s.auth("ejecutiva")
    for param in ("q", "name", "email", "national_id", "phone"):
        r = await s.intake.get("/parties", params={param: "a\x00b123"}, headers=h)
        assert errors_of(r) == [(f"#/query/{param}", "unsafe_text")], param
    for param in ("q", "code"):
        r = await s.intake.get("/assets", params={param: "a\x00"}, headers=h)
        assert errors_of(r) == [(f"#/query/{param}", "unsafe_text")], param


@pytest.mark.integration
async def test_tampered_cursors_are_422_invalid_cursor_on_every_list(rabbit_system: System) -> None:
    s = rabbit_system
    h = await s.auth("ejecutiva")
    party = (await s.intake.post("/parties", json={"kind": "person", "name": "Cursor"}, headers=h)).json()
    await s.intake.post("/parties", json={"kind": "person", "name": "Cursor 2"}, headers=h)
    lists = ("/parties", f"/parties/{party['id']}/contacts", "/assets", f"/parties/{party['id']}/assets")
    for url in lists:
        for bad in (tampered("parties", 1, {"a": 2}), tampered("assets", "a\x00", "b"), tampered("contacts", "x", "y"),
                    tampered("parties", "x"), "not-a-cursor", "%%%", tampered(["deep"] * 3)):
            r = await s.intake.get(url, params={"cursor": bad}, headers=h)
            assert errors_of(r) == [("#/query/cursor", "invalid_cursor")], (url, bad, r.text)
    # A cursor of one list is not a cursor of another.
    page = (await s.intake.get("/parties", params={"limit": 1}, headers=h)).json()
    assert page["next_cursor"]
    r = await s.intake.get("/assets", params={"cursor": page["next_cursor"]}, headers=h)
    assert errors_of(r) == [("#/query/cursor", "invalid_cursor")]


@pytest.mark.integration
async def test_r2_8_deep_or_non_finite_free_form_json_is_422_naming_the_field(rabbit_system: System) -> None:
    s = rabbit_system
    h = {**await s.auth("ejecutiva"), **JSON}
    before = await count(s, parties)
    deep = b'{"a": ' + b"[" * 500 + b"]" * 500 + b"}"
    r = await s.intake.post("/parties", content=b'{"kind": "person", "name": "X", "details": ' + deep + b"}", headers=h)
    assert errors_of(r) == [("#/body/details", "json_too_deep")]
    for number in (b"1e400", b"NaN", b"-Infinity"):
        r = await s.intake.post("/parties", content=b'{"kind": "person", "name": "X", "details": {"n": ' + number + b"}}",
                                headers=h)
        assert errors_of(r) == [("#/body/details", "number_not_finite")], number
    assert await count(s, parties) == before
    party = (await s.intake.post("/parties", json={"kind": "person", "name": "Ok"}, headers=h)).json()
    r = await s.intake.patch(f"/parties/{party['id']}", content=b'{"details": ' + deep + b"}", headers=h)
    assert errors_of(r) == [("#/body/details", "json_too_deep")]
    r = await s.intake.post("/assets", content=b'{"kind": "policy", "code": "P-1", "name": "X", "attributes": '
                            + deep + b"}", headers=h)
    assert errors_of(r) == [("#/body/attributes", "json_too_deep")]
    r = await s.intake.post("/assets", content=b'{"kind": "policy", "code": "P-1", "name": "X\\u0000"}', headers=h)
    assert errors_of(r) == [("#/body/name", "unsafe_text")]
    assert await count(s, assets) == 0


@pytest.mark.integration
async def test_every_patch_refuses_explicit_nulls_field_by_field(rabbit_system: System) -> None:
    s = rabbit_system
    h = await s.auth("ejecutiva")
    party = (await s.intake.post("/parties", json={"kind": "person", "name": "Nulos"}, headers=h)).json()
    contact = (await s.intake.post(f"/parties/{party['id']}/contacts", json={"name": "C"}, headers=h)).json()
    asset = (await s.intake.post("/assets", json={"kind": "policy", "code": "P-N", "name": "X"}, headers=h)).json()
    for url, must_have in ((f"/parties/{party['id']}", ("kind", "internal", "name", "details", "active")),
                           (f"/parties/{party['id']}/contacts/{contact['id']}", ("name", "decision_maker")),
                           (f"/assets/{asset['id']}", ("code", "name", "attributes", "active"))):
        r = await s.intake.patch(url, json=dict.fromkeys(must_have), headers=h)
        assert sorted(errors_of(r)) == sorted((f"#/body/{f}", "null_not_allowed") for f in must_have), url
    # The optional ones clear.
    r = await s.intake.patch(f"/parties/{party['id']}", json={"email": None, "national_id": None}, headers=h)
    assert r.status_code == 200 and r.json()["email"] is None


def _rows(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"external_id": f"S-{i}", "name": f"Suministro {i}", **extra} for i in range(n)]


@pytest.mark.integration
async def test_r2_1_deep_huge_or_overlong_imports_are_refused_whole_and_nothing_is_stored(
        rabbit_system: System) -> None:
    s = rabbit_system
    admin = await s.auth("admin", GAS)
    c = s.intake

    async def post(body: bytes, content_type: str = "application/json") -> Any:
        return await c.post("/supplies/import", content=body, headers={**admin, "Content-Type": content_type})

    # A document nested beyond what Python's parser takes, and a row nested beyond the bound.
    r = await post(b"[" * 100_000 + b"]" * 100_000)
    assert errors_of(r) == [("#/body/0", "json_too_deep")]  # the first row is where it nests too deep
    deep_row = {"external_id": "S-1", "name": "X", "meter": json.loads("[" * 20 + "]" * 20)}
    r = await post(json.dumps({"supplies": [_rows(1)[0], deep_row]}).encode())
    assert errors_of(r) == [("#/body/supplies/1/meter", "json_too_deep")] and r.json()["errors"][0]["row"] == 2
    r = await post(json.dumps([json.loads("[" * 900 + "]" * 900)]).encode())
    assert errors_of(r) == [("#/body/0", "json_too_deep")]
    # Numbers JSON has not (NaN) or jsonb cannot hold (1e400).
    for number in (b"1e400", b"NaN"):
        r = await post(b'[{"external_id": "S-1", "name": "X", "reading": ' + number + b"}]")
        assert errors_of(r) == [("#/body/body", "number_not_finite")], number
    # Too many rows, and too many bytes (413 before the file is parsed).
    r = await post(json.dumps(_rows(rules.MAX_IMPORT_ROWS + 1)).encode())
    assert errors_of(r) == [("#/body/body", "too_many_rows")]
    r = await post(b"[" + b" " * rules.MAX_IMPORT_BYTES + b"]")
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "El archivo supera 8 MiB; divídalo en partes."
    r = await post(b"external_id,name\n" + b"S-1,x\n" * (rules.MAX_IMPORT_BYTES // 6 + 1), "text/csv")
    assert r.status_code == 413
    assert await count(s, assets) == 0


@pytest.mark.integration
async def test_r2_1_unsafe_text_or_wrong_types_in_import_rows_are_reported_per_row(rabbit_system: System) -> None:
    s = rabbit_system
    admin = await s.auth("admin", GAS)
    c = s.intake
    body = (b'[{"external_id": "S-1", "name": "Nul\\u0000"}, {"external_id": "S-2", "name": "ok", "tariff": "\\ud800"},'
            b' {"external_id": "S-3", "name": {"nested": "object"}}, {"external_id": ["S-4"], "name": "x"},'
            b' {"external_id": "S-\\ud800", "name": "x"}, {"external_id": "S-6", "name": "Bien"}]')
    r = await c.post("/supplies/import", content=body, headers={**admin, **JSON})
    assert r.status_code == 200, r.text
    assert (r.json()["created"], [(e["row"], e["field"], e["code"]) for e in r.json()["errors"]]) == (1, [
        (1, "name", "unsafe_text"), (2, "attributes", "unsafe_text"), (3, "name", "string_type"),
        (4, "external_id", "string_type"), (5, "external_id", "string_unicode")])
    assert r.json()["errors"][4]["external_id"] is None  # not echoed back
    csv = b"external_id,name,meter\nS-7,Nul\x00,G4\nS-8,Bien,G\x005\n"
    r = await c.post("/supplies/import", content=csv, headers={**admin, "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert [(e["row"], e["field"], e["code"]) for e in r.json()["errors"]] == [
        (1, "name", "unsafe_text"), (2, "attributes", "unsafe_text")]
    assert await count(s, assets) == 1


@pytest.mark.integration
async def test_r2_7_a_change_decides_visibility_on_the_party_row_as_locked(rabbit_system: System) -> None:
    """R2.7: while an admin's transaction restricts a party, a colleague's change waits for the
    row and then finds it hidden (404) — it is not applied on the strength of an earlier read."""
    s = rabbit_system
    party = (await s.intake.post("/parties", json={"kind": "prospect", "name": "Carrera"},
                                 headers=await s.auth("ejecutiva"))).json()
    pid = uuid.UUID(party["id"])
    colleague = await s.auth("ejecutivo")
    async with s.rt["intake"].db.engine.connect() as conn:
        tx = await conn.begin()
        await conn.execute(update(parties).where(parties.c.id == pid).values(restricted=True))
        change = asyncio.create_task(s.intake.patch(f"/parties/{pid}", json={"name": "Cambiado"},
                                                    headers=colleague))
        contact = asyncio.create_task(s.intake.post(f"/parties/{pid}/contacts", json={"name": "X"},
                                                    headers=colleague))
        await asyncio.sleep(0.5)
        assert not change.done() and not contact.done()  # waiting for the row
        await tx.commit()
    assert (await change).status_code == 404 and (await contact).status_code == 404
    async with s.rt["intake"].db.engine.connect() as conn:
        assert (await conn.execute(select(parties.c.name).where(parties.c.id == pid))).scalar_one() == "Carrera"


def test_openapi_of_parties_and_assets_declares_problems_examples_and_empty_answers() -> None:
    """What frontends read: every route's refusals as problem documents, an example on every
    body, a 204 without content, and the import's bounds."""
    from fastapi import FastAPI

    from services.intake.api import assets as asset_routes
    from services.intake.api import parties as party_routes

    app = FastAPI()
    app.include_router(party_routes.router)
    app.include_router(asset_routes.router)
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            refusals = {k for k in op["responses"] if k.startswith("4")}
            assert {"401", "422"} <= refusals, (method, path)
            for status in refusals:
                assert "application/problem+json" in op["responses"][status]["content"], (method, path, status)
            if "204" in op["responses"]:
                assert "content" not in op["responses"]["204"], (method, path)
            if "requestBody" in op:
                for content in op["requestBody"]["content"].values():
                    name = content["schema"].get("$ref", "").rsplit("/", 1)[-1]
                    assert "example" in content or "example" in schemas.get(name, {}), (method, path)
    assert "413" in spec["paths"]["/supplies/import"]["post"]["responses"]
    assert str(rules.MAX_IMPORT_ROWS) in spec["paths"]["/supplies/import"]["post"]["requestBody"]["description"]
