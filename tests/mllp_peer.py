"""A real HL7 receiver for tests: an asyncio MLLP server on loopback that parses every
message with an independent parser (the ``hl7`` package from PyPI), answers each with an
ACK it writes itself, and can be stopped and started again on the same port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import hl7

START, END = b"\x0b", b"\x1c\x0d"

Answer = Callable[[hl7.Message], str]
"""Decides MSA-1 (``AA``, ``AE``, ``AR``) for a parsed message."""


def accept(_message: hl7.Message) -> str:
    """Accept everything."""
    return "AA"


def field(message: hl7.Message, segment: str, n: int, index: int = 0) -> str:
    """Field ``n`` of the ``index``-th ``segment`` as text ("" when absent)."""
    segs = message.segments(segment)
    seg = segs[index]
    return str(seg[n]) if len(seg) > n else ""


class MllpPeer:
    """The receiver. ``received`` holds every message parsed, in arrival order (a message
    sent twice, because its first ACK was lost, is there twice)."""

    def __init__(self, port: int = 0, answer: Answer = accept) -> None:
        self.port = port
        self.answer = answer
        self.received: list[hl7.Message] = []
        self.server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.arrived = asyncio.Event()

    async def start(self) -> MllpPeer:
        """Listen (again) on the port."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                 reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop every connection (the receiver goes away)."""
        if self.server is not None:
            self.server.close()
        for w in list(self._writers):
            w.close()
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)
        self.server = None

    def control_ids(self) -> list[str]:
        """MSH-10 of each message received, in order."""
        return [field(m, "MSH", 10) for m in self.received]

    def of_type(self, trigger: str) -> list[hl7.Message]:
        """Messages whose MSH-9 trigger is ``trigger`` (``R01``, ``R40``)."""
        return [m for m in self.received if str(m.segment("MSH")[9][0][1]) == trigger]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        buf = b""
        try:
            while data := await reader.read(65536):
                buf += data
                while START in buf and END in buf:
                    start = buf.index(START)
                    end = buf.index(END, start)
                    text = buf[start + 1:end].decode("utf-8")
                    buf = buf[end + 2:]
                    message = hl7.parse(text)
                    code = self.answer(message)
                    self.received.append(message)
                    self.arrived.set()
                    control = field(message, "MSH", 10)
                    why = "" if code == "AA" else "refused by the peer"
                    ack = (f"MSH|^~\\&|PEER|TEST|||20260101000000||ACK|A{control}|P|2.6\r"
                           f"MSA|{code}|{control}|{why}\r")
                    writer.write(START + ack.encode() + END)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
