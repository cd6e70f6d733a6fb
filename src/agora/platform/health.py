"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: its dependencies do).

Without the database the node cannot serve: 503, and a load balancer sends traffic elsewhere.
Without Redis it serves, slower (no read cache) and with rate limits on their fallback: 200 with
``"status": "degraded"`` and the failing check named, so it stays in rotation and is seen.
Without the broker (when one is configured) writes still succeed and their jobs wait in the
outbox: degraded too, and the outbox's figures (``"jobs"``) show the backlog growing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from agora.platform.deps import JobsDep, PlatformDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database answers (and Redis and the broker, when configured: else degraded)",
)
async def readyz(platform: PlatformDep, jobs: JobsDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    probes = {"database": platform.db.ping}
    if platform.settings.redis_url:
        probes["redis"] = platform.cache.ping
    if platform.settings.broker_url:
        probes["broker"] = jobs.check_broker
    for name, probe in probes.items():
        try:
            await probe()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unavailable: {type(exc).__name__}"
    if checks["database"] != "ok":
        status, code = "unavailable", 503
    elif all(value == "ok" for value in checks.values()):
        status, code = "ready", 200
    else:
        status, code = "degraded", 200
    body: dict[str, Any] = {"status": status, "checks": checks}
    if checks["database"] == "ok":
        stats = await jobs.stats()
        body["jobs"] = {
            "backlog": stats.backlog,
            "oldest_due_seconds": round(stats.oldest_due_seconds, 3),
            "dead": stats.dead,
        }
    return JSONResponse(body, status_code=code)
