"""The platform's work outside requests: export workers and the Alertmanager watcher.

Both are started and stopped by the app's lifespan (``camops_platform.app``).
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Executor
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from camops_platform import exports, incidents
from camops_platform.deps import alertmanager

log = logging.getLogger("camops_platform")


# Exports (R5) ---------------------------------------------------------------------------------


def produce_export(
    pool: ConnectionPool[psycopg.Connection[Any]], request_id: int, settings: exports.Settings
) -> None:
    """Make one export (in a worker thread); a database connection only to claim and record."""
    try:
        with pool.connection() as conn:
            conn.autocommit = True
            request = exports.claim(conn, request_id)
        if request is None:
            return  # another worker has it, or it is done
        made: exports.Made | exports.ExportError
        try:
            made = exports.make(request, settings)
        except exports.ExportError as error:
            made = error
        with pool.connection() as conn:
            conn.autocommit = True
            exports.finish(conn, request, made)
    except Exception:
        log.exception("export %s", request_id)
        raise


def resume_exports(
    pool: ConnectionPool[psycopg.Connection[Any]], workers: Executor, settings: exports.Settings
) -> None:
    """Queue the requests accepted before the last stop but never started."""
    with pool.connection() as conn:
        for request_id in exports.unstarted(conn):
            workers.submit(produce_export, pool, request_id, settings)


# Incidents (R3) -------------------------------------------------------------------------------


def watch_alertmanager(pool: ConnectionPool[Any], stop: threading.Event) -> None:
    """Resolve acknowledged incidents whose alert ended (their silence muted the news)."""
    every = float(os.environ.get("CAMOPS_PLATFORM_INCIDENT_POLL_SECONDS", "15"))
    while not stop.wait(every):
        manager = alertmanager()
        if manager is None:
            continue
        try:
            with pool.connection() as conn:
                conn.autocommit = True
                resolved = incidents.reconcile(conn, manager)
        except (incidents.AlertmanagerError, psycopg.Error) as error:
            log.warning("incidents not reconciled with Alertmanager: %s", error)
            continue
        if resolved:
            log.info("incidents resolved (their alert ended): %s", resolved)
