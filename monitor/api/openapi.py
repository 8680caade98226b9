"""The API's description tells the truth about the answers every route may give, and a
method a route does not take is a 405 that names the ones it does.

FastAPI documents a route's own answers (its response model, the 422 of validation, the
``responses=`` it lists). Some answers come from the layers in front of every route, and
are added here to each operation of the description:

- ``400``: a body that does not parse, or JSON nested too deep (:mod:`monitor.api.limits`);
- ``413``: a body larger than the route takes (:mod:`monitor.api.limits`);
- ``401``: every ``/api`` route needs a signed-in user (:mod:`monitor.api.auth`);
- ``403``: a change (any method but GET) made with the session cookie from another site's
  page is refused, whatever the route.

Every 4xx other than the 422 of validation is ``{"detail": "what is wrong"}``
(:data:`ERROR_SCHEMA`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error", "type": "object", "required": ["detail"],
    "properties": {"detail": {"type": "string", "description": "what is wrong, for people"}},
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}

EVERY_ROUTE = {
    "400": "the body does not parse, or its JSON nests arrays or objects deeper than 32 "
           "levels",
    "413": "the body is larger than this route takes (1 MiB; the research CSV 20 MiB)",
}
SIGNED_IN = {"401": "not signed in: no session or API token, or one that has ended"}
CHANGES = {"403": "a change made with the session cookie from another site's page"}


def error_answer(description: str) -> dict[str, Any]:
    """A documented 4xx answer: ``{"detail": "..."}``."""
    return {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` add the answers of the layers in front of the routes."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_shared_answers(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_shared_answers(schema: dict[str, Any]) -> dict[str, Any]:
    """Add to each operation of ``schema`` the answers every route of its kind may give,
    and the error shape to the 4xx answers the routes list without one."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            answers = operation.setdefault("responses", {})
            shared = dict(EVERY_ROUTE)
            if path.startswith("/api/"):
                shared.update(SIGNED_IN)
                if method != "get":
                    shared.update(CHANGES)
            for code, description in shared.items():
                answers.setdefault(code, error_answer(description))
            for code, answer in answers.items():
                if code.startswith("4") and code != "422" and "content" not in answer:
                    answer["content"] = {"application/json": {"schema": _ERROR_REF}}
    return schema


class MethodNotAllowed:
    """In front of the dashboard's files (mounted at ``/``, which would otherwise answer
    any path with its own "GET, HEAD"): a request whose path a route has but whose method
    none takes is a 405 with ``Allow`` naming that route's methods.

    Args:
        app: what serves everything else (the static files).
        routes: the application's routes (read at each request: routes added later count).
    """

    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            allowed = self.allowed_methods(scope)
            if allowed:
                refusal = JSONResponse({"detail": "Method Not Allowed"}, status_code=405,
                                       headers={"Allow": ", ".join(allowed)})
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def allowed_methods(self, scope: Scope) -> list[str]:
        """The methods the routes take at this request's path (none: not a route's path).

        Each method is tried on each route, since FastAPI keeps an included router's
        routes behind a route of its own."""
        return [method for method in _METHODS
                if any(not isinstance(route, Mount)
                       and route.matches({**scope, "method": method})[0] is Match.FULL
                       for route in self.routes)]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
