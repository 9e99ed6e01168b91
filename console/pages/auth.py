"""Log in (tenant, e-mail, password), log out, set a password from the e-mailed link (R4.1), and
switch the language."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console import i18n
from console.api_client import ApiError, Session
from console.web import LANG_COOKIE, PREFIX, TOKEN_COOKIE, TZ_COOKIE, api_of, form_text, lang_of, render, session_of

router = APIRouter()
YEAR = 365 * 24 * 3600


def _cookie(response: Response, request: Request, name: str, value: str, *, http_only: bool = True,
            max_age: int | None = None) -> None:
    response.set_cookie(name, value, path=PREFIX, httponly=http_only, samesite="lax", max_age=max_age,
                        secure=request.url.scheme == "https")


def _safe_next(target: str | None) -> str:
    """Only a path of the console (never another site) after logging in."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//"):
        return target
    return f"{PREFIX}/inbox"


@router.get("/")
async def home() -> Response:
    return RedirectResponse(f"{PREFIX}/inbox", status_code=303)


@router.get("/login")
async def login_form(request: Request, next: str | None = None, notice: str | None = None) -> Response:
    lang = lang_of(request)
    return render(request, "auth/login.html", lang=lang, next=_safe_next(next), values={},
                  notice=notice if notice in i18n.TEXTS else None, error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    lang = lang_of(request)
    values = {k: form_text(form, k) for k in ("tenant", "email")}
    target = _safe_next(form_text(form, "next"))
    api = api_of(request)
    try:
        token = await api.log_in(values["tenant"], values["email"], form_text(form, "password"), lang)
        s = Session(token=token, lang=lang)
        me = await api.me(s)
        tenant = await api.tenant(s)
        user = await api.user(s, me["user_id"]) if me.get("user_id") else {}
    except ApiError as e:
        return render(request, "auth/login.html", lang=lang, next=target, values=values, error=e, notice=None,
                      status_code=200)
    # The user's own language, else the tenant's; dates in the tenant's zone.
    user_lang = i18n.language_of(user.get("language") or tenant.get("language") or lang)
    response = RedirectResponse(target, status_code=303)
    _cookie(response, request, TOKEN_COOKIE, token)
    _cookie(response, request, LANG_COOKIE, user_lang, http_only=False, max_age=YEAR)
    _cookie(response, request, TZ_COOKIE, str(tenant.get("timezone") or ""), http_only=False)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    try:
        await api_of(request).log_out(session_of(request))
    except Exception:  # no session: logged out already
        pass
    response = RedirectResponse(f"{PREFIX}/login?notice=logged_out", status_code=303)
    response.delete_cookie(TOKEN_COOKIE, path=PREFIX)
    return response


@router.post("/language")
async def language(request: Request) -> Response:
    form = await request.form()
    response = RedirectResponse(_safe_next(form_text(form, "next")), status_code=303)
    _cookie(response, request, LANG_COOKIE, i18n.language_of(form_text(form, "lang")), http_only=False, max_age=YEAR)
    return response


@router.get("/password-setup")
async def password_setup_form(request: Request, token: str | None = None) -> Response:
    return render(request, "auth/password_setup.html", lang=lang_of(request), token=token or "", error=None, done=False)


@router.post("/password-setup")
async def password_setup(request: Request) -> Response:
    form = await request.form()
    lang = lang_of(request)
    token = form_text(form, "token")
    try:
        await api_of(request).set_password(token, form_text(form, "password"), lang)
    except ApiError as e:
        return render(request, "auth/password_setup.html", lang=lang, token=token, error=e, done=False)
    return render(request, "auth/password_setup.html", lang=lang, token="", error=None, done=True)
