"""A throwaway PostgreSQL server on loopback, from the machine's PostgreSQL binaries
(``scripts/ensure-postgres.sh`` installs them; ``.ci/run`` runs it). Tests that need one skip,
saying why, where PostgreSQL cannot be had."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

from tests.liveserver import free_port


def throwaway_postgres(database: str = "monitor") -> Iterator[str]:
    """Start a fresh PostgreSQL cluster (trust authentication, fsync off, on 127.0.0.1 and
    a free port) with one empty database; yield its ``postgresql://`` URL; stop and delete
    it afterwards. For a module-scoped fixture: ``yield from throwaway_postgres()``."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
    if not bins:
        pytest.skip("PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin): "
                    "scripts/ensure-postgres.sh installs them")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        pytest.skip("runuser is missing: cannot run PostgreSQL as its own user")
    pytest.importorskip("asyncpg", reason="asyncpg not installed")
    binary = bins[-1]
    root = tempfile.mkdtemp(prefix="spu-pg-")
    os.chmod(root, 0o777)
    port = free_port()
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = os.path.join(root, "data")

    def run(*cmd: str) -> None:
        subprocess.run([*as_pg, *cmd], check=True, capture_output=True, timeout=120)

    try:
        run(f"{binary}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-locale")
        run(f"{binary}/pg_ctl", "-D", data, "-l", os.path.join(root, "log"), "-w", "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off", "start")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"cannot start a throwaway PostgreSQL: {exc.stderr.decode()[:200]}")
    try:
        run(f"{binary}/psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-c",
            f"CREATE DATABASE {database}")
        yield f"postgresql://postgres@127.0.0.1:{port}/{database}"
    finally:
        run(f"{binary}/pg_ctl", "-D", data, "-m", "fast", "stop")
        shutil.rmtree(root, ignore_errors=True)
