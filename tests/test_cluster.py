"""Several servers on one database, the parts that need no PostgreSQL: the notification
envelopes (split under the payload limit, compressed when one message is too big), the
other servers' beds folded into this server's board, the ``SERVER_LOST`` condition, and
the API's answers for another server's bed (409 naming the server, reads allowed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from monitor.api import create_app
from monitor.config import BedConfig, DeviceConfig, Settings, UnitConfig
from monitor.domain.models import Observation
from monitor.live import cluster_wire as wire
from monitor.live.board import Board
from monitor.live.bus import Bus
from monitor.live.remote import (
    SERVER_LOST,
    ConditionAcknowledged,
    RemoteBeds,
    RemoteUpdate,
    ServerHeard,
)
from tests.liveserver import TEST_USERS, bearer, seed_users

USER = next(iter(TEST_USERS))


def _bed(bed_id: str, **fields) -> dict:
    """A whole bed as another server's /api/beds has it."""
    return {"id": bed_id, "label": bed_id.upper(), "connection": "connected",
            "devices": [{"id": f"{bed_id}-ox", "protocol": "masimo", "port": "/dev/x",
                         "state": "connected", "since": 1.0, "detail": "", "info": {}}],
            "latest": {}, "admission": None, "alarms": [], "audio_paused_until": None,
            "monitoring": False, "infusion_start": None, "baseline": None,
            "nibp_due_at": None, "artifacts": {}, **fields}


def _alarm(bed_id: str, alarm_id: str, priority: str = "medium", onset: float = 10.0) -> dict:
    return {"alarm_id": alarm_id, "bed_id": bed_id, "rule": "SPO2_LOW", "priority": priority,
            "technical": False, "latching": False, "onset": onset, "value": 90.0,
            "worst": 90.0, "threshold": 93.0, "baseline": None, "delay": 10.0,
            "message": "SpO2 low", "condition_active": True, "acknowledged": False,
            "acked_by": None, "acked_at": None, "escalated": False}


def _whole(*beds: dict) -> RemoteUpdate:
    return RemoteUpdate("B", tuple({"type": "bed", "bed": b} for b in beds),
                        tuple(b["id"] for b in beds))


# -- envelopes ------------------------------------------------------------------------------


def test_wire_envelopes_stay_under_the_payload_limit() -> None:
    head = wire.header("ward-b:8000", "abc123", ["bed-1", "bed-2"])
    texts = [json.dumps({"type": "vitals", "bed_id": f"bed-{i}", "values": {"HR": i}})
             for i in range(400)]
    groups, too_big = wire.pack(head, texts)
    assert not too_big and len(groups) > 1
    assert [t for g in groups for t in g] == texts  # in order, none lost
    for n, group in enumerate(groups, 1):
        payload = wire.envelope(head, n, 1.5e9, group)
        assert len(payload.encode()) < 8000
        message = wire.parse(payload)
        assert message is not None and message["n"] == n
        assert message["beds"] == ["bed-1", "bed-2"]
        assert wire.messages(message) == [json.loads(t) for t in group]


def test_wire_a_big_message_is_compressed_and_an_incompressible_one_set_apart() -> None:
    head = wire.header("b", "i")
    big = json.dumps({"type": "bed", "bed": {"id": "bed-1", "notes": ["same text"] * 2000}})
    noise = json.dumps({"type": "bed", "bed": {"id": "bed-2", "x": os.urandom(6000).hex()}})
    groups, too_big = wire.pack(head, [big, noise])
    (apart,) = too_big  # too big even compressed: its sender points to the table
    assert wire.messages({"d": [json.loads(apart)]}) == [json.loads(noise)]
    (group,) = groups
    payload = wire.envelope(head, 1, 0.0, group)
    assert len(payload) < 8000
    assert wire.messages(wire.parse(payload)) == [json.loads(big)]


