"""How the project's errors become HTTP answers.

Only errors raised on purpose map to a 4xx: a request that does not fit the records (409;
404 for a record that does not exist),
content a rule or the charting refuses (422, in FastAPI's documented validation shape,
naming the field), an unknown alarm (404), a role that does not allow it (403). Anything
else is a bug: a 500, logged with its traceback by the server.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from monitor.domain.errors import (
    AccessDenied,
    BaselineError,
    ChartError,
    InvalidValue,
    MonitorError,
    RecordError,
    RecordNotFound,
    RuleError,
    StoreError,
    UnknownAlarmError,
)
from monitor.records.cohort import CohortError


def invalid(loc: Sequence[str | int], message: str, value: object = None
            ) -> RequestValidationError:
    """A 422 in the schema's shape (``{"detail": [{"loc", "msg", "type"}]}``)."""
    return RequestValidationError([{"type": "value_error", "loc": tuple(loc), "msg": message,
                                    "input": value}])


def field_loc(exc: MonitorError, *prefix: str) -> tuple[str, ...]:
    """Where the error points in a request body: ``prefix`` plus the error's field."""
    return (*prefix, *(exc.field.split(".") if exc.field else ()))


def install(app: FastAPI) -> None:
    """Register the handlers of the project's errors on ``app``."""

    @app.exception_handler(RecordError)
    async def conflict(_request: Request, exc: RecordError) -> JSONResponse:
        body: dict[str, str] = {"detail": str(exc)}
        if exc.field:
            body["field"] = exc.field  # the input the conflict is about (an identifier)
        return JSONResponse(body, status_code=409)

    @app.exception_handler(RecordNotFound)
    async def not_found(_request: Request, exc: RecordNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(BaselineError)
    async def no_baseline(_request: Request, exc: BaselineError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(StoreError)
    async def store_down(_request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503,
                            headers={"Retry-After": "5"})

    @app.exception_handler(UnknownAlarmError)
    async def unknown_alarm(_request: Request, exc: UnknownAlarmError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(AccessDenied)
    async def denied(_request: Request, exc: AccessDenied) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(ChartError)
    async def bad_chart(_request: Request, exc: ChartError) -> JSONResponse:
        return _unprocessable(field_loc(exc, "body"), str(exc))

    @app.exception_handler(InvalidValue)
    async def bad_value(_request: Request, exc: InvalidValue) -> JSONResponse:
        return _unprocessable(field_loc(exc, "body"), str(exc))

    @app.exception_handler(CohortError)
    async def bad_file(_request: Request, exc: CohortError) -> JSONResponse:
        loc = ["body", *([f"row {exc.row}"] if exc.row is not None else []),
               *([exc.column] if exc.column else [])]
        return _unprocessable(tuple(loc), str(exc))

    @app.exception_handler(RuleError)
    async def bad_rule(_request: Request, exc: RuleError) -> JSONResponse:
        return _unprocessable(field_loc(exc, "body", "settings"), str(exc))


def _unprocessable(loc: tuple[str, ...], message: str) -> JSONResponse:
    return JSONResponse({"detail": [{"type": "value_error", "loc": list(loc), "msg": message}]},
                        status_code=422)
