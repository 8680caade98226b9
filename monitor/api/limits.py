"""Request bodies bounded before anything parses them: size per route, and JSON nesting.

An ASGI middleware in front of every route (the sign-in form included, which anyone may
reach):

- a declared ``Content-Length`` over the route's limit is refused with 413 at once,
  before a byte of the body is read;
- a body sent without one (chunked) is counted as it arrives and refused with 413 when it
  passes the limit, so the server never holds more than the limit;
- a JSON body (or one without a content type, which FastAPI parses as JSON) nesting deeper
  than :data:`MAX_JSON_DEPTH` is refused with 400 before the parser recurses into it.

The limit is :data:`DEFAULT_MAX_BODY` unless the route's path has its own (the research
CSV import takes 20 MiB).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY = 1024 * 1024
"""Bytes a request body may have unless its route says otherwise."""
MAX_JSON_DEPTH = 32
"""How deep a JSON body may nest arrays and objects (ours need 4)."""

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SAME_BRACKETS = bytes.maketrans(b"{}", b"[]")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether the brackets of ``body`` (outside strings) nest deeper than ``limit``.

    A scan at C speed, whatever the body: strings are cut out, everything but brackets
    dropped, then each pass removes the innermost pairs (one level); brackets that no pass
    can pair (an array never closed) count as levels too. Malformed JSON may be judged too
    deep; the parser would refuse it anyway.
    """
    brackets = _STRING.sub(b"", body).translate(_SAME_BRACKETS, _NOT_BRACKETS)
    levels = 0
    while brackets and levels <= limit:
        fewer = brackets.replace(b"[]", b"")
        if len(fewer) == len(brackets):
            break
        brackets, levels = fewer, levels + 1
    # What is left has no "[]": some "]" then some "[" (unclosed levels).
    unclosed = brackets.count(b"[") - brackets.count(b"]")
    return levels + max(0, unclosed) > limit


def _is_json(headers: Headers) -> bool:
    content_type = headers.get("content-type")
    if content_type is None:
        return True
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


class BodyLimit:
    """The middleware (see the module docstring).

    Args:
        app: the application behind it.
        default: bytes a body may have.
        paths: exact request paths with their own limit.
        max_depth: deepest JSON nesting allowed.
    """

    def __init__(self, app: ASGIApp, default: int = DEFAULT_MAX_BODY,
                 paths: Mapping[str, int] | None = None,
                 max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.default = default
        self.paths = dict(paths or {})
        self.max_depth = max_depth

    def limit_for(self, path: str) -> int:
        """The body limit of a request path."""
        return self.paths.get(path, self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, 413, _too_large(limit))
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away while sending
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(send, 413, _too_large(limit))
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and _is_json(headers) and json_depth_exceeds(body, self.max_depth):
            await _refuse(send, 400, f"the JSON body nests arrays or objects deeper than "
                          f"{self.max_depth} levels")
            return
        await self.app(scope, _replay(body, receive), send)


def _too_large(limit: int) -> str:
    return f"the request body is larger than this route takes ({limit} bytes)"


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read already, as the app's first message; then the real channel (which
    reports the client leaving)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(send: Send, status: int, detail: str) -> None:
    content = json.dumps({"detail": detail}).encode()
    # Connection: close, so the server stops reading what the client still sends.
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(content)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": content})
