"""Attachments on interactions (R2.2), cases (R0.1, R2.3) and tasks: PDF and images only, the
type judged from the bytes, a size limit, SHA-256 kept, and downloads only for those who may
see the case or the interaction (another tenant: 404)."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

import pytest

from services.intake.domain import hierarchy
from services.intake.domain.hierarchy import Refused
from tests.support.system import System, case_body, demo

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40
GIF = b"GIF89a" + b"\x01\x00" * 10
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 30

# -- pure rules -----------------------------------------------------------------------------------


def test_content_type_comes_from_the_bytes() -> None:
    assert [hierarchy.sniff_content_type(b) for b in (PDF, PNG, JPEG, GIF, WEBP)] == [
        "application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"]
    for bad in (b"", b"MZ\x90\x00 an exe", b"<html><script>", b"PK\x03\x04 a zip", b"RIFF\x00\x00\x00\x00WAVE"):
        assert hierarchy.sniff_content_type(bad) is None


def test_uploads_are_refused_when_empty_too_big_not_pdf_or_image_or_mislabelled() -> None:
    assert hierarchy.check_upload(PDF, "application/pdf", 1000) == "application/pdf"
    assert hierarchy.check_upload(JPEG, "image/jpg", 1000) == "image/jpeg"
    assert hierarchy.check_upload(PNG, "application/octet-stream", 1000) == "image/png"
    assert hierarchy.check_upload(PNG, None, 1000) == "image/png"
    cases = [(b"", "application/pdf", "empty_file"), (PDF, "application/pdf", "file_too_large"),
             (b"#!/bin/sh\nrm -rf /", "application/pdf", "unsupported_file_type"),
             (PNG, "application/pdf", "content_type_mismatch")]
    for data, declared, code in cases:
        with pytest.raises(Refused) as exc:
            hierarchy.check_upload(data, declared, 40 if code == "file_too_large" else 1000)
        assert exc.value.code == code


def test_file_names_lose_paths_and_end_in_the_real_type() -> None:
    assert hierarchy.safe_filename("carta.pdf", "application/pdf") == "carta.pdf"
    assert hierarchy.safe_filename("C:\\Users\\ana\\Carta Firmada.PDF", "application/pdf") == "Carta Firmada.PDF"
    assert hierarchy.safe_filename("../../etc/passwd", "application/pdf") == "passwd.pdf"
    assert hierarchy.safe_filename("foto.jpeg", "image/jpeg") == "foto.jpeg"
    assert hierarchy.safe_filename("factura.pdf", "image/png") == "factura.pdf.png"
    assert hierarchy.safe_filename(None, "image/gif") == "archivo.gif"
    assert hierarchy.safe_filename('a"\r\nb.pdf', "application/pdf") == "a_b.pdf"
    assert len(hierarchy.safe_filename("x" * 500 + ".pdf", "application/pdf")) == 200


# -- through the API ------------------------------------------------------------------------------
def _file(data: bytes, name: str = "carta.pdf", ctype: str = "application/pdf") -> dict[str, Any]:
    return {"file": (name, data, ctype)}


@pytest.mark.integration
async def test_pdf_on_a_case_is_stored_with_its_hash_and_downloaded_by_who_may_see_it(rabbit_system: System) -> None:
    c = rabbit_system.intake
    case = await rabbit_system.create_case(case_body(1))  # responsible: ejecutiva
    cid = case["id"]
    mine = await rabbit_system.auth("ejecutiva")
    r = await c.post(f"/cases/{cid}/attachments", files=_file(PDF, "Carta desistimiento.pdf"), headers=mine)
    assert r.status_code == 201, r.text
    att = r.json()
    assert att["content_type"] == "application/pdf" and att["size"] == len(PDF)
    assert att["sha256"] == hashlib.sha256(PDF).hexdigest() and att["filename"] == "Carta desistimiento.pdf"
    assert r.headers["Location"] == att["download_url"] == f"/attachments/{att['id']}"
    # Anyone of the tenant who may read the case downloads it (a viewer too), byte for byte.
    for who in ("ejecutiva", "ejecutivo", "lectura", "admin"):
        d = await c.get(att["download_url"], headers=await rabbit_system.auth(who))
        assert d.status_code == 200 and d.content == PDF, who
    assert d.headers["content-type"] == "application/pdf" and d.headers["x-content-type-options"] == "nosniff"
    assert d.headers["content-disposition"].startswith('attachment; filename="Carta desistimiento.pdf"')
    listed = (await c.get(f"/cases/{cid}/attachments", headers=mine)).json()["items"]
    assert [a["id"] for a in listed] == [att["id"]]
    hist = [h for h in (await c.get(f"/cases/{cid}/history", headers=mine)).json()["items"] if h["kind"] == "attachment_added"]
    assert hist[0]["data"]["sha256"] == att["sha256"]
    # Another tenant: 404 for the file, the list and the upload; no token: 401.
    gas = await rabbit_system.auth("admin", "gas-demo")
    assert (await c.get(att["download_url"], headers=gas)).status_code == 404
    assert (await c.get(f"/cases/{cid}/attachments", headers=gas)).status_code == 404
    assert (await c.post(f"/cases/{cid}/attachments", files=_file(PDF), headers=gas)).status_code == 404
    assert (await c.get(att["download_url"])).status_code == 401
    assert (await c.post(f"/cases/{cid}/attachments", files=_file(PDF))).status_code == 401
    # A viewer reads but does not attach.
    r = await c.post(f"/cases/{cid}/attachments", files=_file(PDF), headers=await rabbit_system.auth("lectura"))
    assert r.status_code == 403


@pytest.mark.integration
async def test_bad_types_mislabelled_files_and_oversize_uploads_are_refused(rabbit_system: System) -> None:
    c = rabbit_system.intake
    cid = (await rabbit_system.create_case(case_body(2)))["id"]
    admin = await rabbit_system.auth("admin")
    r = await c.post(f"/cases/{cid}/attachments", files=_file(b"MZ\x90\x00 not a pdf", "virus.pdf"), headers=admin)
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert err["field"] == "file" and err["code"] == "unsupported_file_type" and "PDF" in err["message"]
    r = await c.post(f"/cases/{cid}/attachments", files=_file(PNG, "foto.pdf", "application/pdf"), headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "content_type_mismatch"
    r = await c.post(f"/cases/{cid}/attachments", files=_file(b"", "vacio.pdf"), headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "empty_file"
    limit = rabbit_system.settings.attachment_max_bytes
    big = b"%PDF-1.7\n" + b"0" * (limit - 8)  # one byte over the limit
    r = await c.post(f"/cases/{cid}/attachments", files=_file(big), headers=admin)
    assert r.status_code == 413 and r.json()["max_bytes"] == limit
    r = await c.post(f"/cases/{cid}/attachments", files=_file(big[: limit]), headers=admin)
    assert r.status_code == 201 and r.json()["size"] == limit  # exactly the limit is fine
    r = await c.post(f"/cases/{cid}/attachments", json={"file": "JVBERi0="}, headers=admin)
    assert r.status_code == 415
    r = await c.post(f"/cases/{cid}/attachments", files={"other": ("a.pdf", PDF, "application/pdf")}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    assert len((await c.get(f"/cases/{cid}/attachments", headers=admin)).json()["items"]) == 1


@pytest.mark.integration
async def test_images_on_interactions_and_tasks_follow_their_visibility(rabbit_system: System) -> None:
    c = rabbit_system.intake
    admin = await rabbit_system.auth("admin")
    party = (await c.post("/parties", json={"kind": "stakeholder", "name": "Junta de vecinos"}, headers=admin)).json()
    inter = (await c.post("/interactions", headers=await rabbit_system.auth("ejecutivo"), json={
        "party_id": party["id"], "channel": "carta", "summary": "Carta de reclamo por ruidos."})).json()
    r = await c.post(f"/interactions/{inter['id']}/attachments", files=_file(PNG, "carta.png", "image/png"),
                     headers=await rabbit_system.auth("ejecutivo"))
    assert r.status_code == 201 and r.json()["owner_kind"] == "interaction" and r.json()["case_id"] is None
    png = r.json()
    assert [a["id"] for a in (await c.get(f"/interactions/{inter['id']}/attachments",
                                         headers=admin)).json()["items"]] == [
        png["id"]]
    d = await c.get(png["download_url"], headers=await rabbit_system.auth("lectura"))
    assert d.status_code == 200 and d.content == PNG and d.headers["content-type"] == "image/png"
    r = await c.post(f"/interactions/{inter['id']}/attachments", files=_file(PNG, "x.png", "image/png"),
                     headers=await rabbit_system.auth("lectura"))
    assert r.status_code == 403
    # A task's attachment: case_id set, so the case's visibility governs it.
    case = await rabbit_system.create_case(case_body(3))
    users = {u["email"]: u["id"] for u in (await c.get("/users", headers=admin)).json()["items"]}
    task = (await c.post(f"/cases/{case['id']}/tasks", headers=admin, json={
        "title": "Foto del daño", "responsible_id": users[demo("ejecutiva")],
        "due_date": (date.today() + timedelta(days=2)).isoformat()})).json()
    r = await c.post(f"/tasks/{task['id']}/attachments", files=_file(JPEG, "dano.jpg", "image/jpeg"),
                     headers=await rabbit_system.auth("ejecutiva"))
    assert r.status_code == 201 and r.json()["case_id"] == case["id"] and r.json()["owner_kind"] == "task"
    jpg = r.json()
    assert [a["id"] for a in (await c.get(f"/tasks/{task['id']}/attachments",
                                         headers=admin)).json()["items"]] == [jpg["id"]]
    assert (await c.get(f"/cases/{case['id']}/attachments", headers=admin)).json()["items"] == []  # the task's are its own
    assert "attachment_added" in [h["kind"] for h in (await c.get(f"/cases/{case['id']}/history",
                                                                  headers=admin)).json()["items"]]
    gas = await rabbit_system.auth("admin", "gas-demo")
    for url in (png["download_url"], jpg["download_url"], f"/interactions/{inter['id']}/attachments",
                f"/tasks/{task['id']}/attachments"):
        assert (await c.get(url, headers=gas)).status_code == 404, url
    # R2.7: a restricted party's interaction files are hidden (404) from users it is not shared with.
    secret = (await c.post("/parties", json={"kind": "stakeholder", "name": "Reservado", "restricted": True},
                           headers=admin)).json()
    hidden = (await c.post("/interactions", headers=admin, json={
        "party_id": secret["id"], "channel": "correo", "summary": "Reservado."})).json()
    pdf = (await c.post(f"/interactions/{hidden['id']}/attachments", files=_file(PDF), headers=admin)).json()
    assert (await c.get(pdf["download_url"], headers=admin)).status_code == 200
    assert (await c.get(pdf["download_url"], headers=await rabbit_system.auth("ejecutivo"))).status_code == 404
