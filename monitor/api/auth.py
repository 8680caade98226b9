"""Who is signed in: the API's and the live WebSocket's sign-in checks (FastAPI over
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
import math
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request, WebSocket
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers

from monitor.auth.accounts import Accounts, Role, SignInThrottle, User

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


def throttle_of(app: Any) -> SignInThrottle:
    """The app's throttle of password guesses (sign-in and the current password alike)."""
    throttle: SignInThrottle = app.state.sign_in_throttle
    return throttle


def client_address(request: Request) -> str:
    """The address a request came from: the peer, or what a proxy named with
    ``--forwarded-allow-ips`` says (uvicorn applies ``X-Forwarded-For`` only then)."""
    return request.client.host if request.client else "unknown"


def too_many_attempts(wait: float) -> HTTPException:
    """429 with ``Retry-After``: the same answer whether or not the account exists."""
    seconds = max(1, math.ceil(wait))
    return HTTPException(429, f"too many failed attempts: try again in {seconds} s",
                         headers={"Retry-After": str(seconds)})


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


def set_session_cookie(request: Request, response: Response, token: str,
                       always_secure: bool) -> None:
    """Give a browser its session cookie: HttpOnly, SameSite=Strict, Secure over HTTPS."""
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=always_secure or request.url.scheme == "https")


def login_redirect(error: str, next_path: str) -> RedirectResponse:
    """Send a browser to the sign-in page, saying why and where to go afterwards."""
    return RedirectResponse(f"/login?error={error}&next={quote(next_path, safe='')}",
                            status_code=303)
