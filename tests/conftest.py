"""Shared fixtures: pty pairs, the bus, timeouts scaled for slow machines."""

from __future__ import annotations

import os
import pathlib

import pytest

from monitor.live.bus import Bus

ROOT = pathlib.Path(__file__).resolve().parent.parent
RECORDINGS = ROOT.parent / "shared" / "recordings"
"""Real PhysioNet recordings beside the checkout (absent on some machines)."""

TIMEOUT_FACTOR = float(os.environ.get("MONITOR_TESTS_TIMEOUT_FACTOR", "1"))
MS = 0.001 * TIMEOUT_FACTOR
"""One millisecond of test timeout, scaled by MONITOR_TESTS_TIMEOUT_FACTOR."""


def recordings_dir() -> pathlib.Path:
    """The shared recordings folder, or skip the test with a clear message."""
    if not RECORDINGS.is_dir():
        pytest.skip(f"real recordings not available: {RECORDINGS} is absent")
    return RECORDINGS


@pytest.fixture(scope="module")
def study():
    """The study-shaped synthetic cohort: (rows, episodes detected from vitals)."""
    from tests.study_cohort import study_cohort

    return study_cohort()


@pytest.fixture(scope="module")
def study_report(study):
    """The unit report of the whole study-shaped cohort."""
    from monitor.reports.statistics import unit_report

    return unit_report(*study)


@pytest.fixture
def bus() -> Bus:
    """A fresh bus; asserts at teardown that every subscription was closed."""
    b = Bus()
    yield b
    leaked = [s.name for s in b.subscriptions]
    b.close()
    assert not leaked, f"bus subscriptions left open: {leaked}"


@pytest.fixture
async def pty_port(tmp_path: pathlib.Path):
    """A simulated device's pty with a stable symlink; closed at teardown, inside the
    event loop that watches it."""
    from simulators.port import PtyPort

    port = PtyPort(link=str(tmp_path / "ttyDEVICE"))
    yield port
    port.close()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = ROOT / "test-artifacts"
"""Screenshots the browser tests keep for people to look at."""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium: Playwright's own browser download does not work on this kind of
    machine. ``make test`` installs it."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make test`, which installs Debian's chromium")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def invalid_fields(response) -> dict[str, str]:
    """The fields a 422 answer names, in FastAPI's documented validation shape: dotted
    location without its ``body``/``query`` part -> message. Asserts the shape."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail, detail
    return {".".join(str(p) for p in d["loc"][1:]): d["msg"] for d in detail}
