"""Sign-in for the HTTP API, the live WebSocket and the dashboard (FastAPI over
:mod:`monitor.auth.accounts`).

- Browsers sign in through the form at ``/login`` and carry the session in the
  ``spu_session`` cookie: HttpOnly (scripts cannot read it), SameSite=Strict (other sites
  cannot ride on it), Secure over HTTPS. Changes made with the cookie must also come from
  the dashboard's own origin.
- Integrations send ``Authorization: Bearer spu_...`` (``spu-monitor users token``).
- Every ``/api`` route and ``/ws/live`` need one of the two; ``/healthz`` does not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, WebSocket
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers

from monitor.auth.accounts import Accounts, Role, SignInThrottle, User
from monitor.config import Settings
from monitor.domain.errors import AuthError

_LOGGER = logging.getLogger(__name__)

SESSION_COOKIE = "spu_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WS_SIGNED_OUT = 4401
"""Close code of a live stream whose session ended (the dashboard then asks to sign in)."""

_bearer = HTTPBearer(auto_error=False, scheme_name="API token",
                     description="`Authorization: Bearer spu_...` from `spu-monitor users token`")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="Browser session",
                       description="set by signing in at /login")


def accounts_of(app: Any) -> Accounts:
    """The app's accounts (opened in the lifespan)."""
    accounts: Accounts = app.state.accounts
    return accounts


def same_origin(headers: Headers) -> bool:
    """Whether a request comes from a page of this server (or from no page at all).

    Browsers send ``Origin`` on cross-origin requests, POSTs and WebSocket handshakes, and
    ``Sec-Fetch-Site`` on all requests; tools like curl send neither.
    """
    origin = headers.get("origin")
    if origin is None:
        return headers.get("sec-fetch-site") in (None, "same-origin", "none")
    return urlsplit(origin).netloc == headers.get("host")


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="spu-monitor"'})


async def current_user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> User:
    """The signed-in user of a request, or 401 (403 for a cross-site change)."""
    accounts = accounts_of(request.app)
    if bearer is not None:
        user = await accounts.token_user(bearer.credentials)
        if user is None:
            raise _unauthorised("invalid, expired or revoked API token")
        return user
    if cookie:
        user = await accounts.session_user(cookie)
        if user is None:
            raise _unauthorised("your session has ended: sign in again")
        if request.method not in SAFE_METHODS and not same_origin(request.headers):
            raise HTTPException(403, "cross-site request refused")
        return user
    raise _unauthorised("sign-in required")


CurrentUser = Annotated[User, Depends(current_user)]


