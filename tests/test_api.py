"""HTTP API contract: health, beds, history queries, bad requests, OpenAPI docs."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from monitor.api import create_app
from monitor.config import BedConfig, Settings, UnitConfig


@pytest.fixture
def client(tmp_path: Path):
    unit = UnitConfig(beds=[BedConfig(id="bed-1", label="Bed 1")])
    app = create_app(Settings(db=str(tmp_path / "api.db")), unit)
    with TestClient(app) as c:
        yield c


def test_api_healthz(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["devices"] == 0 and body["device_stats"] == {}


def test_api_beds_lists_configured_beds(client: TestClient) -> None:
    beds = client.get("/api/beds").json()
    assert len(beds) == 1
    bed = beds[0]
    assert (bed["id"], bed["label"], bed["connection"]) == ("bed-1", "Bed 1", "no_device")
    assert (bed["devices"], bed["latest"], bed["alarms"]) == ([], {}, [])
    assert bed["admission"] is None and bed["monitoring"] is False


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


def test_api_openapi_docs(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/beds" in spec["paths"]


def test_api_serves_dashboard(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert "central station" in r.text
