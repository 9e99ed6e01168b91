"""What the OpenAPI documents say about refusals: every 4xx is an RFC 9457 problem document
(``application/problem+json``, schema ``ProblemDetails``).

Routes declare the refusals they can answer beside their own success response:

    @router.post("/cases/{case_id}/execute", response_model=ActionResult,
                 responses=problem_responses(403, 404, 409, 422))
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.problems import PROBLEM_JSON

DESCRIPTIONS = {
    400: "Bad request",
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
