"""The platform's HTTP routes, one router per domain, in the order the app includes them."""

from __future__ import annotations

from fastapi import APIRouter

from camops_platform.routers import accounts, audit, catalog, exports, incidents, playback, session

ROUTERS: tuple[APIRouter, ...] = (
    session.router,
    playback.router,
    exports.router,
    catalog.router,
    accounts.router,
    audit.router,
    incidents.router,
)
