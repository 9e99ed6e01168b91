"""RFC 9457 problem details for every error a service returns, field by field for bad input.

User-facing texts exist in Spanish (es-CL, the default) and English, picked from the request's
``Accept-Language``. Validation errors list each bad field with a JSON pointer into the request."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import field_validator
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("atiende.problems")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://atiende.dev/problems/"

# Pydantic error types → (es, en). Anything else falls back to pydantic's English message.
_FIELD_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("Este campo es obligatorio.", "This field is required."),
    "string_too_short": ("El texto es demasiado corto (mínimo {min_length}).", "Too short (minimum {min_length})."),
    "string_too_long": ("El texto es demasiado largo (máximo {max_length}).", "Too long (maximum {max_length})."),
    "string_type": ("Debe ser un texto.", "Must be a string."),
    "string_pattern_mismatch": ("El formato no es válido.", "Invalid format."),
    "value_error": ("Valor no válido: {reason}", "Invalid value: {reason}"),
    "association": ("La asociación indicada requiere su cliente o propiedad (party_id o asset_id).",
                    "That association needs its party or property (party_id or asset_id)."),
    "commitment_dates": ("La fecha de compromiso interna debe ser anterior a la del cliente.",
                         "The internal commitment date must be earlier than the customer's."),
    "responsible": ("Indique responsible_id o responsible_email (sólo uno).",
                    "Give responsible_id or responsible_email (exactly one)."),
    "extra_forbidden": ("Campo no permitido.", "Unknown field."),
    "int_parsing": ("Debe ser un número entero.", "Must be an integer."),
    "bool_parsing": ("Debe ser verdadero o falso.", "Must be true or false."),
    "bool_type": ("Debe ser verdadero o falso.", "Must be true or false."),
    "date_from_datetime_parsing": ("Debe ser una fecha AAAA-MM-DD.", "Must be a date YYYY-MM-DD."),
    "date_parsing": ("Debe ser una fecha AAAA-MM-DD.", "Must be a date YYYY-MM-DD."),
    "datetime_parsing": ("Debe ser una fecha y hora ISO 8601.", "Must be an ISO 8601 date-time."),
    "datetime_from_date_parsing": ("Debe ser una fecha y hora ISO 8601.", "Must be an ISO 8601 date-time."),
    "too_long": ("Demasiados elementos (máximo {max_length}).", "Too many items (maximum {max_length})."),
    "too_short": ("Faltan elementos (mínimo {min_length}).", "Too few items (minimum {min_length})."),
    "greater_than_equal": ("Debe ser mayor o igual a {ge}.", "Must be at least {ge}."),
    "less_than_equal": ("Debe ser menor o igual a {le}.", "Must be at most {le}."),
    "uuid_parsing": ("Debe ser un UUID.", "Must be a UUID."),
    "literal_error": ("Debe ser uno de: {expected}.", "Must be one of: {expected}."),
    "enum": ("Debe ser uno de: {expected}.", "Must be one of: {expected}."),
    "json_invalid": ("El cuerpo no es JSON válido.", "The body is not valid JSON."),
    "model_attributes_type": ("Debe ser un objeto JSON.", "Must be a JSON object."),
    "dict_type": ("Debe ser un objeto JSON.", "Must be a JSON object."),
    "null_not_allowed": ("Este campo no admite null; omítalo para dejarlo como está.",
                         "This field cannot be null; leave it out to keep it unchanged."),
}

_TITLES: dict[int, tuple[str, str]] = {
    400: ("Solicitud incorrecta", "Bad request"),
    401: ("No autenticado", "Not authenticated"),
    403: ("Acción no permitida", "Forbidden"),
    404: ("No encontrado", "Not found"),
    405: ("Método no permitido", "Method not allowed"),
    409: ("Conflicto", "Conflict"),
    415: ("Tipo de contenido no soportado", "Unsupported media type"),
    422: ("Los datos enviados no son válidos", "The data sent is not valid"),
    500: ("Error interno", "Internal error"),
    503: ("Servicio no disponible", "Service unavailable"),
}


def language(request: Request) -> str:
    accept = request.headers.get("accept-language", "").lower()
    return "en" if accept.startswith("en") else "es"


class Problem(Exception):
    """Raise from API code to answer with a problem document. Texts are (es, en) pairs."""

    def __init__(self, status: int, code: str, title: tuple[str, str], detail: tuple[str, str] | None = None,
                 errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(title[1])
        self.headers = headers
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.extra = extra


def forbidden(detail: tuple[str, str]) -> Problem:
    return Problem(403, "forbidden", _TITLES[403], detail)


def not_found(what: tuple[str, str]) -> Problem:
    """Also the answer for another tenant's object: its existence is not revealed."""
    return Problem(404, "not-found", what)


