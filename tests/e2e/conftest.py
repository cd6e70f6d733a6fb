"""Fixtures for the end-to-end tests: a real ``agora serve`` on a fresh database, and the external
tools (the RealWorld conformance suites; the npm runners pinned in ``tests/e2e/package.json``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.conformance import CONFORMANCE_CANDIDATES, find_conformance_dir
from tests.support.database import fresh_database
from tests.support.servers import LiveServer, live_server

NODE_BIN = Path(__file__).resolve().parent / "node_modules" / ".bin"


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    folder = find_conformance_dir()
    if folder is None:
        tried = ", ".join(str(path) for path in CONFORMANCE_CANDIDATES)
        pytest.skip(f"the RealWorld conformance suites were not found (looked in {tried})")
    return folder


def _node_tool(name: str) -> Path:
    tool = NODE_BIN / name
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the RealWorld conformance suites need it")
    if not tool.exists():
        pytest.skip(f"{tool} is missing: run `npm ci --prefix tests/e2e` (make test does it)")
    return tool


@pytest.fixture(scope="session")
def bru() -> Path:
    return _node_tool("bru")


@pytest.fixture(scope="session")
def newman() -> Path:
    return _node_tool("newman")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of its own on a new, empty database; SIGTERM at the end must make it exit 0."""
    with (
        fresh_database(tmp_path) as database_url,
        live_server(database_url, tmp_path / "server") as running,
    ):
        yield running
