"""The OpenAPI description documents the answers of the layers in front of every route,
the error shapes are the ones documented, and other methods are 405 naming the right ones
(test_schemathesis.py checks all of it against a live server)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from monitor.api import create_app
from monitor.config import Settings, UnitConfig

API = Path(__file__).resolve().parent.parent / "monitor" / "api"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("openapi") / "o.db"
    with TestClient(create_app(Settings(db=str(db)), UnitConfig())) as c:
        yield c


def test_every_operation_documents_the_shared_answers(client: TestClient) -> None:
    spec = client.app.openapi()
    assert spec["components"]["schemas"]["Error"]["required"] == ["detail"]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            codes = set(op["responses"])
            assert {"400", "413"} <= codes, (method, path)
            if path.startswith("/api/"):
                assert "401" in codes, (method, path)
                if method != "get":
                    assert "403" in codes, (method, path)
            for code, answer in op["responses"].items():
                if code.startswith("4") and code != "422":
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"}, (method, path, code)
    assert "429" in spec["paths"]["/api/me/password"]["post"]["responses"]


def test_no_route_answers_422_with_a_string_detail() -> None:
    # A 422 has the documented list shape: monitor.api.errors.invalid(...), never
    # HTTPException(422, "text").
    found = [f"{p.name}: {m.group(0)}" for p in sorted(API.glob("*.py"))
             for m in re.finditer(r"HTTPException\(\s*422\b[^)]*", p.read_text())]
    assert not found, found


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("OPTIONS", "/api/me/password", "POST"), ("PUT", "/api/beds", "GET"),
    ("DELETE", "/api/patients/1", "GET, PATCH"), ("OPTIONS", "/login", "GET, POST"),
    ("POST", "/style.css", "GET, HEAD"),
])
def test_other_methods_are_405_naming_the_right_ones(client: TestClient, method: str,
                                                     path: str, allow: str) -> None:
    r = client.request(method, path)
    assert r.status_code == 405 and r.headers["allow"] == allow
    assert r.headers["content-security-policy"]
