"""Escalation to a second channel: alarms left unacknowledged are posted to a webhook.

The rules engine decides *when* an alarm escalates (medium after 60 s, high after 30 s
unacknowledged) and emits an ``escalation`` event for the charge nurse. This subscriber
delivers those events to an optional webhook (a pager gateway, a chat channel). The body
names the bed and the condition, never the patient. Delivery is retried; a webhook that
stays down is logged once and never slows the rest of the service.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from monitor.domain.models import AlarmEvent
from monitor.live.bus import Bus

_LOGGER = logging.getLogger(__name__)

RETRIES = 3


def escalation_payload(event: AlarmEvent, unit: str) -> dict[str, Any]:
    """What the webhook receives: enough to act on, and no patient identifier."""
    return {
        "unit": unit,
        "bed_id": event.bed_id,
        "alarm_id": event.alarm_id,
        "rule": event.rule,
        "priority": event.priority,
        "technical": event.technical,
        "message": event.message,
        "value": event.value,
        "time": event.time,
        "target": event.target,
    }


class EscalationNotifier:
    """Posts escalation events to ``url`` as JSON.

    Args:
        bus: where alarm events come from.
        url: the webhook.
        unit: the unit's name, put in every message.
        timeout: seconds per attempt.
    """

    def __init__(self, bus: Bus, url: str, unit: str, timeout: float = 5.0) -> None:
        self.url = url
        self.unit = unit
        self.timeout = timeout
        self.sent = 0
        self.failed = 0
        self._failing = False
        self.subscription = bus.subscribe(AlarmEvent, maxsize=10_000, name="escalation")

    async def run(self) -> None:
        """Deliver until the bus closes (the subscription outlives a restart of this loop)."""
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            async for event in self.subscription:
                if event.event == "escalation":
                    await self.deliver(client, event)

    async def deliver(self, client: httpx.AsyncClient, event: AlarmEvent) -> bool:
        """Post one event, retrying; True when the webhook took it."""
        body = escalation_payload(event, self.unit)
        for attempt in range(1, RETRIES + 1):
            try:
                response = await client.post(self.url, json=body)
                if response.status_code < 300:
                    self.sent += 1
                    if self._failing:
                        self._failing = False
                        _LOGGER.info("escalation webhook recovered")
                    return True
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            if attempt < RETRIES:
                await asyncio.sleep(0.5 * attempt)
        self.failed += 1
        if not self._failing:
            self._failing = True
            _LOGGER.error("escalation webhook failed (%s); escalations are still shown on "
                          "the dashboard", problem)
        return False
