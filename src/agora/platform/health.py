"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: its dependencies do)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from agora.platform.container import Platform

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database (and Redis, when configured) answer")
async def readyz(request: Request) -> JSONResponse:
    platform: Platform = request.app.state.platform
    checks: dict[str, Any] = {}
    probes = {"database": platform.db.ping}
    if platform.settings.redis_url:
        probes["redis"] = platform.cache.ping
    for name, probe in probes.items():
        try:
            await probe()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unavailable: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
