"""Users: ``/api/me`` (your account, your password) and the admins' ``/api/users``."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from monitor.api.auth import (
    SESSION_COOKIE,
    Admin,
    CurrentUser,
    accounts_of,
    client_address,
    set_session_cookie,
    throttle_of,
    too_many_attempts,
)
from monitor.api.errors import invalid
from monitor.api.openapi import error_answer
from monitor.auth.accounts import PASSWORD_MAX, PASSWORD_MIN, Role
from monitor.domain.errors import AuthError, InvalidValue

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
"""What :func:`~monitor.auth.accounts.normalise_username` takes (stored in lower case)."""
NewPassword = Annotated[str, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX,
                                   pattern=r"\S", description="8 to 1024 characters, "
                                   "not all blank")]


class NewUserBody(BaseModel):
    """An account for a colleague (admins only)."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN, description="case-insensitive")
    role: Role
    password: NewPassword


class PasswordChangeBody(BaseModel):
    """Change your own password."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX)
    new_password: NewPassword


router = APIRouter(tags=["users"])


@router.get("/api/me")
async def me(user: CurrentUser) -> dict[str, str]:
    """Who is signed in, and with which role."""
    return user.to_dict()


@router.post("/api/me/password", responses={
    403: error_answer("the current password is wrong"),
    429: error_answer("too many wrong passwords (with Retry-After): they count as failed "
                      "sign-ins of your name from your address")})
async def change_password(request: Request, body: PasswordChangeBody, user: CurrentUser
                          ) -> Response:
    """Change your own password. Every session of yours ends (other stations too);
    a browser gets a fresh session cookie and stays signed in. Wrong current passwords
    count as failed sign-ins of your name from your address (429 after 5)."""
    accounts = accounts_of(request.app)
    # Guessing the current password is guessing a password: the sign-in throttle counts it.
    throttle, address, now = throttle_of(request.app), client_address(request), time.time()
    wait = throttle.retry_after(address, user.username, now)
    if wait is not None:
        raise too_many_attempts(wait)
    try:
        await accounts.authenticate(user.username, body.current_password)
    except AuthError:
        throttle.failed(address, user.username, now)
        raise HTTPException(403, "the current password is wrong") from None
    throttle.succeeded(address, user.username)
    try:
        await accounts.set_password(user.username, body.new_password, user.username)
    except InvalidValue as exc:
        raise invalid(("body", "new_password"), str(exc)) from None
    response = JSONResponse({"username": user.username, "status": "password changed"})
    if request.cookies.get(SESSION_COOKIE):
        token = await accounts.open_session(user)
        set_session_cookie(request, response, token,
                           request.app.state.service.settings.secure_cookies)
    return response


_ADMINS_ONLY: dict[int | str, dict[str, Any]] = {403: error_answer("needs the admin role")}


@router.get("/api/users", responses=_ADMINS_ONLY)
async def list_users(request: Request, _admin: Admin) -> list[dict[str, object]]:
    """Every account (admins only; no password hashes)."""
    return [a.to_dict() for a in await accounts_of(request.app).users()]


@router.post("/api/users", status_code=201, responses={
    **_ADMINS_ONLY, 409: error_answer("the username is taken")})
async def add_user(request: Request, body: NewUserBody, admin: Admin
                   ) -> dict[str, object]:
    """Create an account (admins only). 409 when the username is taken."""
    try:
        account = await accounts_of(request.app).add_user(
            body.username, body.role, body.password, admin.username)
    except AuthError as exc:
        raise HTTPException(409, str(exc)) from None
    return account.to_dict()


@router.post("/api/users/{username}/disable", responses={
    403: error_answer("needs the admin role, or it is your own account"),
    404: error_answer("no such user")})
async def disable_user(request: Request, username: Annotated[str, Path(pattern=USERNAME_PATTERN)],
                       admin: Admin) -> dict[str, str]:
    """Disable an account: its sessions and tokens stop at once (admins only; not your
    own, 403)."""
    if username.strip().lower() == admin.username:
        raise HTTPException(403, "you cannot disable your own account")
    try:
        await accounts_of(request.app).set_disabled(username, True, admin.username)
    except AuthError as exc:
        raise HTTPException(404, str(exc)) from None
    return {"username": username.strip().lower(), "status": "disabled"}
