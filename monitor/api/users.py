"""Users: ``/api/me`` (your account, your password) and the admins' ``/api/users``."""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request
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
from monitor.domain.errors import AuthError, InvalidValue


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


router = APIRouter(tags=["users"])


@router.get("/api/me")
async def me(user: CurrentUser) -> dict[str, str]:
    """Who is signed in, and with which role."""
    return user.to_dict()


@router.post("/api/me/password")
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


@router.get("/api/users")
async def list_users(request: Request, _admin: Admin) -> list[dict[str, object]]:
    """Every account (admins only; no password hashes)."""
    return [a.to_dict() for a in await accounts_of(request.app).users()]


@router.post("/api/users", status_code=201)
async def add_user(request: Request, body: NewUserBody, admin: Admin
                   ) -> dict[str, object]:
    """Create an account (admins only). 409 when the username is taken."""
    try:
        account = await accounts_of(request.app).add_user(
            body.username, body.role, body.password, admin.username)
    except AuthError as exc:
        raise HTTPException(409, str(exc)) from None
    return account.to_dict()


@router.post("/api/users/{username}/disable")
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
