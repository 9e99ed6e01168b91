"""The one way to refuse: a ``Refused`` exception, raised by domain rules and use cases alike.

Plain Python, no web framework: domain modules raise it, and ``shared/problems.py`` maps every
``Refused`` to an RFC 9457 problem document in one place. User-facing texts are (es, en) pairs;
the Spanish one is the default, English answers ``Accept-Language: en``.

    raise not_found(CASE_NOT_FOUND)                                   # 404 (also another tenant's)
    raise forbidden(("Sólo el responsable…", "Only the responsible…"))  # 403 (R4.4)
    raise conflict("illegal-transition", TITLE, DETAIL, allowed_actions=[…])  # 409
    raise invalid(field_error("channel", MSG, "channel_not_allowed"), …)      # 422, field by field
"""

from __future__ import annotations

from typing import Any

Text = tuple[str, str]  # (Spanish, English)

TITLES: dict[int, Text] = {
    400: ("Solicitud incorrecta", "Bad request"),
    401: ("No autenticado", "Not authenticated"),
    403: ("Acción no permitida", "Forbidden"),
    404: ("No encontrado", "Not found"),
    405: ("Método no permitido", "Method not allowed"),
    409: ("Conflicto", "Conflict"),
    413: ("El contenido es demasiado grande", "Content too large"),
    415: ("Tipo de contenido no soportado", "Unsupported media type"),
    422: ("Los datos enviados no son válidos", "The data sent is not valid"),
    429: ("Demasiadas solicitudes", "Too many requests"),
    500: ("Error interno", "Internal error"),
    503: ("Servicio no disponible", "Service unavailable"),
}


class Refused(Exception):
    """A refusal with its problem document: status, a stable ``code`` (the problem type's last
    segment), title and detail as (es, en), field errors (422) and extra members."""

    def __init__(self, status: int, code: str, title: Text, detail: Text | None = None,
                 errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(title[1])
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.headers = headers
        self.extra = extra


def field_error(field: str, message: Text, code: str, where: str = "body", **extra: Any) -> dict[str, Any]:
    """One bad field: ``pointer`` (RFC 6901 into the request), ``field``, ``message`` (es, en), ``code``."""
    return {"pointer": f"#/{where}/" + field.replace(".", "/"), "field": field, "message": message, "code": code,
            **extra}


def invalid(*errors: dict[str, Any]) -> Refused:
    """422: input that is well-formed but refers to things that do not exist or clash. All the
    problems found are reported at once; nothing was stored."""
    n = len(errors)
    return Refused(422, "validation", TITLES[422],
                   (f"{n} campo(s) con errores; no se guardó nada.", f"{n} field(s) with errors; nothing was stored."),
                   list(errors))


def forbidden(detail: Text) -> Refused:
    """403: the caller is known but R4.4 does not let them do this."""
    return Refused(403, "forbidden", TITLES[403], detail)


def not_found(what: Text) -> Refused:
    """404, also for another tenant's object: its existence is not revealed."""
    return Refused(404, "not-found", what)


def unauthenticated(detail: Text) -> Refused:
    """401 with ``WWW-Authenticate: Bearer`` (RFC 6750): the caller is not (or no longer) known."""
    return Refused(401, "unauthenticated", TITLES[401], detail, headers={"WWW-Authenticate": "Bearer"})


# Why a token is refused, the same words on every service.
TOKEN_MISSING: Text = ("Inicie sesión: falta el token de acceso.", "Log in: the access token is missing.")
TOKEN_EXPIRED: Text = ("La sesión expiró; inicie sesión de nuevo.", "The session expired; log in again.")
TOKEN_INVALID: Text = ("El token no es válido.", "Invalid token.")
TOKEN_REVOKED: Text = ("El token fue revocado; inicie sesión de nuevo.", "The token was revoked; log in again.")
USER_DEACTIVATED: Text = ("El usuario está desactivado.", "The user is deactivated.")


def conflict(code: str, title: Text, detail: Text | None = None, errors: list[dict[str, Any]] | None = None,
             **extra: Any) -> Refused:
    """409: the request is valid but the object's state does not allow it now."""
    return Refused(409, code, title, detail, errors, **extra)


class FieldErrors:
    """Collects every problem of one request, so that all of them are reported at once:

        errors = FieldErrors()
        errors.add("type", MSG, "unknown_case_type")
        errors.raise_if_any()          # 422 with every error added
    """

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, field: str, message: Text, code: str, where: str = "body", **extra: Any) -> None:
        self.items.append(field_error(field, message, code, where, **extra))

    def extend(self, errors: list[dict[str, Any]]) -> None:
        self.items.extend(errors)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise invalid(*self.items)