def test_wire_parse_refuses_what_is_not_ours() -> None:
    assert wire.parse("not json") is None
    assert wire.parse('{"v": 99}') is None
    assert wire.parse("[1]") is None
    assert wire.parse(wire.control("resync", "a", "*"))["to"] == "*"


# -- other servers' beds --------------------------------------------------------------------


def test_remote_beds_fold_the_owner_messages() -> None:
    beds = RemoteBeds(["bed-a"])
    (delta,) = beds.fold(_whole(_bed("bed-b")))
    assert (delta.kind, delta.bed_id) == ("bed", "bed-b")
    assert beds.owner("bed-b") == "B" and beds.owner("bed-a") is None
    assert beds.fold(_whole(_bed("bed-b"))) == []  # the periodic picture, nothing new

    v = {"value": 95.0, "unit": "%", "time": 20.0, "flags": [], "device_id": "bed-b-ox"}
    old = {**v, "value": 80.0, "time": 5.0}
    deltas = beds.fold(RemoteUpdate("B", (
        {"type": "vitals", "bed_id": "bed-b", "device_id": "bed-b-ox", "time": 20.0,
         "values": {"SPO2": v}},
        {"type": "vitals", "bed_id": "bed-b", "device_id": "bed-b-ox", "time": 5.0,
         "values": {"SPO2": old}},
        {"type": "device", "bed_id": "bed-b", "device_id": "bed-b-ox", "state": "stale",
         "device": {**_bed("bed-b")["devices"][0], "state": "stale"}, "connection": "stale"},
        {"type": "alarm", "bed_id": "bed-b", "event": {}, "alarms": [_alarm("bed-b", "x/1")],
         "audio_paused_until": 99.0},
        {"type": "vitals", "bed_id": "bed-zz", "values": {}},  # not known whole: ignored
        {"type": "bed", "bed": {"id": "bed-zz", "label": "partial"}},
    )))
    assert [d.kind for d in deltas] == ["vitals", "vitals", "device", "alarm"]
    assert deltas[0].message["type"] == "vitals" and "type" not in deltas[0].message["values"]
    bed = beds.bed("bed-b")
    assert bed["latest"]["SPO2"]["value"] == 95.0  # an older reading never hides a newer one
    assert (bed["connection"], bed["devices"][0]["state"]) == ("stale", "stale")
    assert (bed["audio_paused_until"], beds.alarm_bed("x/1")) == (99.0, "bed-b")
    assert [b["id"] for b in beds.beds()] == ["bed-b"]

    beds.fold(RemoteUpdate("B", (), ()))  # the server has no beds any more
    assert beds.beds() == [] and beds.owner("bed-b") is None


def test_remote_beds_ignore_a_bed_that_is_this_servers() -> None:
    beds = RemoteBeds(["bed-a"])
    assert beds.fold(_whole(_bed("bed-a"), _bed("bed-b"))) != []
    assert [b["id"] for b in beds.beds()] == ["bed-b"]


def test_server_lost_raises_a_technical_alarm_until_heard_again() -> None:
    beds = RemoteBeds([])
    beds.fold(_whole(_bed("bed-b", alarms=[_alarm("bed-b", "b/1", "low")])))
    deltas = beds.fold(ServerHeard("B", True, 100.0, "Server B not heard for 8 s"))
    assert [d.kind for d in deltas] == ["alarm", "bed"]
    event = deltas[0].message["event"]
    assert (event["event"], event["rule"], event["technical"]) == ("onset", SERVER_LOST, True)
    bed = beds.bed("bed-b")
    lost = bed["alarms"][0]
    assert (lost["rule"], lost["priority"], lost["message"]) == (
        SERVER_LOST, "medium", "Server B not heard for 8 s")
    assert [a["alarm_id"] for a in bed["alarms"]][1:] == ["b/1"]  # screen order: medium first
    assert bed["connection"] == "stale" and bed["devices"][0]["detail"] == lost["message"]
    assert beds.is_condition(lost["alarm_id"]) and beds.alarm_bed(lost["alarm_id"]) == "bed-b"
    assert beds.fold(ServerHeard("B", True, 101.0)) == []  # already lost

    (acked,) = beds.fold(ConditionAcknowledged(lost["alarm_id"], "ada", 102.0))
    assert acked.message["event"]["event"] == "acknowledged"
    assert beds.bed("bed-b")["alarms"][0]["acked_by"] == "ada"

    deltas = beds.fold(ServerHeard("B", False, 110.0))
    assert deltas[0].message["event"]["event"] == "end"
    bed = beds.bed("bed-b")
    assert [a["alarm_id"] for a in bed["alarms"]] == ["b/1"]
    assert bed["connection"] == "connected"