def field_error(field: str, message: tuple[str, str], code: str, where: str = "body") -> dict[str, Any]:
    """One bad field: ``pointer`` (RFC 6901 into the request), ``field``, ``message`` (es, en), ``code``."""
    return {"pointer": f"#/{where}/" + field.replace(".", "/"), "field": field, "message": message, "code": code}


def refuse_null(*fields: str) -> Any:
    """A validator for PATCH models (``_no_null = refuse_null("name", …)``): these fields may be
    left out (unchanged) but not set to null, which would clear what the record must have. Each
    such field gets its own 422 error, code ``null_not_allowed``."""
    def check(cls: type, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("null_not_allowed", "this field cannot be null; leave it out to keep it")
        return value
    return field_validator(*fields, mode="before")(check)


def invalid(*errors: dict[str, Any]) -> Problem:
    """A 422 problem for input that is well-formed but refers to things that do not exist or clash."""
    n = len(errors)
    return Problem(422, "validation", _TITLES[422],
                   (f"{n} campo(s) con errores; no se guardó nada.", f"{n} field(s) with errors; nothing was stored."),
                   list(errors))


def problem_response(request: Request, status: int, code: str, title: str, detail: str | None = None,
                     errors: list[dict[str, Any]] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + code, "title": title, "status": status,
                            "instance": request.url.path}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field_message(err: dict[str, Any], lang: str) -> str:
    pair = _FIELD_MESSAGES.get(err["type"])
    if pair is None:
        return str(err.get("msg", ""))
    ctx = {k: (", ".join(map(str, v)) if isinstance(v, list | tuple) else v) for k, v in (err.get("ctx") or {}).items()}
    if err["type"] == "value_error":
        ctx["reason"] = str(ctx.get("error", err.get("msg", ""))).removeprefix("Value error, ")
    try:
        return pair[0 if lang == "es" else 1].format(**ctx)
    except (KeyError, IndexError):
        return pair[0 if lang == "es" else 1]


def validation_errors(errors: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        field_path = [p for p in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header") else loc
        out.append({"pointer": "#/" + "/".join(loc), "field": ".".join(field_path) or (loc[0] if loc else ""),
                    "message": _field_message(err, lang), "code": err["type"]})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = language(request)
        errors = validation_errors(list(exc.errors()), lang)
        title = _TITLES[422][0 if lang == "es" else 1]
        detail = (f"{len(errors)} campo(s) con errores; no se guardó nada." if lang == "es"
                  else f"{len(errors)} field(s) with errors; nothing was stored.")
        return problem_response(request, 422, "validation", title, detail, errors)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        i = 0 if language(request) == "es" else 1
        errors = [{k: (v[i] if isinstance(v, tuple) else v) for k, v in e.items()} for e in exc.errors]
        resp = problem_response(request, exc.status, exc.code, exc.title[i], exc.detail[i] if exc.detail else None,
                                errors, **exc.extra)
        if exc.headers:
            resp.headers.update(exc.headers)
        return resp

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        i = 0 if language(request) == "es" else 1
        title = _TITLES.get(exc.status_code, ("Error", "Error"))[i]
        generic = _TITLES.get(exc.status_code, ())
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail not in generic else None
        return problem_response(request, exc.status_code, f"http-{exc.status_code}", title, detail)

    @app.exception_handler(sqlalchemy.exc.TimeoutError)
    async def _pool_exhausted(request: Request, exc: sqlalchemy.exc.TimeoutError) -> JSONResponse:
        # Every pooled connection stayed busy for db_pool_timeout_s: shed the request with a
        # retryable answer rather than keep it (and its client) waiting.
        log.warning("database pool exhausted on %s %s", request.method, request.url.path)
        i = 0 if language(request) == "es" else 1
        resp = problem_response(request, 503, "overloaded", _TITLES[503][i], (
            "El servicio está con mucha carga. Reintente en unos segundos (con la misma Idempotency-Key).",
            "The service is overloaded. Retry in a few seconds (with the same Idempotency-Key).")[i])
        resp.headers["Retry-After"] = "1"
        return resp

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        i = 0 if language(request) == "es" else 1
        return problem_response(request, 500, "internal", _TITLES[500][i])
