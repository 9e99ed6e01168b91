"""R4.6 "send mail" with the case's details and chosen attachments (issue 11 item 5): the files
travel in the event (notifier never reads intake's files) and arrive as MIME attachments, byte for
byte, at a real SMTP server on loopback; a file of another case, or too much, is 422."""

from __future__ import annotations

import pytest

from tests.support.smtp_sink import SmtpSink
from tests.support.system import System, case_body, wait_for

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


async def _attach(s: System, case_id: str, name: str) -> str:
    r = await s.intake.post(f"/cases/{case_id}/attachments", files={"file": (name, PDF, "application/pdf")},
                            headers=await s.auth("ejecutiva"))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _scenario(s: System, sink: SmtpSink) -> None:
    case = await s.create_case(case_body(1))
    other = await s.create_case(case_body(2))
    mine = await s.auth("ejecutiva")
    file_id = await _attach(s, case["id"], "Presupuesto reparación.pdf")
    foreign = await _attach(s, other["id"], "otro.pdf")
    url = f"/cases/{case['id']}/mails"
    r = await s.intake.post(url, json={"subject": "Presupuesto", "body": "Adjuntamos el presupuesto.",
                                       "include_details": True, "attachment_ids": [foreign]}, headers=mine)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "attachment_ids", r.text
    r = await s.intake.post(url, json={"subject": "Presupuesto", "body": "Adjuntamos el presupuesto.",
                                       "include_details": True, "attachment_ids": [file_id]}, headers=mine)
    assert r.status_code == 202, r.text

    def mails() -> list:  # type: ignore[type-arg]
        return [m for m in list(sink.messages) if m.message["X-Atiende-Template"] == "case_mail"
                and m.message["X-Atiende-Case"] == case["id"]]

    await wait_for(lambda: len(mails()) == 1, 30, "the mail with its attachment")
    msg = mails()[0].message
    assert msg.get_content_type() == "multipart/mixed"
    files = [p for p in msg.walk() if p.get_content_disposition() == "attachment"]
    assert [(p.get_filename(), p.get_content_type(), p.get_payload(decode=True)) for p in files] == [
        ("Presupuesto reparación.pdf", "application/pdf", PDF)]
    text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "Adjuntamos el presupuesto." in text
    assert msg["References"] == f"<case-{case['id']}@atiende>"  # threaded with the case's other mails


@pytest.mark.integration
async def test_r4_6_send_mail_with_chosen_attachments_embedded(embedded_system: System, smtp_sink: SmtpSink) -> None:
    await _scenario(embedded_system, smtp_sink)


@pytest.mark.integration
async def test_r4_6_send_mail_with_chosen_attachments_on_rabbitmq(rabbit_system: System, smtp_sink: SmtpSink) -> None:
    await _scenario(rabbit_system, smtp_sink)
