"""The inbox (R4.5): GET /inbox with the search box, every filter the API takes, the sorts and
its keyset pages. The query string of this page is the API's (minus empty fields), so a view is a
link one can bookmark; htmx swaps only the results and pushes the URL.

Saved views per user (``/inbox/views`` of the API): "Guardar vista" stores the current query
string (without the page) under a name; the user's views are links to this page with their query;
each can be deleted. Only the owner sees them (the API filters)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console import i18n
from console.api_client import ApiError
from console.permissions import may_create
from console.web import PREFIX, CurrentVisit, Visit, api_of, form_text, is_htmx, page, redirect

router = APIRouter()

MULTI = ("status", "type", "area", "channel", "priority", "responsible")  # filters that take several values
SINGLE = ("q", "overdue", "sort", "cursor")
STATUSES = ("new", "in_execution", "waiting_on_customer", "finished_success", "finished_failure")
PRIORITIES = ("urgent", "high", "normal", "low")
SORTS = ("deadline", "-deadline", "created", "-created", "priority", "-priority")
PAGE_SIZE = 25

i18n.TEXTS.update({f"sv.{key}": pair for key, pair in {
    "heading": ("Vistas guardadas", "Saved views"),
    "none": ("Aún no tiene vistas guardadas.", "You have no saved views yet."),
    "name": ("Nombre de la vista", "View name"),
    "save": ("Guardar vista", "Save view"),
    "delete": ("Eliminar", "Delete"),
    "delete_label": ("Eliminar la vista", "Delete the view"),
}.items()})


def _query(request: Request) -> list[tuple[str, str]]:
    """The API's parameters from this page's query string (known names only, empty ones dropped)."""
    return _query_of(request.query_params)


def _query_of(qp: Any) -> list[tuple[str, str]]:
    """The API's parameters from a query string or form (known names only, empty ones dropped)."""
    out = [(k, v) for k in MULTI for v in qp.getlist(k) if v]
    out += [(k, qp[k]) for k in SINGLE if qp.get(k)]
    return out


@router.get("/inbox")
async def inbox(request: Request, v: CurrentVisit) -> Response:
    return await _inbox(request, v)


async def _views(request: Request, v: Visit) -> list[dict[str, Any]]:
    """The user's saved views (the first page: a user keeps a handful)."""
    found = await api_of(request).get(v.session, "/inbox/views", {"limit": "200"})
    return list(found["items"])


@router.post("/inbox/views")
async def save_view(request: Request, v: CurrentVisit) -> Response:
    form = await request.form()
    # htmx posts the filter form's current fields along (they may have changed since the page
    # loaded); a plain browser posts the page's query, kept in a hidden field.
    query = urlencode(_query_of(form)) if is_htmx(request) else form_text(form, "query")
    try:
        await api_of(request).post(v.session, "/inbox/views", {"name": form_text(form, "name"), "query": query})
    except ApiError as e:  # a duplicate or empty name: shown beside the name field
        return await _inbox(request, v, view_error=e, view_query=query)
    return redirect(f"{PREFIX}/inbox" + (f"?{query}" if query else ""), request)


@router.post("/inbox/views/{view_id}/delete")
async def delete_view(view_id: str, request: Request, v: CurrentVisit) -> Response:
    await api_of(request).delete(v.session, f"/inbox/views/{quote(view_id)}")
    return redirect(f"{PREFIX}/inbox", request)


async def _inbox(request: Request, v: Visit, view_error: ApiError | None = None,
                 view_query: str | None = None) -> Response:
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
    types, channels, areas, views = await asyncio.gather(
        api.case_types(v.session), api.entries(v.session, "channels"), api.entries(v.session, "areas"),
        _views(request, v))
    if view_query is None:  # what "Guardar vista" saves: this page's query, without the page
        view_query = urlencode([(k, val) for k, val in query if k != "cursor"])
    return page(request, v, "inbox/inbox.html", types=types, channels=channels, areas=areas, statuses=STATUSES,
                priorities=PRIORITIES, sorts=SORTS, may_create=may_create(v.me), views=views,
                view_error=view_error, view_query=view_query, **values)
