"""Saved inbox views (R4.5): ``GET /inbox/views`` (mine, by name), ``POST /inbox/views``
{name, query}, ``DELETE /inbox/views/{id}``. ``query`` is the query string of ``GET /inbox``
(e.g. ``status=new&priority=urgent&sort=-created``); it is checked with the inbox's own
parameter model, so a view that is saved always opens."""

from __future__ import annotations

import typing
import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from services.intake.adapters.saved_view_tables import QUERY_MAX
from services.intake.api.deps import CurrentPrincipal
from services.intake.api.inbox_params import InboxParams
from services.intake.service_layer import saved_views
from shared.fields import InputModel
from shared.openapi import problem_responses
from shared.paging import Page, PageParams
from shared.refusals import field_error, invalid
from shared.runtime import runtime_of

router = APIRouter(prefix="/inbox/views", tags=["inbox"])

# A page position is not part of a view: it opens on its first page.
NOT_SAVED = ("cursor", "count")


class SavedViewIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"name": "Urgentes", "query": "priority=urgent"}})
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    query: Annotated[str, StringConstraints(strip_whitespace=True, max_length=QUERY_MAX)]


class SavedViewOut(BaseModel):
    id: uuid.UUID
    name: str
    query: str
    created_at: datetime


def _is_list(name: str) -> bool:
    return typing.get_origin(InboxParams.model_fields[name].annotation) is list


def _bad(name: str, es: str, en: str, code: str) -> Exception:
    return invalid(field_error("query", (f"Parámetro «{name}» de la consulta: {es}", f"Query parameter '{name}': {en}"),
                               code, parameter=name))


def checked_query(query: str) -> str:
    """The query string without empty values, or a 422 on ``query`` naming the bad parameter."""
    pairs = [(k, v) for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=True) if v != ""]
    values: dict[str, Any] = {}
    for k, v in pairs:
        if k in NOT_SAVED or k not in InboxParams.model_fields:
            raise _bad(k, "no es un filtro de la bandeja.", "not an inbox filter.", "unknown_parameter")
        if _is_list(k):
            values.setdefault(k, []).append(v)
        elif k in values:
            raise _bad(k, "va una sola vez.", "may appear once only.", "repeated_parameter")
        else:
            values[k] = v
    try:
        InboxParams.model_validate(values)
    except ValidationError as e:
        first = e.errors()[0]
        raise _bad(str(first["loc"][0]), "valor no válido.", first["msg"], "invalid_parameter") from None
    return urlencode(pairs)


def _out(r: Any) -> SavedViewOut:
    return SavedViewOut(id=r["id"], name=r["name"], query=r["query"], created_at=r["created_at"])


@router.get("", response_model=Page[SavedViewOut], responses=problem_responses(401, 403, 422))
async def my_views(request: Request, p: CurrentPrincipal, page: PageParams) -> Page[SavedViewOut]:
    """The caller's saved views, by name."""
    rows = await saved_views.mine(runtime_of(request).db, p, page.after("views", str, uuid.UUID), page.limit)
    return Page[SavedViewOut].of(rows, page, "views", key=lambda r: (r.name, r.id), item=lambda r: _out(r._mapping))


@router.post("", status_code=201, response_model=SavedViewOut, responses=problem_responses(401, 403, 409, 422))
async def save_view(body: SavedViewIn, request: Request, p: CurrentPrincipal) -> SavedViewOut:
    """Save an inbox query under a name (unique among the caller's views)."""
    row = await saved_views.create(runtime_of(request).db, p, body.name, checked_query(body.query))
    return _out(row)


@router.delete("/{view_id}", status_code=204, response_class=Response, responses=problem_responses(401, 403, 404))
async def delete_view(view_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> Response:
    """Delete one of the caller's views (another's is a 404)."""
    await saved_views.delete(runtime_of(request).db, p, view_id)
    return Response(status_code=204)
