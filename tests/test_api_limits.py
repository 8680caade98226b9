"""Request bodies bounded per route and JSON nesting, in the app (the live-server tests
in test_security.py send the huge and deep ones over a real socket)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from monitor.api import create_app
from monitor.api.limits import DEFAULT_MAX_BODY, MAX_JSON_DEPTH, json_depth_exceeds
from monitor.api.reports import MAX_IMPORT_BYTES
from monitor.config import Settings, UnitConfig
from tests.liveserver import bearer, seed_users


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(("body", "too_deep"), [
    (nested(32), False), (nested(33), True), ("[" * 33, True), ("[" * 5, False),
    ('{"a": [1, {"b": [[]]}]}', False), ('"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["', False),
    (r'"\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["', False),
    ("[]" * 100_000, False), ('{"x":' * 33 + "1" + "}" * 33, True),
    ('"unclosed [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[', False), ("", False),
])
def test_json_depth_scan(body: str, too_deep: bool) -> None:
    assert json_depth_exceeds(body.encode(), MAX_JSON_DEPTH) is too_deep


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    tokens: dict[str, str] = {}

    async def on_started(service: object) -> None:
        tokens.update(await seed_users(service, {"charge.bo": "charge_nurse"}))

    db = tmp_path_factory.mktemp("limits") / "limits.db"
    app = create_app(Settings(db=str(db)), UnitConfig(), on_started)
    with TestClient(app, follow_redirects=False) as c:
        c.headers.update(bearer(tokens["charge.bo"]))
        yield c


def test_deep_json_is_refused_on_every_route(client: TestClient) -> None:
    for path in ("/login", "/api/patients", "/api/me/password", "/nowhere"):
        r = client.post(path, content=nested(40), headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (path, r.text)
        assert r.json() == {"detail": "the JSON body nests arrays or objects deeper than 32 "
                                      "levels"}
    # Without a content type FastAPI parses JSON: checked too.
    assert client.post("/api/patients", content=nested(40)).status_code == 400
    # A form is not JSON: its brackets are data.
    r = client.post("/login", data={"username": "[" * 50, "password": "x" * 10})
    assert r.status_code == 303


def test_nesting_within_the_limit_reaches_the_route(client: TestClient) -> None:
    body = {"identifier": "MRN-1", "family_name": "Test", "medications": json.loads(nested(30))}
    r = client.post("/api/patients", json=body)
    assert r.status_code == 422, r.text  # the route's own validation answers


def test_body_size_limits_per_route(client: TestClient) -> None:
    big = b"x" * (DEFAULT_MAX_BODY + 1)
    r = client.post("/api/patients", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and str(DEFAULT_MAX_BODY) in r.json()["detail"]
    # The research CSV may be larger: its parser answers, not the limit.
    r = client.post("/api/records/import", content=b"not,a,cohort\n" * 200_000,
                    headers={"Content-Type": "text/csv"})
    assert r.status_code == 422, r.text[:200]
    r = client.post("/api/records/import", content=b"x" * (MAX_IMPORT_BYTES + 1),
                    headers={"Content-Type": "text/csv"})
    assert r.status_code == 413 and str(MAX_IMPORT_BYTES) in r.json()["detail"]


def test_streamed_body_is_counted(client: TestClient) -> None:
    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    r = client.post("/api/patients", content=chunks(),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413
