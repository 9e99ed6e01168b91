"""What every service's HTTP app has before its routes: docs pages whose assets it serves itself
(no CDN: installations without internet access still show /docs and /redoc), problem details,
the OpenAPI post-processing of ``shared/openapi.py``, correlation ids, and bounded request bodies.

Body limits (``BodyLimitMiddleware``), checked before anything parses the body:

- ``ATIENDE_MAX_BODY_BYTES`` (1 MiB): JSON and form bodies; ``ATIENDE_MAX_UPLOAD_BYTES``
  (attachments' limit + 1 MiB): ``multipart/form-data`` uploads. A larger ``Content-Length`` is
  answered 413 without reading a byte; a body without one (chunked) is counted as it streams and
  refused 413 at the limit, never read whole.
- ``ATIENDE_MAX_JSON_DEPTH`` (32): a JSON body nested deeper is a 422 problem (field error
  ``json_too_deep``) before any parser recurses into it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.logs import correlation_id
from shared.metrics import HttpMetricsMiddleware
from shared.openapi import install_openapi
from shared.problems import install_problem_handlers, language, problem_response
from shared.refusals import TITLES
from shared.settings import Settings

STATIC_DOCS = "/static/docs"


def make_app(title: str, settings: Settings, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
             description: str = "", body_limits: dict[str, int] | None = None,
             service: str | None = None) -> FastAPI:
    """The FastAPI app of a service, without its routes (the runtime adds /health, /ready,
    /metrics and the service's router). With ``service``, requests are timed for /metrics."""
    # fastapi-offline serves swagger-ui and redoc from the package's own copies. No validator
    # badge: it would call an outside host from every /docs page.
    app = FastAPIOffline(title=title, lifespan=lifespan, static_url=STATIC_DOCS,
                         description=description or limits_description(settings),
                         swagger_ui_parameters={"validatorUrl": None})
    install_problem_handlers(app)
    install_openapi(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes,
                       max_upload_bytes=settings.upload_body_limit, max_json_depth=settings.max_json_depth,
                       path_limits=body_limits or {})
    if settings.cors_origins:  # a console or other frontend on another origin (per deployment)
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Accept-Language", "Idempotency-Key",
                                          "X-Correlation-ID", "X-API-Key"],
                           expose_headers=["X-Correlation-ID", "Retry-After", "Location"])
    app.add_middleware(CorrelationIdMiddleware)  # refusals of the limits carry it too
    if service is not None:  # outermost: the time includes every middleware's
        app.add_middleware(HttpMetricsMiddleware, service=service)
    return app


def limits_description(settings: Settings) -> str:
    return (
        "Errors are RFC 9457 problem documents (`application/problem+json`), in Spanish by default and "
        "in English with `Accept-Language: en`.\n\n"
        f"Request bodies: JSON and forms at most {settings.max_body_bytes} bytes, uploads "
        f"(`multipart/form-data`) at most {settings.upload_body_limit} bytes (413 above); JSON nested at "
        f"most {settings.max_json_depth} levels deep (422 `json_too_deep`).")


# On every response (issue 15). The API answers JSON only: it may not be framed, sniffed into
# HTML or given a referrer. Its own docs pages (Swagger UI, ReDoc) run scripts, so they keep only
# the headers that do not forbid scripts. HSTS belongs to the TLS front (Caddy adds it on HTTPS).
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin")]
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOCS_PATHS = ("/docs", "/redoc", STATIC_DOCS)


