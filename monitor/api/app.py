"""The application: ``create_app(settings, unit)`` wires the routers, the pages, the error
handlers and the lifespan that runs the :class:`~monitor.service.Service`.

Routes, one router per resource (each module documents its own):

- ``GET /healthz``: liveness and counters, the only route open without sign-in;
- :mod:`monitor.api.pages`: ``/login``, ``/logout``, the dashboard ``/``, ``/docs``;
- :mod:`monitor.api.users`: ``/api/me``, ``/api/users``;
- :mod:`monitor.api.audit`: the audit trail and its hash chains, for admins;
- :mod:`monitor.api.beds`: ``/api/beds``, a bed, its stored observations;
- :mod:`monitor.api.alarms`: active alarms, the alarm log, acknowledge, audio pause,
  per-patient alarm settings;
- :mod:`monitor.api.disclosure`: stored waveforms, an alarm's strip, a session's storage;
- :mod:`monitor.api.sessions`: admit, infusion start, pause, resume and stop, discharge,
  charting, baselines;
- :mod:`monitor.api.patients`: patients (search, registration, changes) and their courses
  (dose plan, follow-up journals);
- :mod:`monitor.api.records`: past sessions (trends, alarm log, entries), corrections of
  charted entries, the records' vocabulary;
- :mod:`monitor.api.reports`: unit, course and session reports (JSON and PDF), the research
  CSV exported and imported;
- :mod:`monitor.api.interfaces`: the HL7 outbox and the interfaces' counters;
- :mod:`monitor.api.fhir`: the read-only FHIR R4 API under ``/fhir``;
- :mod:`monitor.api.live`: the ``/ws/live`` stream;
- everything else under ``/``: the dashboard's static files (``web/``); a method a route
  does not take is a 405 naming those it does (:mod:`monitor.api.openapi`, which also
  documents the answers of the layers in front of the routes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from monitor.api import (
    alarms,
    audit,
    beds,
    disclosure,
    errors,
    fhir,
    interfaces,
    live,
    openapi,
    pages,
    patients,
    records,
    reports,
    sessions,
    users,
)
from monitor.api.auth import current_user
from monitor.api.deps import ServiceDep
from monitor.api.limits import BodyLimit
from monitor.api.openapi import MethodNotAllowed
from monitor.auth.accounts import Accounts
from monitor.config import Settings, UnitConfig
from monitor.domain.errors import MonitorError
from monitor.service import Service
from monitor.storage.database import Store, safe_url

_LOGGER = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parents[2] / "web"

OnStarted = Callable[[Service], Awaitable[None]]


def create_app(settings: Settings | None = None, unit: UnitConfig | None = None,
               on_started: OnStarted | None = None) -> FastAPI:
    """Build the application.

    Args:
        settings: service settings (environment defaults when None).
        unit: beds and devices (from ``settings.config`` when None, else an empty unit).
        on_started: run once the service is up (the demo admits its patients here).
    """
    settings = settings or Settings()
    if unit is None:
        unit = UnitConfig.load(settings.config) if settings.config else UnitConfig()
    app = FastAPI(
        title="SPU Monitor",
        version="0.1.0",
        summary="Secondary alarm display and vital-sign central station for a short "
        "procedure unit. Not a certified medical device.",
        lifespan=_lifespan(settings, unit, on_started),
        # The API's description is behind sign-in too (monitor.api.pages).
        docs_url=None, redoc_url=None, openapi_url=None,
    )
    app.state.startup_error = None
    app.add_api_route("/healthz", _healthz, methods=["GET"], tags=["service"])
    api = APIRouter(dependencies=[Depends(current_user)])
    for module in (beds, disclosure, alarms, sessions, patients, records, reports, users,
                   audit, interfaces):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(fhir.router, dependencies=[Depends(current_user)])
    app.include_router(live.router)
    errors.install(app)
    # Inside the security headers (installed with the pages), so its refusals carry them.
    app.add_middleware(BodyLimit, paths={"/api/records/import": reports.MAX_IMPORT_BYTES})
    pages.install_pages(app, settings, WEB_DIR)
    openapi.install(app)
    if WEB_DIR.is_dir():
        static = StaticFiles(directory=WEB_DIR, html=True)
        app.mount("/", MethodNotAllowed(static, app.router.routes), name="web")
    return app


async def _healthz(service: ServiceDep) -> dict[str, Any]:
    """Liveness and counters (no patient data)."""
    return {"status": "ok", "time": time.time(), **service.health()}


def _lifespan(settings: Settings, unit: UnitConfig, on_started: OnStarted | None
              ) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            store = await Store.open(settings.db_url)
        except MonitorError as exc:
            app.state.startup_error = exc
            raise
        task: asyncio.Task[None] | None = None
        try:
            service = Service(settings, unit, store)
            app.state.service = service
            app.state.accounts = Accounts(store, settings.session_idle_minutes * 60)
            await _warn_without_accounts(app.state.accounts, settings)
            task = asyncio.create_task(service.run(), name="service")
            await _until_started(app, service, task)
            if on_started is not None:
                await on_started(service)
            yield
        finally:
            if task is not None:
                await _stop(task)
            await store.close()

    return lifespan


async def _until_started(app: FastAPI, service: Service, task: asyncio.Task[None]) -> None:
    """Wait for the service to start; a service that fails first fails the start-up."""
    started = asyncio.create_task(service.started.wait())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if not service.started.is_set():
        started.cancel()
        exc = task.exception() if not task.cancelled() else None
        app.state.startup_error = exc
        raise exc if exc is not None else MonitorError("the service stopped while starting")


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, MonitorError):
        await task


async def _warn_without_accounts(accounts: Accounts, settings: Settings) -> None:
    if not await accounts.users():
        # There is no default account, on purpose; say how to make the first one.
        _LOGGER.warning("no user accounts yet: nobody can sign in. Create the first with "
                        "`spu-monitor users add NAME --role admin --db %s` (the password is "
                        "read from standard input)", safe_url(settings.db))
