"""Actions forwarded between servers: an acknowledgement or an audio pause asked on one
server for a bed of another is executed by the bed's own server (durably: committed there
before it answers) and its answer, or its error, comes back to the one asked.

Requests and answers are control messages (:mod:`monitor.live.cluster_wire`, ``req`` and
``rep``); :class:`~monitor.live.cluster.Cluster` sends and receives them. An error comes
back by its class name and is raised again here, so the API answers as the owner would have
(404 unknown alarm, 503 database...). No answer within :data:`FORWARD_TIMEOUT_S` is a
:class:`ServerUnavailable` (503): the action is not confirmed, and the screens show whether
it happened.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from monitor.domain.errors import (
    AdmissionError,
    BaselineError,
    InvalidValue,
    MonitorError,
    RecordError,
    RecordNotFound,
    StoreError,
    UnknownAlarmError,
)

_LOGGER = logging.getLogger(__name__)

FORWARD_TIMEOUT_S = 7.0
"""How long a forwarded action waits for its answer (the owner's own commit gives up
after 5 s, so its answer comes first)."""

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
"""Executes a forwarded action here: (op, args) -> the answer's body."""

Send = Callable[..., Awaitable[None]]
"""Sends a control message: ``send(kind, to, **fields)``."""


class ServerUnavailable(StoreError):
    """The server of a bed cannot be reached now: it is not heard, the database link is
    down, or it did not answer within :data:`FORWARD_TIMEOUT_S` (an HTTP 503). The action
    is not confirmed: what the screens show is what happened."""


_ERRORS: dict[str, type[MonitorError]] = {cls.__name__: cls for cls in (
    UnknownAlarmError, RecordNotFound, AdmissionError, RecordError, InvalidValue,
    BaselineError, ServerUnavailable, StoreError)}
"""Errors a forwarded action may answer with, raised again where it was asked."""


class Forwarder:
    """Both ends of forwarded actions.

    Args:
        name: this server's name.
        send: sends a control message to the other servers.
        handler: executes an action forwarded to this server.
    """

    def __init__(self, name: str, send: Send, handler: Handler) -> None:
        self.name = name
        self.send = send
        self.handler = handler
        self.stats: collections.Counter[str] = collections.Counter()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def request(self, message: dict[str, Any]) -> None:
        """A ``req`` for this server: executed in its own task, then answered."""
        task = asyncio.create_task(self._execute(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def answer(self, message: dict[str, Any]) -> None:
        """A ``rep`` for this server: the waiting :meth:`forward` returns."""
        future = self._pending.get(str(message.get("id")))
        if future is not None and not future.done():
            future.set_result(message)

    async def _execute(self, request: dict[str, Any]) -> None:
        answer: dict[str, Any]
        op, args = str(request.get("op")), dict(request.get("args") or {})
        try:
            answer = {"status": "ok", "body": await self.handler(op, args)}
            self.stats["executed"] += 1
        except MonitorError as exc:
            answer = {"status": "error", "error": type(exc).__name__, "detail": str(exc)}
        except Exception:
            _LOGGER.exception("forwarded %s failed", op)
            answer = {"status": "error", "error": "MonitorError",
                      "detail": f"server {self.name} failed to {op}: see its log"}
        try:
            await self.send("rep", str(request.get("from")), id=request.get("id"), **answer)
        except (SQLAlchemyError, OSError) as exc:
            _LOGGER.error("cannot answer a forwarded %s (%s)", op, exc)

    async def forward(self, server: str, op: str, args: dict[str, Any],
                      timeout: float = FORWARD_TIMEOUT_S) -> dict[str, Any]:
        """Have ``server`` execute an action on one of its beds; return its answer's body.

        Raises:
            ServerUnavailable: the request could not be sent, or no answer came within
                ``timeout``.
            MonitorError: what the server answered (an unknown alarm...), raised again.
        """
        request_id = secrets.token_hex(8)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self.stats["forwarded"] += 1
        try:
            await self.send("req", server, id=request_id, op=op, args=args)
            async with asyncio.timeout(timeout):
                answer = await future
        except TimeoutError:
            self.stats["timeouts"] += 1
            raise ServerUnavailable(f"server {server} did not answer within {timeout:.0f} s: "
                                    "the action is not confirmed") from None
        except (SQLAlchemyError, OSError) as exc:
            raise ServerUnavailable(f"the request could not be sent to server {server}: "
                                    f"{exc}") from None
        finally:
            self._pending.pop(request_id, None)
        if answer.get("status") == "ok":
            body: dict[str, Any] = answer.get("body") or {}
            return body
        raise _ERRORS.get(str(answer.get("error")), MonitorError)(str(answer.get("detail")))
