"""The inbox (R4.5): GET /inbox with the search box, every filter the API takes, the sorts and
its keyset pages. The query string of this page is the API's (minus empty fields), so a view is a
link one can bookmark; htmx swaps only the results and pushes the URL.

Saved views per user: the API has nothing for them yet (no endpoint stores a user's views), so the
console offers none — a bookmarked link is the stand-in."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console.api_client import ApiError
from console.permissions import may_create
from console.web import CurrentVisit, api_of, is_htmx, page

router = APIRouter()

MULTI = ("status", "type", "area", "channel", "priority", "responsible")  # filters that take several values
SINGLE = ("q", "overdue", "sort", "cursor")
STATUSES = ("new", "in_execution", "waiting_on_customer", "finished_success", "finished_failure")
PRIORITIES = ("urgent", "high", "normal", "low")
SORTS = ("deadline", "-deadline", "created", "-created", "priority", "-priority")
PAGE_SIZE = 25


def _query(request: Request) -> list[tuple[str, str]]:
    """The API's parameters from this page's query string (known names only, empty ones dropped)."""
    qp = request.query_params
    out = [(k, v) for k in MULTI for v in qp.getlist(k) if v]
    out += [(k, qp[k]) for k in SINGLE if qp.get(k)]
    return out


@router.get("/inbox")
async def inbox(request: Request, v: CurrentVisit) -> Response:
    api = api_of(request)
    query = _query(request)
    error: ApiError | None = None
    try:
        found = await api.inbox(v.session, [*query, ("limit", str(PAGE_SIZE))])
    except ApiError as e:  # a bad filter value: the form shows the API's message beside it
        error, found = e, {"items": [], "next_cursor": None, "total": 0, "total_exact": True}
    chosen = {k: request.query_params.getlist(k) for k in MULTI} | {k: request.query_params.get(k, "") for k in SINGLE}
    values = {"found": found, "chosen": chosen, "error": error,
              "next_query": [(k, val) for k, val in query if k != "cursor"] + [("cursor", found.get("next_cursor") or "")],
              "first_query": [(k, val) for k, val in query if k != "cursor"], "paged": bool(chosen["cursor"])}
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return page(request, v, "inbox/_results.html", oob=True, **values)  # and the count, out of band
    types, channels, areas = await asyncio.gather(api.case_types(v.session), api.entries(v.session, "channels"),
                                                  api.entries(v.session, "areas"))
    return page(request, v, "inbox/inbox.html", types=types, channels=channels, areas=areas, statuses=STATUSES,
                priorities=PRIORITIES, sorts=SORTS, may_create=may_create(v.me), **values)
