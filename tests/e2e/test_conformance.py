"""Agora passes both official RealWorld ("Conduit") API suites against a real server process.

* the current suite (Bruno collection, 154 requests, each with a status assertion and chai checks);
* the legacy Postman collection run by newman (32 requests, 311 assertions on an empty database).

Each suite gets a server of its own on a new database, so the legacy suite's assertion count,
which depends on what the database already holds, is exactly 311. In CI's second tier the same
tests run on PostgreSQL and Redis (``AGORA_TEST_DATABASE_URL`` / ``AGORA_TEST_REDIS_URL``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import LiveServer

pytestmark = pytest.mark.e2e

CURRENT_REQUESTS = 154
LEGACY_REQUESTS = 32
LEGACY_ASSERTIONS_ON_EMPTY_DB = 311
_CHECK_KINDS = (
    "assertionResults",
    "testResults",
    "preRequestTestResults",
    "postResponseTestResults",
)


def _run(command: list[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def bruno_failures(report: list[dict[str, Any]]) -> list[str]:
    """One line per failed request: its path, status, and every failed check with its message.

    A failing chai ``expect()`` in a post-response script only shows up in that result's
    ``postResponseTestResults`` (the result's own status stays "pass"), so every kind is read.
    """
    lines = []
    for iteration in report:
        for result in iteration["results"]:
            problems = []
            if result.get("status") != "pass":
                problems.append(str(result.get("error") or f"status {result.get('status')}"))
            for kind in _CHECK_KINDS:
                for check in result.get(kind) or []:
                    if check.get("status") != "pass":
                        what = check.get("description") or (
                            f"{check.get('lhsExpr')} {check.get('rhsExpr')}"
                        )
                        problems.append(f"{what}: {check.get('error')}")
            if problems:
                response = result.get("response") or {}
                lines.append(
                    f"{result.get('path') or result.get('name')} → HTTP {response.get('status')} "
                    f"{_short(response.get('data'))}\n      " + "\n      ".join(problems)
                )
    return lines


def newman_failures(run: dict[str, Any]) -> list[str]:
    lines = []
    for failure in run.get("failures") or []:
        error = failure.get("error") or {}
        source = (failure.get("source") or {}).get("name", "?")
        test = f" [{error['test']}]" if error.get("test") else ""
        lines.append(
            f"{source}{test}: {error.get('name')}: {error.get('message')} (at {failure.get('at')})"
        )
    return lines


def test_current_suite_passes_with_bruno(
    conformance_dir: Path, bru: Path, server: LiveServer, tmp_path: Path
) -> None:
    # bru must run from the collection root; a copy keeps the shared folder untouched
    collection = tmp_path / "bruno"
    shutil.copytree(conformance_dir / "current" / "bruno", collection)
    report_path = tmp_path / "bruno-report.json"

    result = _run(
        [
            str(bru),
            "run",
            "--env",
            "local",
            "--env-var",
            f"host={server.base_url}",
            "--sandbox",
            "safe",
            "--noproxy",
            "--reporter-json",
            str(report_path),
        ],
        cwd=collection,
        timeout=300,
    )

    assert report_path.exists(), (
        f"bru exited with {result.returncode} and wrote no report\n"
        f"{_tail(result.stdout)}\n{_tail(result.stderr)}\n{server.log_tail()}"
    )
    report: list[dict[str, Any]] = json.loads(report_path.read_text())
    summary = report[0]["summary"]
    failures = bruno_failures(report)
    assert not failures, (
        f"{len(failures)} of {summary['totalRequests']} requests of the current RealWorld suite "
        "failed:\n  " + "\n  ".join(failures)
    )
    assert result.returncode == 0, f"bru exited with {result.returncode}\n{_tail(result.stdout)}"
    assert summary["totalRequests"] == CURRENT_REQUESTS, summary
    assert summary["passedRequests"] == CURRENT_REQUESTS, summary
    assert summary["failedRequests"] == summary["errorRequests"] == 0, summary
    assert summary["failedAssertions"] == 0, summary
    assert summary["totalAssertions"] == CURRENT_REQUESTS, summary


def test_legacy_suite_passes_with_newman(
    conformance_dir: Path, newman: Path, server: LiveServer, tmp_path: Path
) -> None:
    report_path = tmp_path / "newman-report.json"
    username = f"u{uuid.uuid4().hex[:12]}"

    result = _run(
        [
            str(newman),
            "run",
            str(conformance_dir / "Conduit.postman_collection.json"),
            "--delay-request",
            "1",
            "--global-var",
            f"APIURL={server.base_url}/api",
            "--global-var",
            f"USERNAME={username}",
            "--global-var",
            f"EMAIL={username}@mail.com",
            "--global-var",
            "PASSWORD=password",
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report_path),
            "--color",
            "off",
        ],
        cwd=tmp_path,
        timeout=180,
    )

    assert report_path.exists(), (
        f"newman exited with {result.returncode} and wrote no report\n"
        f"{_tail(result.stdout)}\n{_tail(result.stderr)}\n{server.log_tail()}"
    )
    run = json.loads(report_path.read_text())["run"]
    stats = run["stats"]
    failures = newman_failures(run)
    assert not failures, (
        f"{len(failures)} failures in the legacy RealWorld suite:\n  " + "\n  ".join(failures)
    )
    assert result.returncode == 0, f"newman exited with {result.returncode}\n{_tail(result.stdout)}"
    assert stats["requests"] == {"total": LEGACY_REQUESTS, "pending": 0, "failed": 0}, stats
    assert stats["testScripts"]["failed"] == 0, stats
    assert stats["assertions"]["failed"] == 0, stats
    # on an empty database: the first list checks see no articles, so they run fewer assertions
    assert stats["assertions"]["total"] == LEGACY_ASSERTIONS_ON_EMPTY_DB, stats
