"""Sign-in over HTTP and WebSocket: every API route is closed without it (except
/healthz), cookies have the right flags, roles are enforced, actions record the signed-in
user, and failed or cross-site attempts are refused with clear answers."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from monitor.api import auth as api_auth
from monitor.api import create_app
from monitor.config import BedConfig, Settings, UnitConfig
from tests.conftest import invalid_fields
from tests.liveserver import TEST_PASSWORD, bearer, seed_users

USERS = {"nurse.ada": "nurse", "charge.bo": "charge_nurse", "admin.cy": "admin"}
ORIGIN = "http://testserver"


class Unit:
    """The app under test with a token for each of USERS."""

    def __init__(self, tmp_path: Path, **settings: object) -> None:
        self.tokens: dict[str, str] = {}

        async def on_started(service: object) -> None:
            self.tokens = await seed_users(service, USERS)

        unit = UnitConfig(beds=[BedConfig(id="bed-1", label="Bed 1")])
        self.app = create_app(Settings(db=str(tmp_path / "auth.db"), **settings), unit,
                              on_started)

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)


@pytest.fixture
def unit(tmp_path: Path):
    u = Unit(tmp_path)
    with u.client() as c:
        u.anonymous = c
        yield u


def sign_in(client: TestClient, username: str, password: str = TEST_PASSWORD,
            next_path: str = "/") -> object:
    return client.post("/login", data={"username": username, "password": password,
                                        "next": next_path})


# -- everything is closed without sign-in ------------------------------------------------


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "bed-1", path)


def test_every_api_route_needs_sign_in(unit: Unit) -> None:
    # Every documented route, from the OpenAPI description (included routers too).
    paths = unit.app.openapi()["paths"]
    checked = 0
    for path, operations in paths.items():
        if path == "/healthz":
            continue
        assert path.startswith(("/api/", "/fhir/")), f"an undocumented kind of route: {path}"
        for method in operations:
            r = unit.anonymous.request(method.upper(), _concrete(path), json={})
            assert r.status_code == 401, f"{method} {path}: {r.status_code}"
            assert r.json()["detail"] == "sign-in required"
            assert r.headers["www-authenticate"].startswith("Bearer")
            checked += 1
    assert checked >= 20, "the route list looks too short"
    assert unit.anonymous.get("/openapi.json").status_code == 401
    assert unit.anonymous.get("/healthz").status_code == 200


def test_live_websocket_needs_sign_in(unit: Unit) -> None:
    with pytest.raises(WebSocketDenialResponse) as refused, \
            unit.anonymous.websocket_connect("/ws/live"):
        pass
    assert refused.value.status_code == 401
    with pytest.raises(WebSocketDenialResponse), unit.anonymous.websocket_connect(
            "/ws/live", headers=bearer("spu_not-a-token")):
        pass


def test_dashboard_and_docs_send_a_stranger_to_sign_in(unit: Unit) -> None:
    r = unit.anonymous.get("/")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?error=required&next=%2F"
    assert unit.anonymous.get("/docs").headers["location"].startswith("/login")
    page = unit.anonymous.get("/login")
    assert page.status_code == 200
    assert 'name="username"' in page.text and 'name="password"' in page.text
    # Static files carry no patient data and the sign-in page needs them.
    assert unit.anonymous.get("/style.css").status_code == 200


def test_bad_tokens_are_refused(unit: Unit) -> None:
    for headers in (bearer("spu_forged"), bearer(""), {"Authorization": "Basic YTpi"}):
        r = unit.anonymous.get("/api/beds", headers=headers)
        assert r.status_code == 401, headers
    r = unit.anonymous.get("/api/beds", headers=bearer("spu_forged"))
    assert "invalid, expired or revoked" in r.json()["detail"]
    with unit.client() as browser:
        browser.cookies.set("spu_session", "made-up")
        r = browser.get("/api/beds")
    assert r.status_code == 401 and "sign in again" in r.json()["detail"]


# -- the browser's sign-in -----------------------------------------------------------------


def test_form_sign_in_sets_a_strict_httponly_cookie(unit: Unit) -> None:
    with unit.client() as browser:
        r = sign_in(browser, "Nurse.Ada", next_path="/#bed/bed-1")
        assert r.status_code == 303 and r.headers["location"] == "/#bed/bed-1"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("spu_session=")
        flags = {f.strip().lower() for f in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/"} <= flags
        assert "secure" not in flags, "plain HTTP on loopback: a Secure cookie would be lost"
        assert browser.get("/api/me").json() == {"username": "nurse.ada", "role": "nurse"}
        page = browser.get("/")
        assert page.status_code == 200 and "central station" in page.text
        assert page.headers["x-frame-options"] == "DENY"


def test_secure_cookie_setting(tmp_path: Path) -> None:
    u = Unit(tmp_path, secure_cookies=True)
    with u.client() as browser:
        cookie = sign_in(browser, "nurse.ada").headers["set-cookie"].lower()
    assert "; secure" in cookie


def test_json_sign_in_for_scripts(unit: Unit) -> None:
    with unit.client() as script:
        r = script.post("/login", json={"username": "admin.cy", "password": TEST_PASSWORD})
        assert r.status_code == 200 and r.json() == {"username": "admin.cy", "role": "admin"}
        assert script.get("/api/beds").status_code == 200
        r = script.post("/login", json={"username": "admin.cy"})
        assert r.status_code == 422 and "required" in r.json()["detail"]


@pytest.mark.parametrize(("username", "password"), [("nurse.ada", "wrong password"),
                                                    ("nobody", TEST_PASSWORD)])
def test_wrong_credentials(unit: Unit, username: str, password: str) -> None:
    with unit.client() as browser:
        r = sign_in(browser, username, password, next_path="/#bed/bed-1")
        assert r.status_code == 303
        assert r.headers["location"] == "/login?error=invalid&next=%2F%23bed%2Fbed-1"
        assert "set-cookie" not in r.headers
        assert browser.get("/api/beds").status_code == 401
        r = browser.post("/login", json={"username": username, "password": password})
        assert r.status_code == 401 and r.json()["detail"] == "wrong username or password"


def test_sign_in_is_throttled_after_five_failures(unit: Unit) -> None:
    with unit.client() as browser:
        for _ in range(5):
            assert sign_in(browser, "nurse.ada", "guess1234").headers["location"].startswith(
                "/login?error=invalid")
        r = sign_in(browser, "nurse.ada")  # even the right password, for now
        assert r.headers["location"].startswith("/login?error=throttled")
        r = browser.post("/login", json={"username": "nurse.ada", "password": TEST_PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        # Another colleague at the same station is not locked out.
        assert sign_in(browser, "charge.bo").headers["location"] == "/"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil",
                                    "javascript:alert(1)", "bed-1", "/login?error=invalid",
                                    "/logout"])
def test_sign_in_never_redirects_to_another_site(unit: Unit, target: str) -> None:
    with unit.client() as browser:
        assert sign_in(browser, "nurse.ada", next_path=target).headers["location"] == "/"


def test_sign_in_failure_logs_neither_name_nor_password(
        unit: Unit, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with unit.client() as browser:
        sign_in(browser, "nurse.ada", "Pa55word-typed-wrong")
        sign_in(browser, "nurse.ada")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Pa55word-typed-wrong" not in text and TEST_PASSWORD not in text
    assert "sign-in refused" in text


def test_sign_out_ends_the_session(unit: Unit) -> None:
    with unit.client() as browser:
        sign_in(browser, "nurse.ada")
        cookie = browser.cookies["spu_session"]
        r = browser.post("/logout", headers={"Origin": ORIGIN})
        assert r.status_code == 303 and r.headers["location"] == "/login?error=signed_out"
        assert 'spu_session=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers[
            "set-cookie"]
    # The old cookie is dead on the server, not only forgotten by the browser.
    with unit.client() as browser:
        browser.cookies.set("spu_session", cookie)
        assert browser.get("/api/beds").status_code == 401


# -- cross-site requests -----------------------------------------------------------------


def test_cookie_changes_from_another_site_are_refused(unit: Unit) -> None:
    with unit.client() as browser:
        sign_in(browser, "nurse.ada")
        body = {"patient_label": "P"}
        r = browser.post("/api/beds/bed-1/admit", json=body,
                         headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and "cross-site" in r.json()["detail"]
        r = browser.post("/api/beds/bed-1/admit", json=body,
                         headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403
        r = browser.post("/api/beds/bed-1/admit", json=body, headers={"Origin": ORIGIN})
        assert r.status_code == 201
        # Reading is harmless (and SameSite=Strict keeps the cookie home anyway).
        assert browser.get("/api/beds", headers={"Origin": "http://evil.example"}
                           ).status_code == 200


def test_live_websocket_refuses_another_sites_page(unit: Unit) -> None:
    with unit.client() as browser:
        sign_in(browser, "nurse.ada")
        with pytest.raises(WebSocketDenialResponse), browser.websocket_connect(
                "/ws/live", headers={"Origin": "http://evil.example"}):
            pass
        with browser.websocket_connect("/ws/live", headers={"Origin": ORIGIN}) as ws:
            assert ws.receive_json()["type"] == "snapshot"


def test_live_websocket_with_token(unit: Unit) -> None:
    with unit.anonymous.websocket_connect(
            "/ws/live", headers=bearer(unit.tokens["nurse.ada"])) as ws:
        assert ws.receive_json()["type"] == "snapshot"


def test_live_websocket_closes_when_the_session_ends(unit: Unit,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_auth.LiveAuth, "RECHECK_S", 0.0)
    with unit.client() as browser:
        sign_in(browser, "nurse.ada")
        cookie = browser.cookies["spu_session"]
        with browser.websocket_connect("/ws/live") as ws:
            assert ws.receive_json()["type"] == "snapshot"
            with unit.client() as same_browser:
                same_browser.cookies.set("spu_session", cookie)
                same_browser.post("/logout")
            with pytest.raises(WebSocketDisconnect) as closed:
                for _ in range(100):
                    ws.receive_json()
    assert closed.value.code == api_auth.WS_SIGNED_OUT


# -- roles and who acts --------------------------------------------------------------------


def test_actions_record_the_signed_in_user_not_a_claimed_one(unit: Unit) -> None:
    c = unit.anonymous
    ada = bearer(unit.tokens["nurse.ada"])
    r = c.post("/api/beds/bed-1/admit", json={"patient_label": "P", "user": "someone.else"},
               headers=ada)
    assert r.status_code == 422 and "user" in r.text, "a claimed user is refused, not ignored"
    r = c.post("/api/beds/bed-1/admit", json={"patient_label": "P"}, headers=ada)
    assert r.status_code == 201 and r.json()["admitted_by"] == "nurse.ada"
    r = c.post("/api/beds/bed-1/baseline", json={"reason": "clinic values", "hr": 70},
               headers=bearer(unit.tokens["charge.bo"]))
    assert r.status_code == 200
    assert r.json()["hr"]["confirmed_by"] == "charge.bo"
    r = c.post("/api/beds/bed-1/audio-pause", json={}, headers=ada)
    assert r.status_code == 200
    log = c.get("/api/alarms/log?bed_id=bed-1", headers=ada).json()
    assert any(e["event"] == "audio_paused" and e["user"] == "nurse.ada" for e in log)
    r = c.post("/api/beds/bed-1/discharge", headers=ada)  # no body needed
    assert r.status_code == 200 and r.json()["discharged_by"] == "nurse.ada"


def test_alarm_settings_need_a_charge_nurse(unit: Unit) -> None:
    c = unit.anonymous
    c.post("/api/beds/bed-1/admit", json={"patient_label": "P"},
           headers=bearer(unit.tokens["nurse.ada"]))
    body = {"reason": "usual SpO2 91-92 %", "settings": {"rules": {"SPO2_LOW": {"threshold": 91}}}}
    r = c.post("/api/beds/bed-1/alarm-settings", json=body,
               headers=bearer(unit.tokens["nurse.ada"]))
    assert r.status_code == 403
    assert r.json()["detail"] == ("not allowed: needs the charge_nurse role or above "
                                  "(you are nurse)")
    for who in ("charge.bo", "admin.cy"):
        r = c.post("/api/beds/bed-1/alarm-settings", json=body, headers=bearer(unit.tokens[who]))
        assert r.status_code == 200, r.text
    assert c.get("/api/beds/bed-1/alarm-settings",
                 headers=bearer(unit.tokens["nurse.ada"])).status_code == 200


def test_admins_manage_accounts(unit: Unit) -> None:
    c = unit.anonymous
    admin, nurse = bearer(unit.tokens["admin.cy"]), bearer(unit.tokens["nurse.ada"])
    assert c.get("/api/users", headers=nurse).status_code == 403
    assert c.post("/api/users", json={"username": "dee", "role": "nurse",
                                      "password": TEST_PASSWORD}, headers=nurse
                  ).status_code == 403
    names = {u["username"]: u["role"] for u in c.get("/api/users", headers=admin).json()}
    assert names == USERS
    assert all("password" not in k for u in c.get("/api/users", headers=admin).json()
               for k in u)
    r = c.post("/api/users", json={"username": "Dee", "role": "charge_nurse",
                                   "password": TEST_PASSWORD}, headers=admin)
    assert r.status_code == 201 and r.json()["role"] == "charge_nurse"
    assert r.json()["created_by"] == "admin.cy"
    r = c.post("/api/users", json={"username": "dee", "role": "nurse",
                                   "password": TEST_PASSWORD}, headers=admin)
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    r = c.post("/api/users", json={"username": "eve", "role": "boss",
                                   "password": TEST_PASSWORD}, headers=admin)
    assert "'nurse', 'charge_nurse' or 'admin'" in invalid_fields(r)["role"]
    r = c.post("/api/users", json={"username": "eve", "role": "nurse", "password": "short"},
               headers=admin)
    assert "at least 8 characters" in invalid_fields(r)["password"]
    r = c.post("/api/users", json={"username": "eve", "role": "nurse", "password": " " * 9},
               headers=admin)
    assert "password" in invalid_fields(r)
    with unit.client() as browser:
        assert sign_in(browser, "dee").headers["location"] == "/"
    r = c.post("/api/users/admin.cy/disable", headers=admin)
    assert r.status_code == 403 and r.json() == {"detail": "you cannot disable your own account"}
    assert "username" in invalid_fields(c.post("/api/users/no%20such/disable", headers=admin))
    assert c.post("/api/users/nobody/disable", headers=admin).status_code == 404
    assert c.post("/api/users/nurse.ada/disable", headers=admin).status_code == 200
    assert c.get("/api/beds", headers=nurse).status_code == 401


def test_docs_after_sign_in(unit: Unit) -> None:
    with unit.client() as browser:
        sign_in(browser, "nurse.ada")
        assert browser.get("/docs").status_code == 200
        spec = browser.get("/openapi.json").json()
    assert "/api/beds" in spec["paths"]
    assert "/login" not in spec["paths"]
    schemes = spec["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}


def test_change_your_own_password(unit: Unit) -> None:
    with unit.client() as browser, unit.client() as other_station:
        sign_in(browser, "nurse.ada")
        sign_in(other_station, "nurse.ada")
        new = "a brand new passphrase"
        r = browser.post("/api/me/password", json={"current_password": "wrong one",
                                                   "new_password": new})
        assert r.status_code == 403 and r.json()["detail"] == "the current password is wrong"
        r = browser.post("/api/me/password", json={"current_password": TEST_PASSWORD,
                                                   "new_password": "short"})
        assert "at least 8 characters" in invalid_fields(r)["new_password"]
        r = browser.post("/api/me/password", json={"current_password": TEST_PASSWORD,
                                                   "new_password": new})
        assert r.status_code == 200 and r.json()["status"] == "password changed"
        # This browser stays signed in with a fresh session; the other station is out.
        assert browser.get("/api/me").json()["username"] == "nurse.ada"
        assert other_station.get("/api/me").status_code == 401
    with unit.client() as browser:
        assert sign_in(browser, "nurse.ada").headers["location"].startswith("/login?error")
        assert sign_in(browser, "nurse.ada", new).headers["location"] == "/"


def test_current_password_guessing_is_throttled(unit: Unit) -> None:
    c = unit.anonymous
    ada = bearer(unit.tokens["nurse.ada"])
    change = {"current_password": "guess", "new_password": "a brand new passphrase"}
    answers = [c.post("/api/me/password", json={**change, "current_password": f"guess {i}"},
                      headers=ada).status_code for i in range(30)]
    assert answers[:5] == [403] * 5 and set(answers[5:]) == {429}, answers
    r = c.post("/api/me/password", json={**change, "current_password": TEST_PASSWORD},
               headers=ada)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "try again in" in r.json()["detail"]
    # The same guesses count against signing in with that name from that address.
    with unit.client() as browser:
        assert sign_in(browser, "nurse.ada").headers["location"].startswith(
            "/login?error=throttled")
    # A colleague at the same address changes theirs.
    r = c.post("/api/me/password", json={**change, "current_password": TEST_PASSWORD},
               headers=bearer(unit.tokens["charge.bo"]))
    assert r.status_code == 200


def test_every_response_carries_the_strict_content_security_policy(unit: Unit) -> None:
    from monitor.api.pages import CONTENT_SECURITY_POLICY

    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    with unit.client() as browser:
        answers = [browser.get("/"), browser.get("/login"), browser.get("/style.css"),
                   browser.get("/api/beds"), browser.get("/healthz"), browser.get("/nowhere"),
                   browser.post("/login", content=b"[" * 100,
                                headers={"Content-Type": "application/json"})]
        sign_in(browser, "nurse.ada")
        answers += [browser.get("/"), browser.get("/docs"), browser.get("/openapi.json"),
                    browser.get("/api/beds")]
    for r in answers:
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, r.url
        assert r.headers["x-frame-options"] == "DENY" and r.headers[
            "x-content-type-options"] == "nosniff", r.url


def test_docs_page_loads_nothing_from_another_origin(unit: Unit) -> None:
    with unit.client() as browser:
        sign_in(browser, "nurse.ada")
        page = browser.get("/docs").text
    assert re.findall(r'(?:src|href)="([^"]+)"', page) and all(
        link.startswith("/") or link == "data:," for link in
        re.findall(r'(?:src|href)="([^"]+)"', page)), page
    assert '<script type="module" src="/apidocs.js"></script>' in page
