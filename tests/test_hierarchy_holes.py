"""Holes closed in the hierarchy (issue 9): attachments checked as whole files, file names
without bidirectional controls, NUL/lone surrogates refused as 422 naming the field, every list
paged with ``limit``/``cursor`` (filters before the cut), and R4.4 judged on the case as locked
for the change (R2.4, R0.2)."""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
import zlib
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from services.intake.adapters.db import cases
from services.intake.domain import hierarchy
from services.intake.domain.hierarchy import Refused
from tests.support.system import System, case_body, demo


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# A complete 1×1 grey PNG, a complete PDF, a JPEG and a GIF with their end markers.
PNG = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
       + _chunk(b"IDAT", zlib.compress(b"\x00\x80")) + _chunk(b"IEND", b""))
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 32 + b"\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


def _code(data: bytes, declared: str | None = None, name: str | None = None) -> str:
    with pytest.raises(Refused) as exc:
        hierarchy.check_upload(data, declared, 10_000, name)
    return exc.value.code


# -- pure rules -----------------------------------------------------------------------------------
def test_attachments_are_checked_as_whole_files_not_only_their_first_bytes() -> None:
    for data, ctype, name in ((PNG, "image/png", "foto.png"), (PDF, "application/pdf", "carta.pdf"),
                              (JPEG, "image/jpeg", "foto.jpeg"), (GIF, "image/gif", "anim.gif"),
                              (PDF, "application/pdf", "Carta 2026.11.24"), (PNG, None, None)):
        assert hierarchy.check_upload(data, ctype, 10_000, name) == (ctype or "image/png"), name
    # An image signature followed by markup or script: refused wherever the markup is.
    assert _code(b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script>", "image/png", "x.png") == "active_content"
    assert _code(PNG[:40] + b"<SCRIPT>alert(1)</SCRIPT>" + PNG[40:], "image/png", "x.png") == "active_content"
    assert _code(JPEG[:-2] + b"<iframe src=//evil>" + JPEG[-2:], "image/jpeg", "x.jpg") == "active_content"
    assert _code(GIF + b"<!DOCTYPE html><body onload=x()>", "image/gif", "x.gif") == "active_content"
    assert _code(b"%PDF-1.4\n1 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj\n%%EOF\n") == "active_content"
    assert _code(b"%PDF-1.4\n1 0 obj << /S /Launch /F (cmd.exe) >> endobj\n%%EOF\n") == "active_content"
    # Data after the format's end (a file hidden behind an image or a PDF).
    assert _code(PNG + b"PK\x03\x04hidden.zip", "image/png", "x.png") == "trailing_data"
    assert _code(PDF + b"MZ\x90\x00 more", "application/pdf", "x.pdf") == "trailing_data"
    # The name's extension must agree with what the bytes are.
    assert _code(PNG, "image/png", "factura.pdf") == "extension_mismatch"
    assert _code(PDF, None, "carta.html") == "extension_mismatch"
    assert _code(PDF, None, "carta.pdf.exe") == "extension_mismatch"
    assert _code(PNG, None, "foto.svg") == "extension_mismatch"
    # Not an accepted type at all.
    assert _code(b"<html><body><script>alert(1)</script></body></html>", "application/pdf") == "unsupported_file_type"
    assert _code(b"PK\x03\x04 an office file or a zip") == "unsupported_file_type"


def test_file_names_lose_bidirectional_controls() -> None:
    # "carta\u202Efdp.exe" shows as "cartaexe.pdf" in a right-to-left override.
    assert hierarchy.safe_filename("carta\u202efdp.pdf", "application/pdf") == "cartafdp.pdf"
    assert hierarchy.safe_filename("\u2066foto\u2069\u200f.png", "image/png") == "foto.png"
    assert hierarchy.safe_filename("a\u061cb\u200e.jpg", "image/jpeg") == "ab.jpg"


# -- through the API ------------------------------------------------------------------------------
def _file(data: bytes, name: str, ctype: str) -> dict[str, Any]:
    return {"file": (name, data, ctype)}


@pytest.mark.integration
async def test_uploads_with_markup_after_an_image_header_or_a_lying_name_are_refused(rabbit_system: System) -> None:
    c = rabbit_system.intake
    cid = (await rabbit_system.create_case(case_body(21)))["id"]
    admin = await rabbit_system.auth("admin")
    polyglot = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17 + b"<html><script>alert(1)</script>"
    r = await c.post(f"/cases/{cid}/attachments", files=_file(polyglot, "foto.png", "image/png"), headers=admin)
    assert r.status_code == 422, r.text
    err = r.json()["errors"][0]
    assert err["field"] == "file" and err["code"] == "active_content" and "HTML" in err["message"]
    r = await c.post(f"/cases/{cid}/attachments", files=_file(PDF, "carta.html", "application/pdf"),
                     headers={**admin, "Accept-Language": "en"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "extension_mismatch"
    assert ".html" in r.json()["errors"][0]["message"]
    r = await c.post(f"/cases/{cid}/attachments", files=_file(PNG + b"<?php system($_GET[1]); ?>", "a.png",
                                                              "image/png"), headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "active_content"
    # A name with bidirectional controls is stored, listed and downloaded without them.
    r = await c.post(f"/cases/{cid}/attachments", files=_file(PDF, "contrato\u202efdp.pdf", "application/pdf"),
                     headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "contratofdp.pdf"
    d = await c.get(r.json()["download_url"], headers=admin)
    assert d.status_code == 200 and "\u202e" not in d.headers["content-disposition"]
    assert "%E2%80%AE" not in d.headers["content-disposition"]
    listed = (await c.get(f"/cases/{cid}/attachments", headers=admin)).json()["items"]
    assert [a["filename"] for a in listed] == ["contratofdp.pdf"]  # nothing refused was stored


@pytest.mark.integration
async def test_nul_and_lone_surrogates_in_hierarchy_bodies_are_422_naming_the_field(rabbit_system: System) -> None:
    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    party = (await c.post("/parties", json={"kind": "stakeholder", "name": "Junta"}, headers=admin)).json()["id"]
    inter = (await c.post("/interactions", headers=admin, json={
        "party_id": party, "channel": "telefono", "summary": "Llamada."})).json()
    case = await rabbit_system.create_case(case_body(22))
    users = {u["email"]: u["id"] for u in (await c.get("/users", headers=admin)).json()["items"]}
    due = (date.today() + timedelta(days=2)).isoformat()
    task = (await c.post(f"/cases/{case['id']}/tasks", headers=admin, json={
        "title": "Revisar", "responsible_id": users[demo("ejecutiva")], "due_date": due})).json()
    wo = (await c.post(f"/tasks/{task['id']}/work-order", json={"description": "Poda."}, headers=admin)).json()
    bad: list[tuple[str, dict[str, Any], str, set[str]]] = []
    # pydantic itself refuses a lone surrogate in JSON text (string_unicode); NUL is InputModel's.
    for text, codes in (("con\x00nulo", {"unsafe_text"}), ("sustituto \ud800 suelto", {"string_unicode", "unsafe_text"})):
        bad += [(*b, codes) for b in (
            ("/interactions", {"party_id": party, "channel": "telefono", "summary": text}, "summary"),
            (f"/interactions/{inter['id']}/close", {"note": text}, "note"),
            (f"/cases/{case['id']}/tasks", {"title": text, "responsible_id": users[demo("ejecutiva")],
                                            "due_date": due}, "title"),
            (f"/tasks/{task['id']}/close", {"note": text}, "note"),
            (f"/tasks/{task['id']}/work-order", {"description": text}, "description"),
            (f"/work-orders/{wo['id']}/reject", {"comment": text}, "comment"),
            (f"/work-orders/{wo['id']}/execute", {"note": text}, "note"),
            (f"/cases/{case['id']}/activities", {"kind": "note", "reason": text}, "reason"),
            (f"/cases/{case['id']}/activities", {"kind": "note", "reason": "x", "description": text}, "description"),
        )]
    for path, body, field, codes in bad:
        # ASCII JSON: a lone surrogate travels as its escape ("\\ud800"), as a browser would send it.
        r = await c.post(path, content=json.dumps(body).encode(),
                         headers={**admin, "Content-Type": "application/json"})
        assert r.status_code == 422, (path, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field] and r.json()["errors"][0]["code"] in codes, path
    # Nothing of it was stored.
    assert (await c.get(f"/tasks/{task['id']}", headers=admin)).json()["status"] == "open"
    assert (await c.get(f"/work-orders/{wo['id']}", headers=admin)).json()["status"] == "pending_approval"
    assert (await c.get(f"/cases/{case['id']}/activities", headers=admin)).json()["items"] == []


@pytest.mark.integration
async def test_every_hierarchy_list_pages_with_limit_and_cursor_and_filters_before_the_cut(
        rabbit_system: System) -> None:
    """R2.4 task inbox, R2.5 work orders, R0.2 activities, R2.3 an interaction's cases, and
    attachments: ``{items, next_cursor}``; a cursor of another list, or a tampered one, is 422."""
    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    users = {u["email"]: u["id"] for u in (await c.get("/users", headers=admin)).json()["items"]}
    party = (await c.post("/parties", json={"kind": "stakeholder", "name": "Junta"}, headers=admin)).json()["id"]
    inter = (await c.post("/interactions", headers=admin, json={
        "party_id": party, "channel": "telefono", "summary": "Llamada."})).json()
    one = await rabbit_system.create_case(case_body(23, interaction_id=inter["id"]))
    two = await rabbit_system.create_case(case_body(24, interaction_id=inter["id"]))

    async def pages(path: str, **params: Any) -> list[list[str]]:
        out, cursor = [], None
        while True:
            q = {**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
            r = await c.get(path, params=q, headers=admin)
            assert r.status_code == 200, r.text
            out.append([i["id"] for i in r.json()["items"]])
            cursor = r.json()["next_cursor"]
            if cursor is None:
                return out

    assert await pages(f"/interactions/{inter['id']}/cases") == [[one["id"]], [two["id"]]]
    cid = one["id"]
    made = []
    for days in (1, 2, 3):
        r = await c.post(f"/cases/{cid}/tasks", headers=admin, json={
            "title": f"Tarea {days}", "responsible_id": users[demo("ejecutivo")],
            "due_date": (date.today() + timedelta(days=days)).isoformat()})
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    assert await pages(f"/cases/{cid}/tasks") == [[t] for t in made]
    # The filter applies before the page is cut: the only closed task is due last.
    assert (await c.post(f"/tasks/{made[2]}/close", json={"note": "Hecho."}, headers=admin)).status_code == 200
    r = await c.get("/tasks", params={"mine": "false", "status": "closed", "limit": 1}, headers=admin)
    assert [t["id"] for t in r.json()["items"]] == [made[2]] and r.json()["next_cursor"] is None
    assert await pages("/tasks", mine="false") == [[made[0]], [made[1]]]
    wos = [(await c.post(f"/tasks/{t}/work-order", json={"description": "Orden."}, headers=admin)).json()["id"]
           for t in made[:2]]
    assert await pages("/work-orders") == [[w] for w in wos]
    acts = [(await c.post(f"/cases/{cid}/activities", json={"kind": "note", "reason": f"Nota {i}"},
                          headers=admin)).json()["id"] for i in range(2)]
    assert await pages(f"/cases/{cid}/activities") == [[a] for a in acts]
    files = [(await c.post(f"/cases/{cid}/attachments", files=_file(PDF, f"c{i}.pdf", "application/pdf"),
                           headers=admin)).json()["id"] for i in range(2)]
    assert await pages(f"/cases/{cid}/attachments") == [[f] for f in files]
    # A cursor is only good for the list it came from.
    cursor = (await c.get(f"/cases/{cid}/tasks", params={"limit": 1}, headers=admin)).json()["next_cursor"]
    for path in (f"/cases/{cid}/activities", "/tasks", "/work-orders", "/interactions",
                 f"/cases/{cid}/attachments"):
        for bad in (cursor, "no-es-un-cursor", "\x00"):
            r = await c.get(path, params={"cursor": bad}, headers=admin)
            assert r.status_code == 422, (path, bad, r.text)
            assert r.json()["errors"][0]["field"] == "cursor", path


async def _reassign_while_locked(system: System, case_id: str, to: str, *requests: Any) -> list[Any]:
    """Hold the case row locked, start ``requests``, reassign the case to ``to`` and commit."""
    engine = system.rt["intake"].db.engine
    users = {u["email"]: u["id"] for u in (await system.intake.get(
        "/users", headers=await system.auth("admin"))).json()["items"]}
    async with engine.begin() as conn:
        await conn.execute(select(cases.c.id).where(cases.c.id == uuid.UUID(case_id)).with_for_update())
        running = [asyncio.ensure_future(r) for r in requests]
        await asyncio.sleep(1.0)
        assert not any(t.done() for t in running), [t.result().text for t in running if t.done()]
        await conn.execute(update(cases).where(cases.c.id == uuid.UUID(case_id)).values(
            responsible_id=uuid.UUID(users[demo(to)]), responsible_email=demo(to)))
    return list(await asyncio.gather(*running))


@pytest.mark.integration
async def test_r4_4_task_and_activity_rights_are_judged_on_the_case_as_locked(rabbit_system: System) -> None:
    """R2.4 / R0.2 with R4.4: an executor adds tasks and activities only on their own case. If
    the case is reassigned while their request waits for its lock, the request is refused (403)
    — the check is on the row as locked, not on an earlier read — and nothing is stored."""
    c = rabbit_system.intake
    case = await rabbit_system.create_case(case_body(25))  # responsible: ejecutiva
    cid = case["id"]
    mine = await rabbit_system.auth("ejecutiva")
    users = {u["email"]: u["id"] for u in (await c.get("/users", headers=await rabbit_system.auth("admin"))).json()["items"]}
    task = {"title": "Revisar", "responsible_id": users[demo("ejecutiva")],
            "due_date": (date.today() + timedelta(days=2)).isoformat()}
    task_r, activity_r = await _reassign_while_locked(
        rabbit_system, cid, "ejecutivo",
        c.post(f"/cases/{cid}/tasks", json=task, headers=mine),
        c.post(f"/cases/{cid}/activities", json={"kind": "note", "reason": "Llamé"}, headers=mine))
    assert task_r.status_code == 403, task_r.text
    assert activity_r.status_code == 403, activity_r.text
    admin = await rabbit_system.auth("admin")
    assert (await c.get(f"/cases/{cid}/tasks", headers=admin)).json()["items"] == []
    assert (await c.get(f"/cases/{cid}/activities", headers=admin)).json()["items"] == []
    # The new responsible may.
    r = await c.post(f"/cases/{cid}/tasks", json=task, headers=await rabbit_system.auth("ejecutivo"))
    assert r.status_code == 201, r.text
