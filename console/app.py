"""The agents' console (issue 14): a frontend on Atiende's public API, not a service on the bus.

    app = create_app("http://127.0.0.1:8001")   # the one origin's base URL

Server-rendered Jinja2 pages with htmx (vendored under static/, no build step), served under
``/console`` (the one origin hands that path to this app: shared/one_origin.py, deploy/Caddyfile).
Every screen is an APIRouter in pages/; every call to Atiende goes through api_client.py with the
user's token. Nothing here imports services/ or shared/: whatever the console lacks, the API lacks."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from console.api_client import Api, ApiError
from console.pages import (
    admin_catalog,
    admin_templates,
    admin_users,
    auth,
    bell,
    case,
    create,
    inbox,
    interactions,
    parties,
    reports,
    self_service,
    tasks,
    work_orders,
)
from console.web import HERE, PREFIX, TOKEN_COOKIE, LoginRequired, is_htmx, lang_of, render


def create_app(api_base_url: str, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The console, calling the API at ``api_base_url`` (``transport``: e.g. an ASGI transport in tests)."""
    api = Api(api_base_url, transport)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await api.aclose()

    app = FastAPI(title="Atiende console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.api = api
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="static")
    # create before case: /cases/new is not a case id.
    for screen in (auth, inbox, create, case, bell, self_service, tasks, work_orders, interactions, parties, admin_users,
                   admin_catalog, admin_templates, reports):
        app.include_router(screen.router, prefix=PREFIX)

    @app.get(PREFIX, include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse(f"{PREFIX}/inbox", status_code=303)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _: LoginRequired) -> Response:
        here = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
        target = f"{PREFIX}/login?next={here}" + ("&notice=session.expired" if request.cookies.get(TOKEN_COOKIE) else "")
        response: Response
        if is_htmx(request):
            response = Response(status_code=204, headers={"HX-Redirect": target})
        else:
            response = RedirectResponse(target, status_code=303)
        response.delete_cookie(TOKEN_COOKIE, path=PREFIX)
        return response

    @app.exception_handler(ApiError)
    async def api_failed(request: Request, e: ApiError) -> Response:
        """A refusal no screen expected (e.g. 404 on a case of another tenant): shown as a page."""
        return render(request, "error.html", lang=lang_of(request), error=e, me=None,
                      status_code=e.status if e.status >= 400 else 502)

    @app.get(f"{PREFIX}/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": "console"}

    return app


def from_env() -> FastAPI:
    """``atiende serve console``: the API's base URL from ``ATIENDE_CONSOLE_API_URL``."""
    return create_app(os.environ.get("ATIENDE_CONSOLE_API_URL", "http://127.0.0.1:8001"))
