"""Where the RealWorld conformance suites are (the Postman collection and ``current/``)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# CI clones main with shared/ beside it; on a developer machine it lives in /work/shared
CONFORMANCE_CANDIDATES = (
    REPO_ROOT.parent / "shared" / "conformance" / "realworld",
    Path("/work/shared/conformance/realworld"),
)


def find_conformance_dir() -> Path | None:
    for candidate in CONFORMANCE_CANDIDATES:
        if (candidate / "Conduit.postman_collection.json").is_file() and (
            candidate / "current" / "bruno" / "bruno.json"
        ).is_file():
            return candidate
    return None
