"""Users, roles, passwords, browser sessions and API tokens.

- Passwords are hashed with argon2id (``argon2-cffi``, RFC 9106 defaults) and never stored
  or logged in clear. There is no default account: the first one is made with
  ``spu-monitor users add``.
- A browser signs in once and gets a random session token in an HttpOnly cookie; an
  integration presents an API token as ``Authorization: Bearer``. Both are 256-bit random
  values handed out once; the database keeps only their SHA-256, so a copy of the
  database signs nobody in.
- Sessions end after a period without use (12 h by default: a shift), on sign-out, when the
  password changes or when the user is disabled.

Roles are ordered: ``nurse`` < ``charge_nurse`` < ``admin``; a role may do everything the
roles below it may (see docs/security.md for the table).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time as _time
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from monitor.domain.errors import AccessDenied, AuthError, InvalidValue
from monitor.records import audit
from monitor.storage.database import Store
from monitor.storage.tables import ApiTokenRow, AuthSessionRow, UserRow


class Role(StrEnum):
    """What a signed-in user may do; each role includes the ones before it."""

    NURSE = "nurse"
    CHARGE_NURSE = "charge_nurse"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Position in the order nurse < charge_nurse < admin."""
        return list(Role).index(self)

    @classmethod
    def parse(cls, text: str) -> Role:
        """``"charge nurse"``, ``"charge-nurse"`` and ``"charge_nurse"`` are the same role.

        Raises:
            InvalidValue: not a role; the message lists the roles.
        """
        key = re.sub(r"[\s-]+", "_", text.strip().lower())
        try:
            return cls(key)
        except ValueError:
            raise InvalidValue(f"unknown role {text!r}: use one of "
                               f"{', '.join(r.value for r in cls)}", field="role") from None


@dataclass(frozen=True, slots=True)
class User:
    """A signed-in user as the API sees it."""

    id: int
    username: str
    role: Role

    def allows(self, needed: Role) -> bool:
        """Whether this user's role includes ``needed``."""
        return self.role.rank >= needed.rank

    def require(self, needed: Role) -> None:
        """Raise :class:`AccessDenied` unless the role includes ``needed``."""
        if not self.allows(needed):
            raise AccessDenied(f"needs the {needed.value} role or above "
                               f"({self.username} is {self.role.value})")

    def to_dict(self) -> dict[str, str]:
        """JSON form (no secrets)."""
        return {"username": self.username, "role": self.role.value}


@dataclass(frozen=True, slots=True)
class Account:
    """A user as the administrator sees it."""

    username: str
    role: Role
    created_at: float
    created_by: str
    disabled: bool

    def to_dict(self) -> dict[str, object]:
        """JSON form (no secrets)."""
        return {"username": self.username, "role": self.role.value,
                "created_at": self.created_at, "created_by": self.created_by,
                "disabled": self.disabled}


USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
PASSWORD_MIN = 8
"""NIST SP 800-63B's minimum for a memorised secret chosen by the user."""
PASSWORD_MAX = 1024
SESSION_IDLE_S = 12 * 3600.0
SESSION_TOUCH_S = 60.0
"""A session's last use is written at most this often (not on every request)."""

_HASHER = PasswordHasher()
# Verified against when the username is unknown, so that answer takes as long as a
# wrong password and does not tell which usernames exist.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


def normalise_username(username: str) -> str:
    """Usernames are case-insensitive: stored and compared in lower case.

    Raises:
        InvalidValue: empty, too long, or with characters other than letters, digits and
            ``. _ @ -``.
    """
    name = username.strip().lower()
    if not USERNAME_RE.fullmatch(name):
        raise InvalidValue(f"invalid username {username!r}: 1 to 64 letters, digits or "
                           ". _ @ -, starting with a letter or digit", field="username")
    return name


def check_password(password: str) -> str:
    """Return ``password`` if it may be used.

    Raises:
        InvalidValue: shorter than 8 characters, longer than 1024, or blank.
    """
    if not password.strip():
        raise InvalidValue("the password is empty", field="password")
    if len(password) < PASSWORD_MIN:
        raise InvalidValue(f"the password is too short: at least {PASSWORD_MIN} characters",
                           field="password")
    if len(password) > PASSWORD_MAX:
        raise InvalidValue(f"the password is too long: at most {PASSWORD_MAX} characters",
                           field="password")
    return password


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; verify with :func:`verify_password`)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; False for a malformed hash."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


