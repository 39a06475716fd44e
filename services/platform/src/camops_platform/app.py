"""The platform's HTTP API (FastAPI; OpenAPI at /api/v1/openapi.json).

People log in with their e-mail and password (a server-side session in an HttpOnly cookie);
automation (the registration modules) uses scoped bearer tokens. nginx asks ``/api/v1/authz``
before every live or playback request (``auth_request``): 204 lets it through, 401/403 stop it,
and every decision on a playlist is written to the audit log.

This module makes the app (``create_app``; uvicorn serves ``camops_platform.app:app``) and runs
its background work while it is up. The routes are in ``camops_platform.routers`` (one router per
domain), what they share in ``camops_platform.deps``, the SQL in ``camops_platform.store``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from psycopg_pool import ConnectionPool

from camops_platform.background import resume_exports, watch_alertmanager
from camops_platform.deps import export_settings
from camops_platform.routers import ROUTERS


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The database pool, the paths and the export workers on ``app.state``; the exports left
    unstarted at the last stop queued; the Alertmanager watcher running. All stopped after."""
    pool = ConnectionPool(
        os.environ.get("CAMOPS_PLATFORM_DSN", ""),
        open=False,
        min_size=1,
        max_size=int(os.environ.get("CAMOPS_PLATFORM_DB_POOL", "8")),
    )
    pool.open(wait=True, timeout=30)
    app.state.pool = pool
    app.state.recordings = Path(
        os.environ.get("CAMOPS_PLATFORM_RECORDINGS", "/var/lib/camops/recordings")
    )
    app.state.exports = Path(
        os.environ.get("CAMOPS_PLATFORM_EXPORTS", "/var/lib/camops-platform/exports")
    )
    app.state.segment_length = timedelta(
        seconds=int(os.environ.get("CAMOPS_PLATFORM_SEGMENT_SECONDS", "60"))
    )
    workers = ThreadPoolExecutor(
        max_workers=int(os.environ.get("CAMOPS_PLATFORM_EXPORT_WORKERS", "2")),
        thread_name_prefix="export",
    )
    app.state.exporter = workers
    resume_exports(pool, workers, export_settings(app))  # accepted before the last stop
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_alertmanager, args=(pool, stop), name="incidents", daemon=True
    )
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=10)
        workers.shutdown(wait=True, cancel_futures=True)
        pool.close()


def create_app() -> FastAPI:
    """The platform's app: every domain's router; the lifespan above."""
    app = FastAPI(
        title="camops platform",
        version="1",
        summary="Catalog, accounts, role grants, authorization and audit log (R6-R8)",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    for router in ROUTERS:
        app.include_router(router)
    return app


app = create_app()