def test_board_lists_every_servers_beds_and_alarms() -> None:
    bus = Bus()
    unit = UnitConfig(beds=[BedConfig(id="bed-a", devices=[
        DeviceConfig(id="a-ox", protocol="masimo", port="/dev/a")])])
    board = Board(bus, unit)
    stream = bus.subscribe(name="test")
    bus.publish(Observation.of("SPO2", 97, 1.0, "a-ox", bed_id="bed-a"))
    bus.publish(_whole(_bed("bed-b", alarms=[_alarm("bed-b", "b/1", "high")])))
    assert [b["id"] for b in board.snapshot()] == ["bed-a", "bed-b"]
    assert board.has_bed("bed-a") and not board.has_bed("bed-b")
    assert board.knows_bed("bed-b") and board.owner("bed-b") == "B"
    assert board.owner("bed-a") is None and not board.knows_bed("bed-c")
    assert [a.alarm_id for a in board.alarms()] == ["b/1"]
    assert board.alarms("bed-a") == [] and board.bed_dict("bed-b")["label"] == "BED-B"
    kinds = [e.kind for e in stream.drain() if hasattr(e, "kind")]
    assert kinds == ["vitals", "bed"]
    bus.close()


# -- the API for another server's bed -------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path):
    unit = UnitConfig(beds=[BedConfig(id="bed-a", label="Bed A")])
    tokens: dict[str, str] = {}

    async def on_started(service) -> None:
        tokens.update(await seed_users(service, TEST_USERS))
        service.bus.publish(_whole(_bed("bed-b", alarms=[_alarm("bed-b", "b/1")])))

    app = create_app(Settings(db=str(tmp_path / "c.db")), unit, on_started=on_started)
    with TestClient(app) as c:
        c.headers.update(bearer(tokens[USER]))
        yield c


def test_api_reads_another_servers_bed_and_refuses_its_actions(client: TestClient) -> None:
    assert [b["id"] for b in client.get("/api/beds").json()] == ["bed-a", "bed-b"]
    assert client.get("/api/beds/bed-b").json()["label"] == "BED-B"
    assert client.get("/api/beds/bed-b/observations").json() == []
    assert [a["alarm_id"] for a in client.get("/api/alarms").json()] == ["b/1"]
    assert [a["alarm_id"] for a in client.get("/api/alarms",
                                               params={"bed_id": "bed-b"}).json()] == ["b/1"]
    r = client.post("/api/beds/bed-b/admit", json={"patient_label": "X"})
    assert r.status_code == 409 and "served by server B" in r.json()["detail"], r.text
    assert client.get("/api/beds/bed-b/events").status_code == 409
    assert client.post("/api/beds/bed-c/admit", json={"patient_label": "X"}).status_code == 404
    # Forwarding needs the cluster (PostgreSQL): without it, not confirmed (503).
    r = client.post("/api/alarms/b/1/acknowledge", json={})
    assert r.status_code == 503, r.text
    with client.websocket_connect("/ws/live") as ws:
        snapshot = ws.receive_json()
    assert [b["id"] for b in snapshot["beds"]] == ["bed-a", "bed-b"]
