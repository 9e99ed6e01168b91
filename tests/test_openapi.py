"""The OpenAPI documents frontends read (issue 9, point 3): every 4xx is an RFC 9457 problem
document, what a route can answer is documented (401 when secured, 422 with input, 413 with a
body), an empty response is documented as empty, and each service serves its own /docs and
/redoc with their assets (no CDN: installations without internet access still show them).

The apps are built as `atiende run` builds them (embedded settings in a temporary folder); no
request here needs the database, so none is started."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.problems import PROBLEM_JSON
from shared.runtime import ServiceRuntime
from tests.conftest import make_settings
from tests.support.system import BUILDERS

SERVICES = list(BUILDERS)
METHODS = ("get", "put", "post", "delete", "patch")
PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}


@pytest.fixture(scope="module")
def runtimes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ServiceRuntime]:
    settings = make_settings(data_dir=tmp_path_factory.mktemp("var"))
    return {name: build(settings) for name, build in BUILDERS.items()}


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


@pytest.mark.parametrize("service", SERVICES)
def test_every_4xx_response_is_a_problem_document(runtimes: dict[str, ServiceRuntime], service: str) -> None:
    schema = runtimes[service].app.openapi()
    assert "ProblemDetails" in schema["components"]["schemas"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    bad = [(m, p, status, r.get("content")) for p, m, op in operations(schema)
           for status, r in op["responses"].items() if status.startswith("4") and r.get("content") != PROBLEM]
    assert bad == []


@pytest.mark.parametrize("service", SERVICES)
def test_what_an_operation_can_answer_is_documented(runtimes: dict[str, ServiceRuntime], service: str) -> None:
    """401 where secured, 422 where there is input, 413 where a body is taken."""
    schema = runtimes[service].app.openapi()
    missing = []
    for path, method, op in operations(schema):
        secured = op.get("security") or any(p["in"] == "header" and p["name"].lower() in ("authorization", "x-api-key")
                                            for p in op.get("parameters", []))
        expected = ({"401"} if secured else set()) \
            | ({"422"} if op.get("parameters") or op.get("requestBody") else set()) \
            | ({"413"} if op.get("requestBody") else set())
        missing += [(method, path, s) for s in sorted(expected - set(op["responses"]))]
    assert missing == []


@pytest.mark.parametrize("service", SERVICES)
def test_no_success_response_documents_an_empty_json_schema(runtimes: dict[str, ServiceRuntime],
                                                             service: str) -> None:
    """A route without a body documents none (not `application/json` with schema `{}`)."""
    schema = runtimes[service].app.openapi()
    vague = [(m, p, s) for p, m, op in operations(schema) for s, r in op["responses"].items()
             if s.startswith("2") and r.get("content", {}).get("application/json", {}).get("schema") == {}]
    assert vague == []


def test_routes_without_a_body_are_documented_empty(runtimes: dict[str, ServiceRuntime]) -> None:
    paths = runtimes["intake"].app.openapi()["paths"]
    assert "content" not in paths["/cases/{case_id}/comments"]["post"]["responses"]["201"]
    assert "content" not in paths["/cases/{case_id}/mails"]["post"]["responses"]["202"]
    assert "content" not in paths["/assets/{asset_id}"]["delete"]["responses"]["204"]


def test_intake_has_an_oauth2_password_security_scheme(runtimes: dict[str, ServiceRuntime]) -> None:
    """/docs gets an Authorize button that logs in with POST /auth/token.

    Expected to FAIL before issue 9's branches are merged (helper "accounts" adds the scheme)."""
    schema = runtimes["intake"].app.openapi()
    schemes = schema.get("components", {}).get("securitySchemes", {})
    flows = [s["flows"]["password"] for s in schemes.values() if s.get("type") == "oauth2" and "password" in s["flows"]]
    assert flows and flows[0]["tokenUrl"].endswith("auth/token")
    secured = [p for p, _, op in operations(schema) if op.get("security")]
    assert "/cases" in secured


def _has_example(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if "example" in schema or "examples" in schema:
        return True
    props = schema.get("properties", {})
    with_examples = {k for k, v in props.items() if "example" in v or "examples" in v}
    return bool(with_examples) and set(schema.get("required", [])) <= with_examples


def test_every_json_request_body_of_intake_has_an_example(runtimes: dict[str, ServiceRuntime]) -> None:
    """Request examples for every action body (execute, comment, finish…).

    Expected to FAIL before issue 9's branches are merged (the other helpers add the examples)."""
    schema = runtimes["intake"].app.openapi()
    components = schema["components"]["schemas"]
    missing = []
    for path, method, op in operations(schema):
        media = op.get("requestBody", {}).get("content", {}).get("application/json")
        if media is not None and not ("example" in media or "examples" in media
                                      or _has_example(media["schema"], components)):
            missing.append(f"{method.upper()} {path}")
    assert missing == []


URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*['"]([^'"]+)['"]|spec-url=["']([^"']+)["']""")


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_and_their_assets_come_from_the_service(runtimes: dict[str, ServiceRuntime], service: str,
                                                                 page: str) -> None:
    app = runtimes[service].app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{service}") as c:
        r = await c.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "http://" not in r.text and "https://" not in r.text and "//cdn" not in r.text
        refs = {next(g for g in m.groups() if g) for m in URL.finditer(r.text)}
        assert {"/openapi.json"} < refs
        for ref in refs:
            assert ref.startswith("/"), ref
            asset = await c.get(ref)
            assert asset.status_code == 200, ref
            suffix = Path(ref).suffix
            expected = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}[suffix]
            assert expected in asset.headers["content-type"], (ref, asset.headers["content-type"])
        assert any(ref.endswith(".js") for ref in refs)
