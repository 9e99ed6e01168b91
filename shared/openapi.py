"""What the OpenAPI documents say about refusals: every 4xx is an RFC 9457 problem document
(``application/problem+json``, schema ``ProblemDetails``).

Routes declare the refusals they can answer beside their own success response:

    @router.post("/cases/{case_id}/execute", response_model=ActionResult,
                 responses=problem_responses(403, 404, 409, 422))

``install_openapi`` (every service's app, see ``shared/http.py``) then makes the whole document
say the same, whatever a route declared: every 4xx is ``ProblemDetails`` as problem+json
(FastAPI's ``HTTPValidationError`` is gone), a secured operation (a security requirement, or an
``Authorization``/``X-API-Key`` header parameter) documents 401 (and one taking an API key 429:
bad keys are rate limited), one with
parameters or a body 422, one taking a body 413 (a form body 400 too), and a route answering without a body
(``response_class=Response``, 201/202/204) documents its success response without content.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field
from starlette.responses import Response

from shared.problems import PROBLEM_JSON

DESCRIPTIONS = {
    400: "Bad request: a form body the parser refuses (e.g. too many fields)",
    401: "Not authenticated: missing, expired or revoked token",
    403: "Forbidden: the caller's role does not allow it (R4.4)",
    404: "Not found (also another tenant's object)",
    409: "Conflict: the object's state does not allow it now",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input, field by field; nothing was stored",
    429: "Too many requests",
    503: "Overloaded or not ready; retry later",
}


class FieldProblem(BaseModel):
    pointer: str = Field(description="JSON pointer into the request, e.g. #/body/contact/email")
    field: str
    message: str
    code: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="URI of the problem type; its last segment is a stable code")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] | None = Field(default=None, description="One entry per bad field (422)")

    model_config = {"extra": "allow"}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status documented as a problem document."""
    return {s: {"description": DESCRIPTIONS.get(s, "Problem"), "model": ProblemDetails,
                "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}
            for s in statuses}


def sse_response(description: str, events: list[str]) -> dict[str, Any]:
    """``responses[200]`` of a server-sent-events route: the schema describes each event of the
    stream (its ``event`` name, ``data``, ``id``, ``retry``), as OpenAPI 3.2's ``itemSchema`` does."""
    event = {"type": "object", "description": "One server-sent event", "required": ["data"], "properties": {
        "event": {"type": "string", "enum": events}, "data": {"type": "string", "description": "JSON"},
        "id": {"type": "string"}, "retry": {"type": "integer", "description": "Reconnect after (ms)"}}}
    return {"description": description, "content": {"text/event-stream": {"schema": event}}}


EMPTY_STATUSES = frozenset({201, 202, 204})
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
_PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
_CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key"})
_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
_FORMS = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


def install_openapi(app: FastAPI) -> None:
    """Wrap ``app.openapi``: FastAPI builds (and caches) the document, ``refine`` runs once on it."""
    build = app.openapi
    refined: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        schema = build()
        if not refined or refined[0] is not schema:  # FastAPI rebuilt it (routes changed)
            refine(schema, _bodiless_operations(app))
            refined[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise it


def _bodiless_operations(app: FastAPI) -> set[tuple[str, str, str]]:
    """(path, method, status) of the routes whose success response has no body."""
    out: set[tuple[str, str, str]] = set()
    for ctx in iter_route_contexts(app.routes):  # included routers' routes too, with their prefixes
        route: Any = ctx
        if not isinstance(ctx.original_route, APIRoute) or not route.include_in_schema \
                or route.response_model is not None:
            continue
        status = route.status_code or 200
        if status not in EMPTY_STATUSES:
            continue
        if route.response_class is Response or _returns_bare_response(route.endpoint):
            out.update((route.path_format, m.lower(), str(status)) for m in route.methods)
    return out


def _returns_bare_response(endpoint: Any) -> bool:
    try:
        return inspect.signature(endpoint, eval_str=True).return_annotation is Response
    except (NameError, TypeError, ValueError):
        return False


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": dict(_PROBLEM_REF)}}


def _problem(status: int) -> dict[str, Any]:
    return {"description": DESCRIPTIONS.get(status, "Problem"), "content": _problem_content()}


def _secured(op: dict[str, Any]) -> bool:
    """A security requirement, or a credential taken as a plain header (a bearer token or an
    API key read with ``Header()``): either way a missing or bad one is a 401."""
    return bool(op.get("security")) or any(
        p.get("in") == "header" and p.get("name", "").lower() in _CREDENTIAL_HEADERS for p in op.get("parameters", []))


def _takes_api_key(op: dict[str, Any]) -> bool:
    """An operation with the ``ApiKey`` security scheme (intake's: the other services refuse keys)."""
    return any("ApiKey" in req for req in op.get("security") or ())


def refine(schema: dict[str, Any], bodiless: set[tuple[str, str, str]] | None = None) -> dict[str, Any]:
    """The post-processing described in the module docstring, in place; returns ``schema``.
    ``bodiless``: (path, method, status) of success responses without a body."""
    bodiless = bodiless or set()
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in problem.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas.setdefault("ProblemDetails", problem)
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            responses: dict[str, Any] = op.setdefault("responses", {})
            if _secured(op):
                responses.setdefault("401", _problem(401))
            if _takes_api_key(op):  # bad keys are rate limited per address and key prefix
                responses.setdefault("429", _problem(429))
            if op.get("parameters") or op.get("requestBody"):
                responses.setdefault("422", _problem(422))
            if op.get("requestBody"):
                responses.setdefault("413", _problem(413))
            if _FORMS & set(op.get("requestBody", {}).get("content", {})):
                responses.setdefault("400", _problem(400))  # a form the parser refuses (too many fields…)
            for status, response in responses.items():
                if status.startswith("4"):
                    if response.get("description") in (None, "", "Validation Error"):
                        response["description"] = DESCRIPTIONS.get(int(status), "Problem")
                    response["content"] = _problem_content()
                elif (path, method, status) in bodiless:
                    response.pop("content", None)
    for name in _FASTAPI_VALIDATION:  # HTTPValidationError first: it is what refers to ValidationError
        others = {k: v for k, v in schemas.items() if k != name}
        if f'"#/components/schemas/{name}"' not in json.dumps([schema.get("paths", {}), others]):
            schemas.pop(name, None)
    return schema
