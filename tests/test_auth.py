"""Users, roles, argon2 passwords, sessions, API tokens and sign-in throttling, on a real
SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.auth.accounts import (
    SESSION_TOUCH_S,
    Accounts,
    Limit,
    Role,
    SignInThrottle,
    User,
    check_password,
    hash_password,
    normalise_username,
    verify_password,
)
from monitor.domain.errors import AuthError
from monitor.storage.database import Store

PASSWORD = "correct horse battery"
IDLE = 3600.0


@pytest.fixture
async def accounts(tmp_path: Path):
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}")
    yield Accounts(store, session_idle_s=IDLE)
    await store.close()


async def dump(accounts: Accounts) -> str:
    """Every row of the account tables and the audit log, as one string."""
    parts = []
    async with accounts.store.engine.connect() as conn:
        for table in ("users", "auth_sessions", "api_tokens", "audit_log"):
            parts += [repr(tuple(r)) for r in await conn.execute(text(f"select * from {table}"))]
    return "\n".join(parts)


# -- passwords, names, roles -----------------------------------------------------------


def test_password_hash_is_salted_argon2id() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("$argon2id$") and PASSWORD not in first
    assert first != second, "each hash has its own salt"
    assert verify_password(first, PASSWORD) and verify_password(second, PASSWORD)
    assert not verify_password(first, PASSWORD + "!")
    assert not verify_password("not a hash", PASSWORD)


@pytest.mark.parametrize(("password", "problem"), [
    ("", "empty"), ("        ", "empty"), ("seven77", "too short"), ("x" * 1025, "too long")])
def test_password_rules(password: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_password(password)


def test_password_of_eight_characters_is_accepted() -> None:
    assert check_password("eight888") == "eight888"


@pytest.mark.parametrize(("given", "stored"), [("Alice", "alice"), (" bob.smith ", "bob.smith"),
                                               ("n@spu", "n@spu"), ("a" * 64, "a" * 64)])
def test_usernames_are_case_insensitive(given: str, stored: str) -> None:
    assert normalise_username(given) == stored


@pytest.mark.parametrize("bad", ["", "-x", "a b", "a/b", "a" * 65, "ünï"])
def test_bad_usernames_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid username"):
        normalise_username(bad)


@pytest.mark.parametrize(("text_", "role"), [
    ("nurse", Role.NURSE), ("charge nurse", Role.CHARGE_NURSE), ("Charge-Nurse", Role.CHARGE_NURSE),
    ("charge_nurse", Role.CHARGE_NURSE), ("ADMIN", Role.ADMIN)])
def test_role_names(text_: str, role: Role) -> None:
    assert Role.parse(text_) is role


def test_unknown_role_lists_the_roles() -> None:
    with pytest.raises(ValueError, match="nurse, charge_nurse, admin"):
        Role.parse("doctor")


def test_roles_are_ordered() -> None:
    nurse, charge, admin = (User(1, "u", r) for r in Role)
    assert nurse.allows(Role.NURSE) and not nurse.allows(Role.CHARGE_NURSE)
    assert charge.allows(Role.CHARGE_NURSE) and not charge.allows(Role.ADMIN)
    assert admin.allows(Role.NURSE) and admin.allows(Role.ADMIN)


# -- accounts -------------------------------------------------------------------------


async def test_add_user_and_sign_in(accounts: Accounts) -> None:
    account = await accounts.add_user("Ada", "nurse", PASSWORD, "cli")
    assert (account.username, account.role, account.disabled) == ("ada", Role.NURSE, False)
    user = await accounts.authenticate("ADA", PASSWORD)
    assert (user.username, user.role) == ("ada", Role.NURSE)
    assert [a.username for a in await accounts.users()] == ["ada"]


async def test_no_password_or_token_is_stored_in_clear(accounts: Accounts) -> None:
    await accounts.add_user("ada", "nurse", PASSWORD, "cli")
    user = await accounts.authenticate("ada", PASSWORD)
    session = await accounts.open_session(user)
    token = await accounts.issue_token("ada", "pager", "cli")
    everything = await dump(accounts)
    assert "$argon2id$" in everything
    for secret in (PASSWORD, session, token, token.removeprefix("spu_")):
        assert secret not in everything


async def test_duplicate_username_is_refused(accounts: Accounts) -> None:
    await accounts.add_user("ada", "nurse", PASSWORD, "cli")
    with pytest.raises(AuthError, match="already exists"):
        await accounts.add_user("ADA", "admin", PASSWORD, "cli")


@pytest.mark.parametrize(("username", "password"), [
    ("ada", "wrong password"), ("nobody", PASSWORD), ("", PASSWORD), ("a b", PASSWORD)])
async def test_failed_sign_in_says_the_same_for_every_cause(accounts: Accounts, username: str,
                                                             password: str) -> None:
    await accounts.add_user("ada", "nurse", PASSWORD, "cli")
    with pytest.raises(AuthError, match="^wrong username or password$"):
        await accounts.authenticate(username, password)


async def test_disabled_user_cannot_sign_in_and_loses_sessions_and_tokens(
        accounts: Accounts) -> None:
    await accounts.add_user("ada", "nurse", PASSWORD, "cli")
    user = await accounts.authenticate("ada", PASSWORD)
    session = await accounts.open_session(user)
    token = await accounts.issue_token("ada", "pager", "cli")
    await accounts.set_disabled("ada", True, "cli")
    with pytest.raises(AuthError):
        await accounts.authenticate("ada", PASSWORD)
    assert await accounts.session_user(session) is None
    assert await accounts.token_user(token) is None
    await accounts.set_disabled("ada", False, "cli")
    assert await accounts.authenticate("ada", PASSWORD)
    assert await accounts.token_user(token) is not None, "tokens work again once enabled"
    assert await accounts.session_user(session) is None, "ended sessions stay ended"


async def test_password_change_ends_sessions(accounts: Accounts) -> None:
    await accounts.add_user("ada", "nurse", PASSWORD, "cli")
    session = await accounts.open_session(await accounts.authenticate("ada", PASSWORD))
    await accounts.set_password("ada", "a new long password", "cli")
    assert await accounts.session_user(session) is None
    with pytest.raises(AuthError):
        await accounts.authenticate("ada", PASSWORD)
    assert await accounts.authenticate("ada", "a new long password")


async def test_unknown_user_changes_are_errors(accounts: Accounts) -> None:
    for change in (accounts.set_password("zed", PASSWORD, "cli"),
                   accounts.set_disabled("zed", True, "cli"),
                   accounts.issue_token("zed", "x", "cli")):
        with pytest.raises(AuthError, match="no user 'zed'"):
            await change


async def test_account_changes_are_audited(accounts: Accounts) -> None:
    await accounts.add_user("ada", "nurse", PASSWORD, "cli")
    session = await accounts.open_session(await accounts.authenticate("ada", PASSWORD))
    await accounts.close_session(session)
    await accounts.issue_token("ada", "pager", "cli")
    async with accounts.store.engine.connect() as conn:
        rows = [tuple(r) for r in await conn.execute(
            text("select user, action from audit_log order by id"))]
    assert rows == [("cli", "user_added"), ("ada", "sign_in"), ("ada", "sign_out"),
                    ("cli", "token_issued")]


# -- sessions ------------------------------------------------------------------------


async def test_session_ends_after_idle_time_and_use_extends_it(accounts: Accounts) -> None:
    await accounts.add_user("ada", "nurse", PASSWORD, "cli")
    user = await accounts.authenticate("ada", PASSWORD)
    t0 = 1_000_000.0
    kept = await accounts.open_session(user, now=t0)
    idle = await accounts.open_session(user, now=t0)
    # Used just before it would end: the idle time starts again from that use.
    assert await accounts.session_user(kept, now=t0 + IDLE - 1) == user
    assert await accounts.session_user(kept, now=t0 + IDLE + 100) == user
    assert await accounts.session_user(idle, now=t0 + IDLE - 1) == user
    assert await accounts.session_user(idle, now=t0 + IDLE - 1 + IDLE) is None
    # Not used for an idle period since its last use: over.
    assert await accounts.session_user(kept, now=t0 + IDLE + 100 + IDLE) is None


async def test_session_use_is_written_at_most_once_a_minute(accounts: Accounts) -> None:
    await accounts.add_user("ada", "nurse", PASSWORD, "cli")
    t0 = 1_000_000.0
    session = await accounts.open_session(await accounts.authenticate("ada", PASSWORD), now=t0)
    await accounts.session_user(session, now=t0 + SESSION_TOUCH_S / 2)
    # Not moved on by a use within the minute: still ends IDLE after t0.
    assert await accounts.session_user(session, now=t0 + IDLE + 1) is None


async def test_sign_out_ends_the_session(accounts: Accounts) -> None:
    await accounts.add_user("ada", "nurse", PASSWORD, "cli")
    session = await accounts.open_session(await accounts.authenticate("ada", PASSWORD))
    await accounts.close_session(session)
    assert await accounts.session_user(session) is None
    await accounts.close_session("never issued")  # no error
    assert await accounts.session_user("never issued") is None


# -- API tokens ------------------------------------------------------------------------


async def test_api_token_acts_as_its_user_until_revoked(accounts: Accounts) -> None:
    await accounts.add_user("pager", "nurse", PASSWORD, "cli")
    first = await accounts.issue_token("pager", "gateway", "cli")
    second = await accounts.issue_token("pager", "other", "cli")
    assert first.startswith("spu_") and first != second
    user = await accounts.token_user(first)
    assert user is not None and user.username == "pager"
    assert await accounts.token_user(first[:-1] + "x") is None
    assert await accounts.token_user(first.removeprefix("spu_")) is None
    assert await accounts.revoke_tokens("pager", "gateway", "cli") == 1
    assert await accounts.token_user(first) is None
    assert await accounts.token_user(second) is not None


async def test_api_token_expires(accounts: Accounts) -> None:
    import time

    await accounts.add_user("pager", "nurse", PASSWORD, "cli")
    token = await accounts.issue_token("pager", "gateway", "cli", days=1)
    assert await accounts.token_user(token, now=time.time() + 86400 - 60) is not None
    assert await accounts.token_user(token, now=time.time() + 86400 + 60) is None


@pytest.mark.parametrize(("name", "days"), [("", None), ("x" * 65, None), ("ok", 0), ("ok", -1)])
async def test_bad_token_requests(accounts: Accounts, name: str, days: float | None) -> None:
    await accounts.add_user("pager", "nurse", PASSWORD, "cli")
    with pytest.raises(ValueError):
        await accounts.issue_token("pager", name, "cli", days)


# -- throttling ------------------------------------------------------------------------


def test_throttle_after_five_failures_per_address_and_name() -> None:
    throttle = SignInThrottle(limit=5, window_s=300)
    for i in range(4):
        throttle.failed("10.0.0.9", "ada", 100.0 + i)
    assert throttle.retry_after("10.0.0.9", "ada", 104.0) is None
    throttle.failed("10.0.0.9", "ADA", 104.0)
    assert throttle.retry_after("10.0.0.9", "ada", 105.0) == pytest.approx(295.0)
    # Another station, or another name, is not locked out by someone guessing.
    assert throttle.retry_after("10.0.0.8", "ada", 105.0) is None
    assert throttle.retry_after("10.0.0.9", "bob", 105.0) is None
    # The window slides: the first failure leaves it at 400 s.
    assert throttle.retry_after("10.0.0.9", "ada", 400.0) is None
    throttle.failed("10.0.0.9", "ada", 400.0)
    assert throttle.retry_after("10.0.0.9", "ada", 400.5) == pytest.approx(0.5)


def test_throttle_forgets_after_success() -> None:
    throttle = SignInThrottle(limit=2, window_s=300)
    throttle.failed("a", "ada", 1.0)
    throttle.failed("a", "ada", 2.0)
    assert throttle.retry_after("a", "ada", 3.0) is not None
    throttle.succeeded("a", "ada")
    assert throttle.retry_after("a", "ada", 3.0) is None


def test_throttle_per_name_from_anywhere() -> None:
    throttle = SignInThrottle(limit=5, window_s=300, name_limit=Limit(20, 900))
    for i in range(19):
        throttle.failed(f"10.0.0.{i}", "ada", 100.0 + i)
    assert throttle.retry_after("10.0.9.9", "ada", 120.0) is None
    throttle.failed("10.0.0.99", "Ada", 120.0)
    # Throttled from every address, until the first failure leaves the window.
    assert throttle.retry_after("10.0.9.9", "ada", 121.0) == pytest.approx(879.0)
    assert throttle.retry_after("10.0.9.9", "bob", 121.0) is None
    assert throttle.retry_after("10.0.9.9", "ada", 1000.5) is None


def test_throttle_per_address_over_any_names() -> None:
    throttle = SignInThrottle(address_limit=Limit(50, 900))
    for i in range(50):
        throttle.failed("10.0.0.9", f"name{i}", 100.0)
    assert throttle.retry_after("10.0.0.9", "somebody.new", 101.0) == pytest.approx(899.0)
    assert throttle.retry_after("10.0.0.8", "somebody.new", 101.0) is None


def test_throttle_memory_is_bounded() -> None:
    throttle = SignInThrottle(max_keys=100)
    for i in range(1000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}", "x" * 10_000 + str(i), float(i))
    assert all(len(c._times) <= 100 for c in (throttle._pair, throttle._name,
                                              throttle._address))
    assert all(len(k) <= 128 for k in throttle._name._times)
