"""What the work lists share (tasks, work orders, interactions): a status filter and the other
query names a list keeps (``case_id``, ``party_id``), its keyset pages (shared/paging.py's
``items`` + ``next_cursor``, the page's query kept in the "first" and "next" links), its count
(the API's ``total``, exact up to a bound, else an estimate: ``total_exact`` false) and the two
ways it is answered: the whole page, or only the list for htmx (the count swapped out of band).

Also the two calls every work screen makes with the visit's session (``api_get``/``api_post``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from console import i18n
from console.api_client import Params
from console.web import PREFIX, Visit, api_of, is_htmx, page

PAGE_SIZE = 25
i18n.TEXTS.update({
    "list.first": ("Primeras", "First"),
    "list.next": ("Siguientes", "Next"),
    "list.page": ("{n} en esta página", "{n} on this page"),
})


async def api_get(request: Request, v: Visit, path: str, params: Params | None = None) -> Any:
    return await api_of(request).get(v.session, path, params)


async def api_post(request: Request, v: Visit, path: str, body: dict[str, Any] | None = None) -> Any:
    return await api_of(request).post(v.session, path, body)


@dataclass(frozen=True)
class Listing:
    """One list screen: the API's path (also the console's, under /console), its statuses (the
    first is the default), the query names it keeps, its templates (the page, and the list the
    page includes in its section ``id="<target>"``)."""

    path: str
    statuses: tuple[str, ...]
    page_template: str
    list_template: str
    target: str
    keep: tuple[str, ...] = ()

    def query(self, request: Request, default: str | None = None) -> dict[str, str]:
        """This page's query in the API's names: ``status`` (known values only; else ``default``,
        else the first), the names kept, and ``cursor``."""
        qp = request.query_params
        status = qp.get("status") or ""
        if status not in self.statuses:
            status = default or self.statuses[0]
        return {"status": status, **{k: qp[k] for k in (*self.keep, "cursor") if qp.get(k)}}

    async def fetch(self, request: Request, v: Visit, query: dict[str, str], **extra: Any) -> dict[str, Any]:
        """One page of the API's list, with ``extra`` parameters the console's query does not show."""
        return dict(await api_get(request, v, self.path, {**query, **extra, "limit": PAGE_SIZE}))

    def values(self, query: dict[str, str], found: dict[str, Any]) -> dict[str, Any]:
        """What the list's templates use: the page, its query and the links of the first and next pages."""
        base = {k: val for k, val in query.items() if k != "cursor"}
        return {"found": found, "query": query, "statuses": self.statuses, "first_query": base,
                "next_query": {**base, "cursor": found.get("next_cursor") or ""}, "list_path": self.path,
                "list_target": self.target}

    def render(self, request: Request, v: Visit, **values: Any) -> Response:
        """The list alone when htmx asked for it (its count out of band), else the whole page."""
        if is_htmx(request) and request.headers.get("hx-target") == self.target:
            return page(request, v, self.list_template, oob=True, **values)
        return page(request, v, self.page_template, **values)

    def back(self, request: Request) -> Response:
        """After a plain form post the address is the form's (e.g. the language switch returns
        there): back to the list, with the query the form carried."""
        query = request.url.query
        return RedirectResponse(f"{PREFIX}{self.path}" + (f"?{query}" if query else ""), status_code=303)