class CorrelationIdMiddleware:
    """Takes ``X-Correlation-ID`` from the request (or makes one), puts it in the logging context
    and echoes it back; events emitted while handling the request carry it (pure ASGI: cheap).
    It also adds the security headers (``SECURITY_HEADERS``) to every response."""

    header = b"x-correlation-id"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = next((v.decode("latin-1")[:100] for k, v in scope["headers"] if k == self.header), None) \
            or str(uuid.uuid4())
        token = correlation_id.set(cid)
        extra = [(self.header, cid.encode("latin-1")), *SECURITY_HEADERS]
        if not scope["path"].startswith(_DOCS_PATHS):
            extra.append(API_CSP)

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                have = {k.lower() for k, _ in headers}  # a route's own value wins (no doubled header)
                message["headers"] = [*headers, *(h for h in extra if h[0] not in have)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        finally:
            correlation_id.reset(token)


# A JSON string (escapes included) or one bracket: strings are skipped whole, at C speed.
_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPEN = frozenset(b"[{")


def json_too_deep(body: bytes, max_depth: int) -> bool:
    """Whether the JSON text nests arrays/objects deeper than ``max_depth`` (brackets inside
    strings do not count). Cheap: fewer brackets than the limit needs no scan at all."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    depth = 0
    for m in _JSON_TOKENS.finditer(body):
        c = body[m.start()]
        if c in _OPEN:
            depth += 1
            if depth > max_depth:
                return True
        elif c != 0x22:  # a closing bracket (a string is skipped)
            depth = max(depth - 1, 0)
    return False


_JSON_TOKENS_AND_SEPARATORS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:,]', re.DOTALL)


def deep_field(body: bytes, max_depth: int) -> str | None:
    """The top-level member (key, or index of a top-level array) under which ``body`` first nests
    deeper than ``max_depth``: the field a refusal names. Only called on refused bodies."""
    depth, field, root_is_array, key_next = 0, None, False, False
    for m in _JSON_TOKENS_AND_SEPARATORS.finditer(body):
        c = body[m.start()]
        if c in _OPEN:
            depth += 1
            if depth == 1:
                root_is_array, key_next = c == 0x5B, c == 0x7B
                field = "0" if root_is_array else None
            elif depth > max_depth:
                return field
        elif c in (0x5D, 0x7D):
            depth = max(depth - 1, 0)
        elif depth == 1 and c == 0x2C:  # ","
            if root_is_array:
                field = str(int(field or "0") + 1)
            else:
                key_next = True
        elif depth == 1 and c == 0x22 and key_next:
            try:
                field = json.loads(m.group())
            except ValueError:
                field = None
            key_next = False
    return field


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes the limit: it stops whatever is
    parsing (FastAPI re-raises HTTP exceptions from body parsing); the middleware answers."""

    def __init__(self) -> None:
        super().__init__(413)


def _is_json(content_type: bytes) -> bool:
    # FastAPI reads a body without Content-Type as JSON too.
    if not content_type:
        return True
    main, _, sub = content_type.partition(b"/")
    return main == b"application" and (sub == b"json" or sub.endswith(b"+json"))


class BodyLimitMiddleware:
    """413 for bodies over the limit, before they are parsed; 422 for JSON nested too deep.

    JSON bodies (at most ``max_body_bytes``) are read here, checked, then handed to the app as
    one message; other bodies stream through, counted."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int, max_json_depth: int,
                 path_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.path_limits = path_limits or {}  # a route that takes more (e.g. an import file) names its path
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: bytes | None = None
        content_type = b""
        chunked = False
        for k, v in scope["headers"]:
            if k == b"content-length":
                length = v
            elif k == b"content-type":
                content_type = v.split(b";", 1)[0].strip().lower()
            elif k == b"transfer-encoding":
                chunked = True
        if length is None and not chunked:  # no body (GET, DELETE…)
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope["path"]) or (
            self.max_upload_bytes if content_type == b"multipart/form-data" else self.max_body_bytes)
        if length is not None and length.isdigit() and int(length) > limit:
            await self._too_large(scope, receive, send, limit)
            return
        if _is_json(content_type):
            await self._json(scope, receive, send, limit)
        else:
            await self._streamed(scope, receive, send, limit)

    async def _json(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(scope, receive, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if json_too_deep(body, self.max_json_depth):
            await self._too_deep(scope, receive, send, body)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        size = 0
        exceeded = False
        app_started = False

        async def counted() -> Message:
            nonlocal size, exceeded
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded(message: Message) -> None:
            nonlocal app_started
            if exceeded and not app_started:  # whatever the app made of the interruption
                return
            if message["type"] == "http.response.start":
                app_started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded or app_started:
                raise
        if exceeded and not app_started:
            await self._too_large(scope, receive, send, limit)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        request = Request(scope)
        i = 0 if language(request) == "es" else 1
        mib = f"{limit / (1024 * 1024):.3g}"
        detail = (f"El cuerpo de la solicitud supera el máximo de {limit} bytes ({mib} MiB); no se guardó nada.",
                  f"The request body is over the limit of {limit} bytes ({mib} MiB); nothing was stored.")[i]
        response = problem_response(request, 413, "body-too-large", TITLES[413][i], detail, max_bytes=limit)
        response.headers["Connection"] = "close"  # the rest of the body is not read
        await response(scope, receive, send)

    async def _too_deep(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        request = Request(scope)
        i = 0 if language(request) == "es" else 1
        n = self.max_json_depth
        message = (f"El JSON está anidado a más de {n} niveles.", f"The JSON is nested more than {n} levels deep.")[i]
        detail = ("1 campo(s) con errores; no se guardó nada.", "1 field(s) with errors; nothing was stored.")[i]
        field = deep_field(body, n)
        pointer = "#/body" if field is None else "#/body/" + field.replace("~", "~0").replace("/", "~1")
        errors: list[dict[str, Any]] = [{"pointer": pointer, "field": field or "body", "message": message,
                                         "code": "json_too_deep", "max_depth": n}]
        response = problem_response(request, 422, "validation", TITLES[422][i], detail, errors)
        await response(scope, receive, send)
