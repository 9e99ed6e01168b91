"""RFC 9457 problem details for every error a service returns, field by field for bad input.

User-facing texts exist in Spanish (es-CL, the default) and English, picked from the request's
``Accept-Language``. Validation errors list each bad field with a JSON pointer into the request."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import asyncpg.exceptions
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import field_validator
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.refusals import TITLES, Refused, conflict, field_error, forbidden, invalid, not_found

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
    "value_error": ("Valor no válido.", "Invalid value: {reason}"),
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
    "unsafe_text": ("El texto contiene caracteres no permitidos (NUL o sustitutos sueltos).",
                    "The text contains characters that are not allowed (NUL or lone surrogates)."),
    "email_invalid": ("No es una dirección de correo válida.", "Not a valid e-mail address."),
    "phone_invalid": ("No es un teléfono válido en formato E.164 (p. ej. +56912345678).",
                      "Not a valid E.164 phone number (e.g. +56912345678)."),
    "invalid_cursor": ("El cursor de página no es válido; use el next_cursor recibido.",
                       "Invalid page cursor; pass the next_cursor you received."),
    "list_type": ("Debe ser una lista.", "Must be a list."),
    "int_type": ("Debe ser un número entero.", "Must be an integer."),
    "int_from_float": ("Debe ser un número entero.", "Must be an integer."),
    "float_parsing": ("Debe ser un número.", "Must be a number."),
    "float_type": ("Debe ser un número.", "Must be a number."),
    "uuid_type": ("Debe ser un UUID.", "Must be a UUID."),
    "date_type": ("Debe ser una fecha AAAA-MM-DD.", "Must be a date YYYY-MM-DD."),
    "datetime_type": ("Debe ser una fecha y hora ISO 8601.", "Must be an ISO 8601 date-time."),
    "time_parsing": ("Debe ser una hora HH:MM.", "Must be a time HH:MM."),
    "string_unicode": ("El texto no es UTF-8 válido.", "The text is not valid UTF-8."),
    "set_type": ("Debe ser una lista.", "Must be a list."),
    "union_tag_invalid": ("Valor no válido.", "Invalid value."),
    "url_parsing": ("Debe ser una URL.", "Must be a URL."),
    "null_not_allowed": ("Este campo no admite null; omítalo para dejarlo como está.",
                         "This field cannot be null; leave it out to keep it unchanged."),
}

_TITLES = TITLES


def language(request: Request) -> str:
    accept = request.headers.get("accept-language", "").lower()
    return "en" if accept.startswith("en") else "es"


# ``Problem`` is the same class as ``Refused`` (the one way to refuse, shared/refusals.py); the
# old name stays for HTTP-level code (authentication, overload).
Problem = Refused


def refuse_null(*fields: str) -> Any:
    """A validator for PATCH models (``_no_null = refuse_null("name", …)``): these fields may be
    left out (unchanged) but not set to null, which would clear what the record must have. Each
    such field gets its own 422 error, code ``null_not_allowed``."""
    def check(cls: type, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("null_not_allowed", "this field cannot be null; leave it out to keep it")
        return value
    return field_validator(*fields, mode="before")(check)


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
    if pair is None:  # never the library's English in a Spanish answer
        return "Valor no válido." if lang == "es" else str(err.get("msg", "Invalid value."))
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
        if err["type"] == "value_error" and "valid email" in str(err.get("msg", "")):
            err = {**err, "type": "email_invalid"}  # pydantic's EmailStr says so only in English
        out.append({"pointer": "#/" + "/".join(loc), "field": ".".join(field_path) or (loc[0] if loc else ""),
                    "message": _field_message(err, lang), "code": err["type"]})
    return out


_LIBRARY_DETAILS: dict[str, tuple[str, str]] = {
    "There was an error parsing the body": ("No se pudo leer el cuerpo de la solicitud.",
                                            "The request body could not be parsed."),
}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = language(request)
        errors = validation_errors(list(exc.errors()), lang)
        title = _TITLES[422][0 if lang == "es" else 1]
        detail = (f"{len(errors)} campo(s) con errores; no se guardó nada." if lang == "es"
                  else f"{len(errors)} field(s) with errors; nothing was stored.")
        return problem_response(request, 422, "validation", title, detail, errors)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
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
        # Starlette's own details ("Not Found", "Method Not Allowed") are English phrases: the
        # localised title says the same.
        generic = {*_TITLES.get(exc.status_code, ()), _phrase(exc.status_code)}
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail not in generic else None
        if detail in _LIBRARY_DETAILS:  # FastAPI's own English sentences
            detail = _LIBRARY_DETAILS[detail][i]
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

    async def _database_unreachable(request: Request, exc: Exception) -> JSONResponse:
        if not database_unreachable(exc):
            return await _unhandled(request, exc)
        # PostgreSQL is down or restarting: nothing was stored (the transaction never committed),
        # so the client may retry as it is, with its Idempotency-Key (issue 15).
        log.warning("database unreachable on %s %s: %r", request.method, request.url.path, exc)
        i = 0 if language(request) == "es" else 1
        resp = problem_response(request, 503, "database-unavailable", _TITLES[503][i], (
            "La base de datos no está disponible en este momento; no se guardó nada. Reintente en unos "
            "segundos (con la misma Idempotency-Key).",
            "The database is unavailable right now; nothing was stored. Retry in a few seconds (with the "
            "same Idempotency-Key).")[i])
        resp.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return resp

    app.add_exception_handler(OSError, _database_unreachable)
    app.add_exception_handler(sqlalchemy.exc.DBAPIError, _database_unreachable)
    app.add_exception_handler(asyncpg.exceptions.PostgresError, _database_unreachable)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        i = 0 if language(request) == "es" else 1
        return problem_response(request, 500, "internal", _TITLES[500][i])


DATABASE_RETRY_AFTER_S = 5


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached (refused or lost connection, a server
    starting up or shutting down), as opposed to a bug or a constraint: only those are 503s."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        return exc.connection_invalidated or database_unreachable(exc.orig)  # type: ignore[arg-type]
    if isinstance(exc, (ConnectionError, asyncpg.exceptions.CannotConnectNowError,
                        asyncpg.exceptions.ConnectionDoesNotExistError,
                        asyncpg.exceptions.AdminShutdownError)):
        return True
    # SQLAlchemy's asyncpg adapter hands over its own Error, raised from the driver's: e.g. a
    # server shutting down or starting up refuses a new connection with 57P03 (issue 15's campaign).
    return exc.__cause__ is not None and database_unreachable(exc.__cause__)


__all__ = ["PROBLEM_JSON", "Problem", "Refused", "conflict", "field_error", "forbidden", "install_problem_handlers",
           "invalid", "language", "not_found", "problem_response", "refuse_null", "validation_errors"]
