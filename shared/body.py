"""Parsing a JSON body so that ALL its problems can be reported at once.

FastAPI answers a body that breaks its schema before the route runs, so the checks that need
the catalog (an unknown type, a channel the type does not allow…) would come in a second 422.
A route that wants one answer with every problem takes the raw body and calls ``parse_keeping``:
it gets the model, or — when the schema is broken — the schema errors (es, en) together with a
model carrying only the fields that were valid, on which the remaining checks still run. The
route documents its body with ``documented_body(Model)`` (``openapi_extra=``)."""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.problems import validation_errors
from shared.refusals import field_error, invalid

M = TypeVar("M", bound=BaseModel)


@cache
def _field_adapters(model: type[BaseModel]) -> dict[str, TypeAdapter[Any]]:
    return {name: TypeAdapter(Annotated[f.annotation, f])  # type: ignore[arg-type]
            for name, f in model.model_fields.items()}


def parse_keeping(model: type[M], raw: bytes) -> tuple[M, list[dict[str, Any]] | None]:
    """``(model instance, None)`` for a valid body; otherwise ``(instance of the valid fields only,
    the schema errors as (es, en) field errors)``. Not JSON at all: 422 at once."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise invalid(field_error("body", ("El cuerpo no es JSON válido.", "The body is not valid JSON."),
                                  "json_invalid")) from None
    try:
        return model.model_validate(data), None
    except ValidationError as exc:
        errs: list[dict[str, Any]] = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
    errors = [{**es, "message": (es["message"], en["message"])}
              for es, en in zip(validation_errors(errs, "es"), validation_errors(errs, "en"), strict=True)]
    bad = {e["loc"][1] for e in errs if len(e["loc"]) > 1}
    adapters = _field_adapters(model)
    values: dict[str, Any] = {name: f.get_default(call_default_factory=True) for name, f in model.model_fields.items()}
    given: set[str] = set()
    if isinstance(data, dict):
        for name, value in data.items():
            if name in adapters and name not in bad:
                try:
                    values[name] = adapters[name].validate_python(value)
                    given.add(name)
                except ValidationError:
                    values[name] = None
    for name, f in model.model_fields.items():
        if name not in given and f.is_required():
            values[name] = None
    return model.model_construct(_fields_set=given, **values), errors


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its body itself: the model's schema, ``$defs`` inlined."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline(schema)}}}}