def requires(needed: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets through users whose role includes ``needed`` (else 403)."""

    async def check(user: CurrentUser) -> User:
        if not user.allows(needed):
            raise HTTPException(403, f"not allowed: needs the {needed.value} role or above "
                                f"(you are {user.role.value})")
        return user

    return check


ChargeNurse = Annotated[User, Depends(requires(Role.CHARGE_NURSE))]
Admin = Annotated[User, Depends(requires(Role.ADMIN))]


class LiveAuth:
    """The identity behind a live WebSocket, re-checked while the stream runs so that a
    sign-out, a disabled user or a revoked token also ends an open stream."""

    RECHECK_S = 60.0

    def __init__(self, accounts: Accounts, user: User, token: str, bearer: bool) -> None:
        self.accounts = accounts
        self.user = user
        self._token = token
        self._bearer = bearer
        self._checked = time.monotonic()

    async def still_valid(self) -> bool:
        """False once the session or token stopped working (checked once a minute)."""
        if time.monotonic() - self._checked < self.RECHECK_S:
            return True
        self._checked = time.monotonic()
        lookup = self.accounts.token_user if self._bearer else self.accounts.session_user
        return await lookup(self._token) is not None


async def websocket_auth(websocket: WebSocket) -> LiveAuth | None:
    """Authenticate a WebSocket handshake; on failure refuse it (HTTP 401, or 403 where
    the server cannot send a body) and return None."""
    accounts = accounts_of(websocket.app)
    header = websocket.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    user: User | None = None
    live: LiveAuth | None = None
    if scheme.lower() == "bearer" and credentials.strip():
        token = credentials.strip()
        user = await accounts.token_user(token)
        if user is not None:
            live = LiveAuth(accounts, user, token, bearer=True)
    elif (cookie := websocket.cookies.get(SESSION_COOKIE)) and same_origin(websocket.headers):
        user = await accounts.session_user(cookie)
        if user is not None:
            live = LiveAuth(accounts, user, cookie, bearer=False)
    if live is not None:
        return live
    refusal = JSONResponse({"detail": "sign-in required"}, status_code=401)
    try:
        await websocket.send_denial_response(refusal)
    except RuntimeError:  # the server lacks the denial-response extension
        await websocket.close(code=1008)
    return None


def safe_next(value: object) -> str:
    """Where to go after signing in: a path on this server, never another site."""
    text = value if isinstance(value, str) else ""
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return "/"
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return "/"
    return text


def _set_session_cookie(request: Request, response: Response, token: str,
                        always_secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=always_secure or request.url.scheme == "https")


def _login_redirect(error: str, next_path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?error={error}&next={quote(next_path, safe='')}",
                            status_code=303)


class NewUserBody(BaseModel):
    """An account for a colleague (admins only)."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    role: str = Field(description="nurse, charge_nurse or admin")
    password: str = Field(min_length=1, max_length=1024)


class PasswordChangeBody(BaseModel):
    """Change your own password."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


def router() -> APIRouter:
    """``/api/me`` and the admins' ``/api/users`` (included under the sign-in dependency)."""
    api = APIRouter(tags=["users"])

    @api.get("/api/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        """Who is signed in, and with which role."""
        return user.to_dict()

    @api.post("/api/me/password")
    async def change_password(request: Request, body: PasswordChangeBody, user: CurrentUser
                              ) -> Response:
        """Change your own password. Every session of yours ends (other stations too);
        a browser gets a fresh session cookie and stays signed in."""
        accounts = accounts_of(request.app)
        try:
            await accounts.authenticate(user.username, body.current_password)
        except AuthError:
            raise HTTPException(403, "the current password is wrong") from None
        await accounts.set_password(user.username, body.new_password, user.username)
        response = JSONResponse({"username": user.username, "status": "password changed"})
        if request.cookies.get(SESSION_COOKIE):
            token = await accounts.open_session(user)
            _set_session_cookie(request, response, token,
                                request.app.state.service.settings.secure_cookies)
        return response

    @api.get("/api/users")
    async def list_users(request: Request, _admin: Admin) -> list[dict[str, object]]:
        """Every account (admins only; no password hashes)."""
        return [a.to_dict() for a in await accounts_of(request.app).users()]

    @api.post("/api/users", status_code=201)
    async def add_user(request: Request, body: NewUserBody, admin: Admin
                       ) -> dict[str, object]:
        """Create an account (admins only). 409 when the username is taken."""
        try:
            account = await accounts_of(request.app).add_user(
                body.username, body.role, body.password, admin.username)
        except AuthError as exc:
            raise HTTPException(409, str(exc)) from None
        return account.to_dict()

    @api.post("/api/users/{username}/disable")
    async def disable_user(request: Request, username: str, admin: Admin
                           ) -> dict[str, str]:
        """Disable an account: its sessions and tokens stop at once (admins only)."""
        if username.strip().lower() == admin.username:
            raise HTTPException(422, "you cannot disable your own account")
        try:
            await accounts_of(request.app).set_disabled(username, True, admin.username)
        except AuthError as exc:
            raise HTTPException(404, str(exc)) from None
        return {"username": username.strip().lower(), "status": "disabled"}

    return api


def install_pages(app: FastAPI, settings: Settings, web_dir: Path) -> None:
    """The sign-in page and form, sign-out, the dashboard page behind sign-in, and the API
    docs behind sign-in."""
    throttle = SignInThrottle()

    def set_cookie(request: Request, response: Response, token: str) -> None:
        _set_session_cookie(request, response, token, settings.secure_cookies)

    @app.get("/login", include_in_schema=False)
    async def login_page() -> FileResponse:
        return FileResponse(web_dir / "login.html", headers={"Cache-Control": "no-store"})

    @app.post("/login", include_in_schema=False)
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
            return _login_redirect("invalid", next_path)
        if not same_origin(request.headers):
            return JSONResponse({"detail": "cross-site sign-in refused"}, status_code=403)
        address = request.client.host if request.client else "unknown"
        now = time.time()
        wait = throttle.retry_after(address, username, now)
        if wait is not None:
            if wants_json:
                return JSONResponse({"detail": f"too many failed sign-ins: try again in "
                                     f"{wait:.0f} s"}, status_code=429,
                                    headers={"Retry-After": str(int(wait) + 1)})
            return _login_redirect("throttled", next_path)
        try:
            user = await accounts_of(request.app).authenticate(username, password)
        except AuthError as exc:
            throttle.failed(address, username, now)
            _LOGGER.info("sign-in refused from %s", address)  # never the name or password
            if wants_json:
                return JSONResponse({"detail": str(exc)}, status_code=401)
            return _login_redirect("invalid", next_path)
        throttle.succeeded(address, username)
        token = await accounts_of(request.app).open_session(user)
        _LOGGER.info("%s signed in (%s)", user.username, user.role.value)
        response: Response = (JSONResponse(user.to_dict()) if wants_json
                              else RedirectResponse(next_path, status_code=303))
        set_cookie(request, response, token)
        return response

    @app.post("/logout", include_in_schema=False)
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

    async def signed_in(request: Request) -> User | None:
        token = request.cookies.get(SESSION_COOKIE)
        return await accounts_of(request.app).session_user(token) if token else None

    @app.get("/", include_in_schema=False)
    @app.get("/index.html", include_in_schema=False)
    async def dashboard(request: Request) -> Response:
        if await signed_in(request) is None:
            reason = "expired" if request.cookies.get(SESSION_COOKIE) else "required"
            return _login_redirect(reason, "/")
        return FileResponse(web_dir / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(_user: CurrentUser) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> Response:
        if await signed_in(request) is None:
            return _login_redirect("required", "/docs")
        return get_swagger_ui_html(openapi_url="/openapi.json", title="SPU Monitor API")

    @app.middleware("http")
    async def security_headers(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]
                               ) -> Response:
        response = await call_next(request)
        # No framing (an acknowledge button must not be clickable through another site),
        # no MIME sniffing, no addresses of this server leaked to other sites.
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


__all__ = ["SESSION_COOKIE", "WS_SIGNED_OUT", "Admin", "ChargeNurse", "CurrentUser",
           "LiveAuth", "current_user", "install_pages", "router", "same_origin",
           "websocket_auth"]