API_TOKEN_PREFIX = "spu_"


class Accounts:
    """Users, sessions and tokens in the store.

    Args:
        store: an open store (migrated).
        session_idle_s: a browser session ends after this long without use.
    """

    def __init__(self, store: Store, session_idle_s: float = SESSION_IDLE_S) -> None:
        self.store = store
        self.session_idle_s = session_idle_s

    # -- users ------------------------------------------------------------------------

    async def add_user(self, username: str, role: Role | str, password: str,
                       created_by: str, now: float | None = None) -> Account:
        """Create a user.

        Raises:
            ValueError: bad username, role or password.
            AuthError: the username is taken.
        """
        name = normalise_username(username)
        role = role if isinstance(role, Role) else Role.parse(role)
        check_password(password)
        password_hash = await asyncio.to_thread(hash_password, password)
        now = _time.time() if now is None else now
        row = UserRow(username=name, role=role.value, password_hash=password_hash,
                      created_at=now, created_by=created_by, password_changed_at=now)
        try:
            async with self.store.session() as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise AuthError(f"user {name!r} already exists") from None
        await audit.audit(self.store, now, created_by, "user_added", None,
                          username=name, role=role.value)
        return _account(row)

    async def users(self) -> list[Account]:
        """Every user, by name."""
        async with self.store.session() as session:
            rows = (await session.execute(select(UserRow).order_by(UserRow.username))
                    ).scalars().all()
        return [_account(r) for r in rows]

    async def set_password(self, username: str, password: str, by: str) -> None:
        """Change a password; the user's browser sessions end.

        Raises:
            ValueError: the password may not be used.
            AuthError: no such user.
        """
        check_password(password)
        password_hash = await asyncio.to_thread(hash_password, password)
        now = _time.time()
        row = await self._user_row(username)
        async with self.store.session() as session, session.begin():
            await session.execute(update(UserRow).where(UserRow.id == row.id).values(
                password_hash=password_hash, password_changed_at=now))
            await session.execute(update(AuthSessionRow).where(
                AuthSessionRow.user_id == row.id, AuthSessionRow.revoked_at.is_(None)
            ).values(revoked_at=now))
        await audit.audit(self.store, now, by, "password_changed", None,
                          username=row.username)

    async def set_disabled(self, username: str, disabled: bool, by: str) -> None:
        """Disable a user (sessions and tokens stop working at once) or enable them again.

        Raises:
            AuthError: no such user.
        """
        now = _time.time()
        row = await self._user_row(username)
        async with self.store.session() as session, session.begin():
            await session.execute(update(UserRow).where(UserRow.id == row.id).values(
                disabled_at=now if disabled else None))
            if disabled:
                await session.execute(update(AuthSessionRow).where(
                    AuthSessionRow.user_id == row.id, AuthSessionRow.revoked_at.is_(None)
                ).values(revoked_at=now))
        await audit.audit(self.store, now, by, "user_disabled" if disabled else "user_enabled",
                          None, username=row.username)

    async def authenticate(self, username: str, password: str, where: str = "") -> User:
        """The user with this username and password. A failure is audited (the name tried,
        and ``where`` it came from: an address, a route), never the password.

        Raises:
            AuthError: unknown user, wrong password or disabled account (one message for
                all three, so the answer does not reveal which usernames exist).
        """
        try:
            name = normalise_username(username)
        except ValueError:
            name = ""
        row = await self._find(name) if name else None
        stored = row.password_hash if row is not None else _DUMMY_HASH
        ok = await asyncio.to_thread(verify_password, stored, password)
        if row is None or not ok or row.disabled_at is not None:
            why = "unknown user" if row is None else ("disabled" if ok else "wrong password")
            await audit.audit(self.store, _time.time(), name or "?", "sign_in_failed", None,
                              tried=username[:64], why=why, where=where[:64])
            raise AuthError("wrong username or password")
        if _HASHER.check_needs_rehash(row.password_hash):
            # The hashing parameters were raised since: upgrade the stored hash.
            new_hash = await asyncio.to_thread(hash_password, password)
            async with self.store.session() as session, session.begin():
                await session.execute(update(UserRow).where(UserRow.id == row.id).values(
                    password_hash=new_hash))
        return _user(row)

    # -- browser sessions -------------------------------------------------------------

    async def open_session(self, user: User, now: float | None = None) -> str:
        """Start a browser session for ``user``; returns the token for the cookie."""
        now = _time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        async with self.store.session() as session, session.begin():
            session.add(AuthSessionRow(token_hash=_digest(token), user_id=user.id,
                                       created_at=now, last_seen_at=now,
                                       expires_at=now + self.session_idle_s))
        await audit.audit(self.store, now, user.username, "sign_in", None)
        return token

    async def session_user(self, token: str, now: float | None = None) -> User | None:
        """The user of a live session, or None (unknown, expired, revoked, disabled).
        Using a session moves its expiry on."""
        now = _time.time() if now is None else now
        q = (select(AuthSessionRow, UserRow).join(UserRow, UserRow.id == AuthSessionRow.user_id)
             .where(AuthSessionRow.token_hash == _digest(token)))
        async with self.store.session() as session:
            found = (await session.execute(q)).first()
        if found is None:
            return None
        row, user = found
        if row.revoked_at is not None or row.expires_at <= now or user.disabled_at is not None:
            return None
        if now - row.last_seen_at >= SESSION_TOUCH_S:
            async with self.store.session() as session, session.begin():
                await session.execute(update(AuthSessionRow).where(
                    AuthSessionRow.token_hash == row.token_hash).values(
                    last_seen_at=now, expires_at=now + self.session_idle_s))
        return _user(user)

    async def close_session(self, token: str, now: float | None = None) -> None:
        """Sign out: the session stops working (unknown tokens are ignored)."""
        now = _time.time() if now is None else now
        user = await self.session_user(token, now)
        async with self.store.session() as session, session.begin():
            await session.execute(update(AuthSessionRow).where(
                AuthSessionRow.token_hash == _digest(token),
                AuthSessionRow.revoked_at.is_(None)).values(revoked_at=now))
        if user is not None:
            await audit.audit(self.store, now, user.username, "sign_out", None)

    # -- API tokens -------------------------------------------------------------------

    async def issue_token(self, username: str, name: str, by: str,
                          days: float | None = None) -> str:
        """A new API token acting as ``username``; shown once, stored as a digest.

        Raises:
            AuthError: no such user.
            InvalidValue: bad name or lifetime.
        """
        if not 1 <= len(name.strip()) <= 64:
            raise InvalidValue("a token needs a name of 1 to 64 characters (what uses it)",
                               field="name")
        if days is not None and days <= 0:
            raise InvalidValue("--days must be positive", field="days")
        row = await self._user_row(username)
        now = _time.time()
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self.store.session() as session, session.begin():
            session.add(ApiTokenRow(user_id=row.id, name=name.strip(),
                                    token_hash=_digest(token), created_at=now, created_by=by,
                                    expires_at=None if days is None else now + days * 86400))
        await audit.audit(self.store, now, by, "token_issued", None,
                               username=row.username, name=name.strip())
        return token

    async def token_user(self, token: str, now: float | None = None) -> User | None:
        """The user an API token acts as, or None (unknown, expired, revoked, disabled)."""
        if not token.startswith(API_TOKEN_PREFIX):
            return None
        now = _time.time() if now is None else now
        q = (select(ApiTokenRow, UserRow).join(UserRow, UserRow.id == ApiTokenRow.user_id)
             .where(ApiTokenRow.token_hash == _digest(token)))
        async with self.store.session() as session:
            found = (await session.execute(q)).first()
        if found is None:
            return None
        row, user = found
        if (row.revoked_at is not None or user.disabled_at is not None
                or (row.expires_at is not None and row.expires_at <= now)):
            return None
        if row.last_used_at is None or now - row.last_used_at >= SESSION_TOUCH_S:
            async with self.store.session() as session, session.begin():
                await session.execute(update(ApiTokenRow).where(ApiTokenRow.id == row.id)
                                      .values(last_used_at=now))
        return _user(user)

    async def revoke_tokens(self, username: str, name: str | None, by: str) -> int:
        """Revoke a user's API tokens (those with ``name``, or all); returns how many.

        Raises:
            AuthError: no such user.
        """
        row = await self._user_row(username)
        now = _time.time()
        q = update(ApiTokenRow).where(ApiTokenRow.user_id == row.id,
                                      ApiTokenRow.revoked_at.is_(None))
        if name is not None:
            q = q.where(ApiTokenRow.name == name)
        async with self.store.session() as session, session.begin():
            count = (await session.execute(q.values(revoked_at=now))).rowcount  # type: ignore[attr-defined]
        await audit.audit(self.store, now, by, "tokens_revoked", None,
                               username=row.username, name=name, count=count)
        return int(count)

    # -- helpers ----------------------------------------------------------------------

    async def _find(self, name: str) -> UserRow | None:
        async with self.store.session() as session:
            found: UserRow | None = (await session.execute(
                select(UserRow).where(UserRow.username == name))).scalars().first()
        return found

    async def _user_row(self, username: str) -> UserRow:
        row = await self._find(normalise_username(username))
        if row is None:
            raise AuthError(f"no user {username!r}")
        return row


