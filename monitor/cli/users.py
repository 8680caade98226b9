"""``spu-monitor users``: accounts, passwords and API tokens, straight on the database.

There is no default account. The first admin is made here, on the machine that runs the
service (whoever can write its database is trusted to)::

    spu-monitor users add alice --role admin        # asks for the password twice
    printf '%s\\n' "$PASSWORD" | spu-monitor users add bob --role nurse

Passwords are read from standard input, never from the command line (where other users of
the machine could see them in the process list).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from monitor.auth.accounts import Accounts, Role
from monitor.config import Settings, database_url
from monitor.domain.errors import AuthError, ConfigError
from monitor.storage.database import Store

ACTOR = "cli"
"""Who the audit log names for changes made with this command."""


def configure_parser(users: argparse.ArgumentParser) -> None:
    """Add the ``users`` sub-commands."""
    sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    roles = ", ".join(r.value for r in Role)

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--db", default=None,
                       help="SQLite file path or SQLAlchemy URL (default spu-monitor.db; "
                            "env MONITOR_DB): the service's database")
        return p

    add = with_db(sub.add_parser(
        "add", help="create a user; the password is read from standard input",
        description="Create a user. The password (8 characters or more) is read from "
        "standard input: typed twice at a terminal, or the first line of a pipe."))
    add.add_argument("username", help="1-64 letters, digits or . _ @ - (case-insensitive)")
    add.add_argument("--role", required=True, help=f"one of {roles}")

    with_db(sub.add_parser("list", help="list users and their roles"))

    passwd = with_db(sub.add_parser(
        "passwd", help="set a user's password (from standard input); their sessions end"))
    passwd.add_argument("username")

    disable = with_db(sub.add_parser(
        "disable", help="disable a user: their sessions and API tokens stop at once"))
    disable.add_argument("username")
    enable = with_db(sub.add_parser("enable", help="enable a disabled user again"))
    enable.add_argument("username")

    token = with_db(sub.add_parser(
        "token", help="issue an API token acting as a user (printed once)",
        description="Issue an API token for an integration. It acts as USERNAME with that "
        "user's role; send it as 'Authorization: Bearer TOKEN'. It is printed once and "
        "only its digest is stored."))
    token.add_argument("username")
    token.add_argument("--name", required=True, help="what uses the token, e.g. 'pager-gateway'")
    token.add_argument("--days", type=float, default=None,
                       help="expire after this many days (default: until revoked)")

    revoke = with_db(sub.add_parser("revoke-tokens", help="revoke a user's API tokens"))
    revoke.add_argument("username")
    revoke.add_argument("--name", default=None, help="only the tokens with this name")


def read_password(stdin: TextIO, confirm: bool = True) -> str:
    """The new password: asked twice at a terminal, else the first line of ``stdin``.

    Raises:
        ConfigError: nothing on standard input, or the two entries differ.
    """
    if stdin.isatty():
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Repeat the password: ") != password:
            raise ConfigError("the two passwords differ")
        return password
    line = stdin.readline()
    if not line:
        raise ConfigError("no password on standard input")
    return line.rstrip("\r\n")


def run(args: argparse.Namespace, stdin: TextIO | None = None, out: TextIO | None = None
        ) -> int:
    """Run a ``users`` action; returns the exit status."""
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    db = args.db if args.db is not None else Settings().db
    action: Callable[[Accounts], Awaitable[None]]

    async def add(accounts: Accounts) -> None:
        role = Role.parse(args.role)  # before asking for a password
        account = await accounts.add_user(args.username, role, read_password(stdin), ACTOR)
        print(f"added {account.username} ({account.role.value})", file=out)

    async def list_users(accounts: Accounts) -> None:
        users = await accounts.users()
        if not users:
            print("no users yet: add one with `spu-monitor users add NAME --role admin`",
                  file=out)
        for a in users:
            state = "  (disabled)" if a.disabled else ""
            print(f"{a.username:<24} {a.role.value:<13}{state}", file=out)

    async def passwd(accounts: Accounts) -> None:
        await accounts.set_password(args.username, read_password(stdin), ACTOR)
        print(f"password changed for {args.username.lower()}; their sessions ended", file=out)

    async def set_disabled(accounts: Accounts) -> None:
        disabled = args.users_command == "disable"
        await accounts.set_disabled(args.username, disabled, ACTOR)
        print(f"{args.username.lower()} {'disabled' if disabled else 'enabled'}", file=out)

    async def token(accounts: Accounts) -> None:
        value = await accounts.issue_token(args.username, args.name, ACTOR, args.days)
        print(value, file=out)

    async def revoke(accounts: Accounts) -> None:
        count = await accounts.revoke_tokens(args.username, args.name, ACTOR)
        print(f"revoked {count} token(s) of {args.username.lower()}", file=out)

    actions: dict[str, Callable[[Accounts], Awaitable[None]]] = {
        "add": add, "list": list_users, "passwd": passwd, "disable": set_disabled,
        "enable": set_disabled, "token": token, "revoke-tokens": revoke}
    action = actions[args.users_command]

    async def main() -> None:
        store = await Store.open(database_url(db))
        try:
            await action(Accounts(store))
        finally:
            await store.close()

    try:
        asyncio.run(main())
    except AuthError as exc:
        raise ConfigError(str(exc)) from None
    return 0
