"""The event contracts, served for consumers outside Atiende (issue 13): the AsyncAPI document
and one JSON Schema per event type and version, generated from the models at run time
(``shared/contracts/asyncapi.py``), the same as docs/asyncapi.yaml and docs/events/schemas.

Public (no token): contracts describe messages, not tenant data. The document names the
exchange and queues of this deployment's namespace (``ATIENDE_NAMESPACE``)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from shared.contracts import EVENT_TYPES
from shared.contracts.asyncapi import (
    asyncapi_document,
    event_schema,
    load_subscriptions,
    producer_of,
    split_type,
    to_json,
    to_yaml,
    yaml_available,
)
from shared.fields import SafeText
from shared.openapi import problem_responses
from shared.paging import Page, PageParams
from shared.refusals import not_found
from shared.runtime import runtime_of

router = APIRouter(prefix="/contracts", tags=["event contracts"])

SCHEMA_JSON = "application/schema+json"


def _object(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route answering one JSON document that is not a model of ours."""
    return {200: {"description": description,
                  "content": {media_type: {"schema": {"type": "object", "description": description}}}}}


@lru_cache(maxsize=8)
def _document(namespace: str) -> str:
    return to_json(asyncapi_document(load_subscriptions(), namespace))


@lru_cache(maxsize=8)
def _document_yaml(namespace: str) -> str:
    return to_yaml(json.loads(_document(namespace)))


@router.get("/asyncapi.json", response_class=JSONResponse,
            responses=_object("application/json", "The AsyncAPI 3.0 document of every event"))
async def asyncapi_json(request: Request) -> Response:
    """Every event Atiende publishes (AsyncAPI 3.0): channels on this deployment's events exchange,
    one message per type and version, who sends and who receives it."""
    return Response(_document(runtime_of(request).settings.namespace), media_type="application/json")


if yaml_available():
    @router.get("/asyncapi.yaml", response_class=Response,
                responses={200: {"description": "The AsyncAPI 3.0 document, as YAML",
                                 "content": {"application/yaml": {"schema": {
                                     "type": "object", "description": "The AsyncAPI document"}}}}})
    async def asyncapi_yaml(request: Request) -> Response:
        """The same document as ``/contracts/asyncapi.json``, in YAML."""
        return Response(_document_yaml(runtime_of(request).settings.namespace), media_type="application/yaml")


class EventContractOut(BaseModel):
    type: str = Field(description="The event type and version, also the routing key (case.created.v1)")
    name: str = Field(description="The type without its version (case.created)")
    version: int
    producer: str = Field(description="The service that publishes it")
    summary: str | None
    schema_url: str = Field(description="Its JSON Schema (the whole envelope, data inlined)")


def _contract(event_type: str) -> EventContractOut:
    name, version = split_type(event_type)
    doc = (EVENT_TYPES[event_type].__doc__ or "").strip()
    return EventContractOut(type=event_type, name=name, version=version, producer=producer_of(event_type),
                            summary=" ".join(doc.split()) or None, schema_url=f"/contracts/events/{event_type}")


@router.get("/events", response_model=Page[EventContractOut], responses=problem_responses(422))
async def list_event_types(page: PageParams) -> Page[EventContractOut]:
    """Every event type and version, by type, each with the link to its JSON Schema."""
    after = page.after("event-contracts", str)
    rows = [t for t in sorted(EVENT_TYPES) if after is None or t > after[0]][: page.limit + 1]
    return Page.of(rows, page, "event-contracts", key=lambda t: (t,), item=_contract)


@router.get("/events/{event_type}", response_class=Response,
            responses={**_object(SCHEMA_JSON, "The JSON Schema (draft 2020-12) of the event's envelope"),
                       **problem_responses(404, 422)})
async def get_event_schema(event_type: Annotated[SafeText, Path(max_length=120)]) -> Response:
    """The JSON Schema of one event type and version: the whole envelope, its ``data`` inlined.
    404 for a type Atiende does not publish."""
    if event_type not in EVENT_TYPES:
        raise not_found((f"No existe el tipo de evento «{event_type}».",
                         f"There is no event type '{event_type}'."))
    return Response(to_json(event_schema(event_type)), media_type=SCHEMA_JSON)
