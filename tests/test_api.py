"""HTTP API contract: health, beds, history queries, bad requests, OpenAPI docs, sign-in."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from monitor.api import create_app
from monitor.config import BedConfig, Settings, UnitConfig
from tests.liveserver import TEST_PASSWORD, TEST_USERS, bearer, seed_users

USER = next(iter(TEST_USERS))


@pytest.fixture
def tokens() -> dict[str, str]:
    """The test users' API tokens, filled in when the app starts."""
    return {}


@pytest.fixture
def anonymous(tmp_path: Path, tokens: dict[str, str]):
    """A client that has not signed in, on a server with the test users."""
    unit = UnitConfig(beds=[BedConfig(id="bed-1", label="Bed 1")])

    async def on_started(service) -> None:
        tokens.update(await seed_users(service, TEST_USERS))

    app = create_app(Settings(db=str(tmp_path / "api.db")), unit, on_started=on_started)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def client(anonymous: TestClient, tokens: dict[str, str]) -> TestClient:
    """A client signed in with the default test user's API token."""
    anonymous.headers.update(bearer(tokens[USER]))
    return anonymous


def sign_in_form(client: TestClient) -> None:
    """Sign in through the /login form, as a browser does (the client keeps the cookie)."""
    r = client.post("/login", data={"username": USER, "password": TEST_PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/"
    assert "spu_session" in r.cookies


def test_api_healthz(anonymous: TestClient) -> None:
    body = anonymous.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["devices"] == 0 and body["device_stats"] == {}


def test_api_beds_lists_configured_beds(client: TestClient) -> None:
    beds = client.get("/api/beds").json()
    assert len(beds) == 1
    bed = beds[0]
    assert (bed["id"], bed["label"], bed["connection"]) == ("bed-1", "Bed 1", "no_device")
    assert (bed["devices"], bed["latest"], bed["alarms"]) == ([], {}, [])
    assert bed["admission"] is None and bed["monitoring"] is False


def test_api_requires_sign_in(anonymous: TestClient) -> None:
    r = anonymous.get("/api/beds")
    assert r.status_code == 401
    r = anonymous.get("/api/beds", headers=bearer("spu_not-a-token"))
    assert r.status_code == 401


def test_api_unknown_bed_is_404_with_reason(client: TestClient) -> None:
    r = client.get("/api/beds/bed-9/observations")
    assert r.status_code == 404
    assert "bed-9" in r.json()["detail"]


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "lots"}, {"since": "yesterday"},
                                    {"since": "10", "until": "5"}])
def test_api_bad_query_is_422_with_reason(client: TestClient, params: dict) -> None:
    r = client.get("/api/beds/bed-1/observations", params=params)
    assert r.status_code == 422
    assert r.json()["detail"]


def test_api_openapi_docs(anonymous: TestClient, tokens: dict[str, str]) -> None:
    assert anonymous.get("/openapi.json").status_code == 401
    r = anonymous.get("/docs", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?")
    # An API token reads the description; a browser session also gets the docs page.
    spec = anonymous.get("/openapi.json", headers=bearer(tokens[USER])).json()
    assert "/api/beds" in spec["paths"]
    sign_in_form(anonymous)
    r = anonymous.get("/docs", follow_redirects=False)
    assert r.status_code == 200 and 'src="/apidocs.js"' in r.text  # our page, no CDN
    assert "/api/beds" in anonymous.get("/openapi.json").json()["paths"]


def test_api_serves_dashboard(anonymous: TestClient) -> None:
    r = anonymous.get("/", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?")
    sign_in_form(anonymous)
    r = anonymous.get("/", follow_redirects=False)
    assert r.status_code == 200
    assert "central station" in r.text
    assert "<title>SPU Monitor — central station</title>" in r.text  # not the login page
