"""Escalation webhook: unacknowledged alarms reach a real HTTP endpoint, without patient data."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor.domain.models import AlarmEvent
from monitor.live.bus import Bus
from monitor.live.escalation import EscalationNotifier
from tests.conftest import MS
from tests.liveserver import free_port


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/page", received
    server.shutdown()


def event(kind: str) -> AlarmEvent:
    return AlarmEvent("bed-3/7/SPO2_LOW", "bed-3", "SPO2_LOW", "medium", False, kind, 1000.0,
                      value=89.0, threshold=93.0, message="SpO2 89 % < 93 %",
                      target="charge_nurse" if kind == "escalation" else None)


async def test_escalation_reaches_webhook_without_patient_data(webhook) -> None:
    url, received = webhook
    bus = Bus()
    notifier = EscalationNotifier(bus, url, "SPU east")
    task = asyncio.create_task(notifier.run())
    bus.publish(event("onset"))  # not an escalation: not sent
    bus.publish(event("escalation"))
    async with asyncio.timeout(5000 * MS):
        while not received:
            await asyncio.sleep(0.02)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(received) == 1
    body = received[0]
    assert body["bed_id"] == "bed-3" and body["rule"] == "SPO2_LOW"
    assert body["target"] == "charge_nurse" and body["unit"] == "SPU east"
    assert set(body) == {"unit", "bed_id", "alarm_id", "rule", "priority", "technical",
                         "message", "value", "time", "target"}


async def test_escalation_webhook_down_is_counted_not_fatal() -> None:
    bus = Bus()
    notifier = EscalationNotifier(bus, f"http://127.0.0.1:{free_port()}/x", "SPU", timeout=0.5)
    task = asyncio.create_task(notifier.run())
    bus.publish(event("escalation"))
    async with asyncio.timeout(10000 * MS):
        while not notifier.failed:
            await asyncio.sleep(0.05)
    assert not task.done()  # still running, ready for the next one
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
