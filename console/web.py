"""What every screen shares: the cookies that carry the session, the Jinja2 environment, and
``render`` (a whole page, or only the fragment htmx asked for).

The access token lives in an HttpOnly, SameSite=Lax cookie limited to ``/console``: page scripts
cannot read it, other sites cannot post with it, and the API's own paths never receive it (the
console sends it to the API as a bearer header)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from console import i18n
from console.api_client import Api, Session, Unauthenticated
from console.permissions import may_create

PREFIX = "/console"
TOKEN_COOKIE = "atiende_console_token"
LANG_COOKIE = "atiende_console_lang"
TZ_COOKIE = "atiende_console_tz"
HERE = Path(__file__).parent

env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)


class LoginRequired(Exception):
    """No session, or the API refused its token: the app answers with the log-in page."""


@dataclass(frozen=True)
class Visit:
    """One request of a logged-in user: the API session, who they are and their zone."""

    session: Session
    me: dict[str, Any]
    tz: str | None

    @property
    def lang(self) -> str:
        return self.session.lang


def api_of(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


def lang_of(request: Request) -> str:
    return i18n.language_of(request.cookies.get(LANG_COOKIE) or request.headers.get("accept-language"))


def session_of(request: Request) -> Session:
    token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        raise LoginRequired()
    return Session(token=token, lang=lang_of(request))


async def visit(request: Request) -> Visit:
    """The logged-in user of this request (GET /auth/me also proves the token still works)."""
    s = session_of(request)
    try:
        me = await api_of(request).me(s)
    except Unauthenticated:
        raise LoginRequired() from None
    return Visit(session=s, me=me, tz=request.cookies.get(TZ_COOKIE))


CurrentVisit = Annotated[Visit, Depends(visit)]


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def context(request: Request, lang: str, tz: str | None, **values: Any) -> dict[str, Any]:
    """What every template may use: texts and formatters in the user's language and zone."""
    return {
        "request": request, "prefix": PREFIX, "lang": lang, "tz": tz,
        "t": lambda key, **kw: i18n.text(lang, key, **kw),
        "label": lambda prefix, code: i18n.label(lang, prefix, code),
        "plural": lambda key, n: i18n.plural(lang, key, n),
        "fmt_dt": lambda v: i18n.format_datetime(v, lang, tz),
        "fmt_date": lambda v: i18n.format_date(v, lang, tz),
        "num": lambda n, d=0: i18n.format_number(n, lang, d),
        "hours": lambda s: i18n.hours(s, lang),
        "here": quote(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""), safe="/?=&"),
        **values,
    }


def render(request: Request, template: str, *, lang: str, tz: str | None = None, status_code: int = 200,
           headers: dict[str, str] | None = None, **values: Any) -> HTMLResponse:
    html = env.get_template(template).render(context(request, lang, tz, **values))
    return HTMLResponse(html, status_code=status_code, headers=headers)


def page(request: Request, v: Visit, template: str, **values: Any) -> HTMLResponse:
    """A screen for a logged-in user (its template extends base.html)."""
    return render(request, template, lang=v.lang, tz=v.tz, me=v.me, may_create_nav=may_create(v.me), **values)


def redirect(path: str, request: Request) -> Response:
    """After a form post: htmx follows ``HX-Redirect``; a plain browser a 303."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": path})
    return RedirectResponse(path, status_code=303)


def form_text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
