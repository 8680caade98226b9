"""The OpenAPI description tells the truth: Schemathesis, with every check, against a live
server (status codes all documented, responses as their schemas say, no 500, content types
as documented, 405 with ``Allow`` for other methods, schema-valid requests accepted and
invalid ones refused). A bounded run for CI: a few examples per operation, a fixed seed;
tests/schemathesis.toml says how to run it by hand and lists its one exception."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import BedConfig, UnitConfig
from tests.liveserver import LiveServer

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.mark.timeout(420)
def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    assert SCHEMATHESIS.exists(), "schemathesis is missing: install requirements-dev.txt"
    unit = UnitConfig(beds=[BedConfig(id="bed-1", label="Bed 1"),
                            BedConfig(id="bed-2", label="Bed 2")])
    with LiveServer(unit, db=str(tmp_path / "st.db"), users={"st.admin": "admin"}) as live:
        token = live.tokens["st.admin"]
        out = subprocess.run(
            [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run",
             f"{live.url}/openapi.json", "--checks", "all", "--max-examples", "5",
             "--seed", "1", "--no-color", "--request-timeout", "30",
             "-H", f"Authorization: Bearer {token}"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report[-6000:]
    assert " passed" in report and "failures" not in report.splitlines()[-1], report[-3000:]
