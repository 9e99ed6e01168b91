"""Abuse bounded at the door of every service (issue 9, point 4; shared/http.py): a request body
over ``ATIENDE_MAX_BODY_BYTES`` (1 MiB; uploads ``ATIENDE_MAX_UPLOAD_BYTES``) is refused 413
before anything parses it — by its Content-Length without reading a byte, or counted as it
streams and stopped at the limit — and JSON nested deeper than ``ATIENDE_MAX_JSON_DEPTH`` (32)
is a 422 problem (``json_too_deep``), never a parser's recursion error. Texts es-CL by default,
English with Accept-Language: en."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from sqlalchemy import func, select

from services.intake.adapters.case_tables import attachments
from services.intake.adapters.db import cases
from shared.http import json_too_deep
from tests.support.system import System, case_body

MIB = 1024 * 1024


class Feed:
    """A request body sent in chunks, counting how many the server pulled."""

    def __init__(self, total: int, chunk: int = MIB, head: bytes = b"", tail: bytes = b"") -> None:
        self.total, self.chunk, self.head, self.tail = total, chunk, head, tail
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.pulled += 1
        yield self.head
        for _ in range(self.total // self.chunk):
            self.pulled += 1
            yield b"0" * self.chunk
        yield self.tail


async def count(system: System, table: object) -> int:
    async with system.rt["intake"].db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    assert not json_too_deep(b'{"a": ' + b"[" * 31 + b"]" * 31 + b"}", 32)
    assert json_too_deep(b'{"a": ' + b"[" * 32 + b"]" * 32 + b"}", 32)
    assert not json_too_deep(json.dumps({"text": "[{" * 500, "q": 'a \\" [[[ "'}).encode(), 32)
    assert not json_too_deep(json.dumps([{"a": [1, 2]} for _ in range(1000)]).encode(), 32)  # wide, not deep
    assert json_too_deep(b"[" * 100_000, 32)


async def test_a_60_mb_body_with_content_length_is_refused_413_unread_and_nothing_stored(
        rabbit_system: System) -> None:
    admin = await rabbit_system.auth("admin")
    before = await count(rabbit_system, cases)
    body = json.dumps(case_body(1)).encode()
    feed = Feed(60 * MIB, head=body[:-1] + b', "description": "', tail=b'"}')
    size = len(feed.head) + 60 * MIB + len(feed.tail)
    t0 = time.monotonic()
    r = await rabbit_system.intake.post("/cases", content=feed, headers={
        **admin, "Content-Type": "application/json", "Content-Length": str(size)})
    assert r.status_code == 413 and time.monotonic() - t0 < 2.0
    assert feed.pulled == 0  # refused on its Content-Length: not one chunk read
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["type"].endswith("/body-too-large") and problem["max_bytes"] == MIB
    assert problem["title"] == "El contenido es demasiado grande" and "supera el máximo" in problem["detail"]
    assert await count(rabbit_system, cases) == before


async def test_a_chunked_oversize_body_is_stopped_at_the_limit(rabbit_system: System) -> None:
    admin = await rabbit_system.auth("admin")
    before = await count(rabbit_system, cases)
    feed = Feed(60 * MIB, chunk=256 * 1024, head=b'{"type": "consulta-general", "description": "', tail=b'"}')
    r = await rabbit_system.intake.post("/cases", content=feed, headers={
        **admin, "Content-Type": "application/json", "Accept-Language": "en"})
    assert r.status_code == 413 and r.json()["type"].endswith("/body-too-large")
    assert r.json()["title"] == "Content too large" and "over the limit" in r.json()["detail"]
    assert feed.pulled <= 6  # 1 MiB in 256 KiB chunks: stopped there, never 60 MB
    assert await count(rabbit_system, cases) == before


async def test_a_chunked_oversize_upload_is_stopped_at_the_upload_limit(rabbit_system: System) -> None:
    cid = (await rabbit_system.create_case(case_body(2)))["id"]
    admin = await rabbit_system.auth("admin")
    limit = rabbit_system.settings.upload_body_limit
    boundary = "limite-de-prueba"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="grande.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n%PDF-1.7\n").encode()
    feed = Feed(40 * MIB, head=head, tail=f"\r\n--{boundary}--\r\n".encode())
    r = await rabbit_system.intake.post(f"/cases/{cid}/attachments", content=feed, headers={
        **admin, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and r.json()["type"].endswith("/body-too-large"), r.text
    assert r.json()["max_bytes"] == limit
    assert feed.pulled <= limit // MIB + 2
    assert await count(rabbit_system, attachments) == 0


async def test_deeply_nested_json_is_a_422_problem_not_a_500(rabbit_system: System) -> None:
    admin = await rabbit_system.auth("admin")
    before = await count(rabbit_system, cases)
    deep = b'{"type": "consulta-general", "subject": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = await rabbit_system.intake.post("/cases", content=deep, headers={**admin, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    err = r.json()["errors"][0]
    # the top-level field under which it nests too deep: the field a form can highlight
    assert err["code"] == "json_too_deep" and err["field"] == "subject" and err["pointer"] == "#/body/subject"
    assert err["message"] == "El JSON está anidado a más de 32 niveles."
    r = await rabbit_system.intake.post("/cases", content=deep, headers={
        **admin, "Content-Type": "application/json", "Accept-Language": "en"})
    assert r.status_code == 422 and r.json()["errors"][0]["message"] == "The JSON is nested more than 32 levels deep."
    # Any service, even on a route that takes no body, and without a Content-Type (read as JSON).
    r = await rabbit_system.clients["reporting"].post("/reports/case-counts", content=b"[" * 100_000)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "json_too_deep"
    assert await count(rabbit_system, cases) == before


async def test_normal_bodies_pass_untouched(rabbit_system: System) -> None:
    """A case whose texts are full of brackets, a form login and an upload within the limits."""
    text = " ".join(["Revisar [[{ items }]]"] * 20)
    created = await rabbit_system.create_case(case_body(3, description=text))
    admin = await rabbit_system.auth("admin")
    r = await rabbit_system.intake.get(f"/cases/{created['id']}", headers=admin)
    assert r.status_code == 200 and r.json()["description"] == text
    pdf = b"%PDF-1.4\n" + b"0" * (2 * MIB)
    r = await rabbit_system.intake.post(f"/cases/{created['id']}/attachments", headers=admin,
                                        files={"file": ("carta.pdf", pdf, "application/pdf")})
    assert r.status_code == 201 and r.json()["size"] == len(pdf)
