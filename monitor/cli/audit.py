"""``spu-monitor audit verify``: check that the audit trail and the alarm log are intact.

Both are hash-chained (see :mod:`monitor.storage.chain`): an entry changed, deleted or
slipped in afterwards breaks the chain. Exit status 0 when both chains are intact, 1 when
one is broken (the first broken entry is named), 2 when the database cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from monitor.config import Settings, database_url
from monitor.storage import chain
from monitor.storage.database import Store


def configure_parser(audit: argparse.ArgumentParser) -> None:
    """Add ``audit verify``."""
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = sub.add_parser(
        "verify", help="check the audit trail's and the alarm log's hash chains",
        description="Check every entry of the audit trail and the alarm log against its "
        "hash chain. Exit 0 when intact; 1 naming the first broken entry otherwise.")
    verify.add_argument("--db", default=None,
                        help="SQLite file path or SQLAlchemy URL (default spu-monitor.db; "
                             "env MONITOR_DB)")


async def _verify(db: str) -> int:
    store = await Store.open(database_url(db))
    broken = 0
    try:
        async with store.session() as session:
            for table in chain.CHAINED_COLUMNS:
                checked, fault = await chain.verify(session, table)
                if fault is None:
                    print(f"{table}: {checked} entries, intact")
                else:
                    print(f"{fault} ({checked} entries before it are intact)",
                          file=sys.stderr)
                    broken += 1
    finally:
        await store.close()
    return 1 if broken else 0


def run(args: argparse.Namespace) -> int:
    """``spu-monitor audit``."""
    return asyncio.run(_verify(args.db or Settings().db))
