"""The servers' messages to each other over PostgreSQL notifications: pure, no I/O.

Two channels:

- :data:`LIVE_CHANNEL`: each server's board deltas, batched. One notification is an
  envelope ``{"v": 1, "s": server, "i": instance, "n": seq, "t": sent_at, "d": [...]}``
  whose ``d`` holds live-stream messages of the sender's own beds, exactly as its
  ``/ws/live`` sends them (``vitals``, ``device``, ``alarm``, ``bed``; a whole ``bed`` is
  how a snapshot travels). ``n`` counts the sender's notifications (a gap means some were
  missed); ``beds`` (the sender's beds, in order) comes with heartbeats and snapshots;
  ``table: true`` says "read my snapshot from the ``servers`` table" (a message too big
  even compressed); ``bye: true`` is the last one of a server that stops. A message too
  big for one notification travels compressed, as ``{"z": base64(zlib(json))}`` in ``d``.
- :data:`CONTROL_CHANNEL`: ``{"v": 1, "t": kind, "from": server, "to": server or "*",
  ...}`` with ``t`` one of ``req`` (a forwarded action: ``id``, ``op``, ``args``), ``rep``
  (its answer: ``id``, ``status``, ``body`` or ``error`` and ``detail``), ``resync``
  (send me your whole picture) and ``ack`` (a ``SERVER_LOST`` alarm acknowledged:
  ``alarm_id``, ``user``, ``at``).

PostgreSQL refuses a payload of 8000 bytes or more; :func:`pack` keeps each envelope under
:data:`PAYLOAD_LIMIT`.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

LIVE_CHANNEL = "spu_monitor_live"
CONTROL_CHANNEL = "spu_monitor_control"
VERSION = 1
PAYLOAD_LIMIT = 7900
"""Bytes per notification at most (PostgreSQL's limit is 8000, its queue entry header aside)."""
_HEADER_ROOM = 48
"""Room kept in each envelope for ``n`` and ``t``, filled in after packing."""


def header(server: str, instance: str, beds: Sequence[str] | None = None,
           table: bool = False) -> dict[str, Any]:
    """The fixed part of an envelope (``n`` and ``t`` are added per notification)."""
    out: dict[str, Any] = {"v": VERSION, "s": server, "i": instance}
    if beds is not None:
        out["beds"] = list(beds)
    if table:
        out["table"] = True
    return out


def _compressed(text: str) -> str:
    packed = base64.b64encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")
    return json.dumps({"z": packed})


def pack(head: Mapping[str, Any], texts: Sequence[str], limit: int | None = None
         ) -> tuple[list[list[str]], list[str]]:
    """Split message texts (JSON objects) into groups that each fit one envelope.

    A text too big alone is compressed; one too big even so is returned apart (its sender
    points the others to its snapshot in the table instead). ``limit`` defaults to
    :data:`PAYLOAD_LIMIT`.

    Returns:
        the groups (at least one, maybe empty: a heartbeat) and the texts too big to send.
    """
    room = (PAYLOAD_LIMIT if limit is None else limit) - len(json.dumps(dict(head))) \
        - len(',"d":[]') - _HEADER_ROOM
    groups: list[list[str]] = [[]]
    size = 0
    too_big: list[str] = []
    for text in texts:
        if len(text.encode("utf-8")) > room:
            text = _compressed(text)
            if len(text) > room:
                too_big.append(text)
                continue
        if groups[-1] and size + len(text) + 1 > room:
            groups.append([])
            size = 0
        groups[-1].append(text)
        size += len(text) + 1
    return groups, too_big


def envelope(head: Mapping[str, Any], seq: int, sent_at: float, texts: Sequence[str]) -> str:
    """One notification's payload."""
    fixed = json.dumps({**head, "n": seq, "t": round(sent_at, 4)})
    return fixed[:-1] + ',"d":[' + ",".join(texts) + "]}"


def parse(payload: str) -> dict[str, Any] | None:
    """An envelope or control message; None when it is not one of ours (or is garbled)."""
    try:
        message = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("v") != VERSION:
        return None
    return message


def messages(envelope_: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The live messages of an envelope, compressed ones opened."""
    out = []
    for item in envelope_.get("d") or []:
        if isinstance(item, dict) and set(item) == {"z"}:
            try:
                item = json.loads(zlib.decompress(base64.b64decode(item["z"])))
            except (ValueError, zlib.error):
                continue
        if isinstance(item, dict):
            out.append(item)
    return out


def control(kind: str, sender: str, to: str, **fields: Any) -> str:
    """A control message's payload."""
    return json.dumps({"v": VERSION, "t": kind, "from": sender, "to": to, **fields})