def _user(row: UserRow) -> User:
    return User(row.id, row.username, Role(row.role))


def _account(row: UserRow) -> Account:
    return Account(row.username, Role(row.role), row.created_at, row.created_by,
                   row.disabled_at is not None)


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``count`` failures within ``window_s`` seconds."""

    count: int
    window_s: float


class _Failures:
    """Failure times per key, each key keeping only the last ``limit.count``; at most
    ``max_keys`` keys (the oldest forgotten first), so a spray of names cannot grow memory
    without bound."""

    def __init__(self, limit: Limit, max_keys: int) -> None:
        self.limit = limit
        self.max_keys = max_keys
        self._times: dict[object, deque[float]] = {}

    def retry_after(self, key: object, now: float) -> float | None:
        times = self._times.get(key)
        if not times:
            return None
        while times and times[0] <= now - self.limit.window_s:
            times.popleft()
        if len(times) < self.limit.count:
            return None
        return times[0] + self.limit.window_s - now

    def add(self, key: object, now: float) -> None:
        times = self._times.pop(key, None) or deque(maxlen=self.limit.count)
        times.append(now)
        self._times[key] = times  # moved to the end: the most recently failed
        while len(self._times) > self.max_keys:
            self._times.pop(next(iter(self._times)))

    def forget(self, key: object) -> None:
        self._times.pop(key, None)


NAME_LIMIT = Limit(20, 900.0)
"""Failures for one name from anywhere before that account is throttled everywhere."""
ADDRESS_LIMIT = Limit(50, 900.0)
"""Failures from one address, over any names, before that address is throttled."""


class SignInThrottle:
    """Slows password guessing with three counters of failed attempts:

    - one name from one address (default 5 in 5 minutes): a nurse who mistypes at a
      station, or a guesser at one address; other colleagues there are not locked out;
    - one name from anywhere (20 in 15 minutes): guesses spread over many addresses
      throttle that account everywhere, the right password included, until the window
      passes (the price of stopping a distributed guesser: such an attack can also hold an
      account shut, and the log shows it);
    - one address over any names (50 in 15 minutes): one address spraying names.

    Names are counted whether or not an account has them, so the answers never tell which
    accounts exist. Success forgets that name's failures from that address only.
    """

    def __init__(self, limit: int = 5, window_s: float = 300.0,
                 name_limit: Limit = NAME_LIMIT, address_limit: Limit = ADDRESS_LIMIT,
                 max_keys: int = 10_000) -> None:
        self._pair = _Failures(Limit(limit, window_s), max_keys)
        self._name = _Failures(name_limit, max_keys)
        self._address = _Failures(address_limit, max_keys)

    @staticmethod
    def _name_key(username: str) -> str:
        # A bounded key: a 1 MB "username" must not become a 1 MB dictionary key.
        return username.strip().lower()[:128]

    def retry_after(self, address: str, username: str, now: float) -> float | None:
        """Seconds to wait before the next attempt, or None when one may be made."""
        name = self._name_key(username)
        waits = [w for w in (self._pair.retry_after((address, name), now),
                             self._name.retry_after(name, now),
                             self._address.retry_after(address, now)) if w is not None]
        return max(waits) if waits else None

    def failed(self, address: str, username: str, now: float) -> None:
        """Count a failed attempt."""
        name = self._name_key(username)
        self._pair.add((address, name), now)
        self._name.add(name, now)
        self._address.add(address, now)

    def succeeded(self, address: str, username: str) -> None:
        """Forget the failures of a name that signed in, from that address."""
        self._pair.forget((address, self._name_key(username)))
