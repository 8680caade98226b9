"""The pages: sign-in and sign-out, the dashboard behind sign-in, the API docs behind
sign-in (our own page, ``web/apidocs.html``, reading ``/openapi.json``: no script from
elsewhere), and the security headers every response carries, a strict
Content-Security-Policy among them."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.api.auth import (
    SESSION_COOKIE,
    CurrentUser,
    accounts_of,
    client_address,
    login_redirect,
    safe_next,
    same_origin,
    set_session_cookie,
    throttle_of,
    too_many_attempts,
)
from monitor.auth.accounts import SignInThrottle, User
from monitor.config import Settings
from monitor.domain.errors import AuthError

_LOGGER = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@dataclass(slots=True)
class Pages:
    """What the pages need, kept on ``app.state.pages``."""

    web_dir: Path
    secure_cookies: bool


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def install_pages(app: FastAPI, settings: Settings, web_dir: Path) -> None:
    """Add the sign-in page and form, sign-out, the dashboard page behind sign-in, the API
    docs behind sign-in, and the security headers."""
    app.state.pages = Pages(web_dir, settings.secure_cookies)
    app.state.sign_in_throttle = SignInThrottle()
    app.include_router(router)
    app.add_middleware(SecurityHeaders)


@router.get("/login")
async def login_page(request: Request) -> FileResponse:
    """The sign-in form."""
    return FileResponse(_pages(request).web_dir / "login.html",
                        headers={"Cache-Control": "no-store"})


@router.post("/login")
async def login(request: Request) -> Response:
    """Sign in with ``username`` and ``password`` (a form, or JSON for scripts)."""
    wants_json = request.headers.get("content-type", "").startswith("application/json")
    fields: dict[str, Any]
    try:
        fields = dict(await request.json()) if wants_json else dict(await request.form())
    except (ValueError, TypeError):
        return JSONResponse({"detail": "send username and password as a form or JSON "
                             "object"}, status_code=422)
    username, password = fields.get("username"), fields.get("password")
    next_path = safe_next(fields.get("next"))
    if not isinstance(username, str) or not isinstance(password, str):
        if wants_json:
            return JSONResponse({"detail": "username and password are required"},
                                status_code=422)
        return login_redirect("invalid", next_path)
    if not same_origin(request.headers):
        return JSONResponse({"detail": "cross-site sign-in refused"}, status_code=403)
    return await _sign_in(request, username, password, next_path, wants_json)


async def _sign_in(request: Request, username: str, password: str, next_path: str,
                   wants_json: bool) -> Response:
    pages = _pages(request)
    throttle = throttle_of(request.app)
    address = client_address(request)
    now = time.time()
    wait = throttle.retry_after(address, username, now)
    if wait is not None:
        if wants_json:
            raise too_many_attempts(wait)
        return login_redirect("throttled", next_path)
    try:
        user = await accounts_of(request.app).authenticate(username, password)
    except AuthError as exc:
        throttle.failed(address, username, now)
        _LOGGER.info("sign-in refused from %s", address)  # never the name or password
        if (wait := throttle.retry_after(address, username, now)) is not None:
            _LOGGER.warning("too many failed sign-ins (from %s among others): further "
                            "attempts refused for %.0f s", address, wait)
        if wants_json:
            return JSONResponse({"detail": str(exc)}, status_code=401)
        return login_redirect("invalid", next_path)
    throttle.succeeded(address, username)
    token = await accounts_of(request.app).open_session(user)
    _LOGGER.info("%s signed in (%s)", user.username, user.role.value)
    response: Response = (JSONResponse(user.to_dict()) if wants_json
                          else RedirectResponse(next_path, status_code=303))
    set_session_cookie(request, response, token, pages.secure_cookies)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out: the session ends on the server and the cookie is cleared."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and same_origin(request.headers):
        await accounts_of(request.app).close_session(token)
    response: Response = (
        Response(status_code=204)
        if "application/json" in request.headers.get("accept", "")
        else RedirectResponse("/login?error=signed_out", status_code=303))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def _signed_in(request: Request) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    return await accounts_of(request.app).session_user(token) if token else None


@router.get("/")
@router.get("/index.html")
async def dashboard(request: Request) -> Response:
    """The central station, for a signed-in browser (others go to the sign-in page)."""
    if await _signed_in(request) is None:
        reason = "expired" if request.cookies.get(SESSION_COOKIE) else "required"
        return login_redirect(reason, "/")
    return FileResponse(_pages(request).web_dir / "index.html",
                        headers={"Cache-Control": "no-store"})


@router.get("/openapi.json")
async def openapi(request: Request, _user: CurrentUser) -> JSONResponse:
    """The API's description, for a signed-in user."""
    return JSONResponse(request.app.openapi())


@router.get("/docs")
async def docs(request: Request) -> Response:
    """The API's documentation page, for a signed-in browser."""
    if await _signed_in(request) is None:
        return login_redirect("required", "/docs")
    return FileResponse(_pages(request).web_dir / "apidocs.html",
                        headers={"Cache-Control": "no-store"})


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
"""Scripts, styles and connections (the live WebSocket included) only from this server,
nothing inline, no framing: an injected tag can neither run nor send data elsewhere."""

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # No framing (an acknowledge button must not be clickable through another site), no
    # MIME sniffing, no addresses of this server leaked to other sites.
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every HTTP response (errors, static
    files and refusals of the body limits too), unless the response set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
