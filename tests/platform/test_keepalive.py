"""An unexpected error answers 500 and leaves the kept-alive connection usable, or says
``Connection: close``: never a socket closed under a client that will send its next request on it.

Against a real uvicorn (both of its HTTP implementations), through a client that reuses one
connection the way browsers and httpx do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import pytest
from fastapi import Depends
from starlette.types import ASGIApp, Receive, Scope, Send

from agora.platform.provided import ProvidingApp
from tests.support.metrics import requests_total
from tests.support.serving import KeepAliveClient, serving

ORIGIN = "https://app.example"


def _fail() -> None:
    raise RuntimeError("a bug")


async def broken_dependency() -> None:
    _fail()


async def broken_teardown() -> AsyncIterator[None]:
    yield
    _fail()


class BrokenMiddleware:
    """Raises for one path, before the response: a bug in a middleware, outside the others."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/api/broken-middleware":
            _fail()
        await self.app(scope, receive, send)


def app_with_bugs(make_app: Callable[..., ProvidingApp]) -> ProvidingApp:
    app = make_app(access_log=True)

    async def broken_route() -> None:
        _fail()

    async def with_broken_dependency(_: Annotated[None, Depends(broken_dependency)]) -> None:
        return None

    async def with_broken_teardown(_: Annotated[None, Depends(broken_teardown)]) -> None:
        return None

    app.add_api_route("/api/broken-route", broken_route)
    app.add_api_route("/api/broken-dependency", with_broken_dependency)
    app.add_api_route("/api/broken-teardown", with_broken_teardown)
    app.add_middleware(BrokenMiddleware)
    return app


def error_lines(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "unhandled error"]


@pytest.mark.parametrize("http", ["h11", "httptools"])
@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/broken-route", 500),
        ("/api/broken-dependency", 500),
        # the answer was sent before the dependency's clean-up failed: it stands
        ("/api/broken-teardown", 200),
    ],
)
async def test_after_an_unexpected_error_the_next_request_on_the_connection_succeeds(
    make_app: Callable[..., ProvidingApp],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    http: str,
    path: str,
    status: int,
) -> None:
    app = app_with_bugs(make_app)
    async with serving(app, http=http) as base_url, KeepAliveClient(base_url) as client:
        capsys.readouterr()
        caplog.set_level(logging.ERROR)

        first = await client.request("GET", path, headers={"Origin": ORIGIN})
        after = await client.request("GET", "/api/ping")
        metrics = await client.request("GET", "/metrics")

    assert first.status == status
    if status == 500:
        assert json.loads(first.body) == {"errors": {"body": ["internal error"]}}
    # a browser may read it: CORS and the request id are on the 500 as on any answer
    assert first.headers["access-control-allow-origin"] == "*"
    request_id = first.headers["x-request-id"]
    assert after.status == 200
    assert client.connections_opened == 1  # the same connection went on serving
    # logged once, by us, with the request id; uvicorn saw no exception to log again
    [error] = error_lines(capsys.readouterr().out)
    assert error["request_id"] == request_id
    assert "RuntimeError: a bug" in error["exception"]
    assert "Exception in ASGI application" not in caplog.text
    assert requests_total(metrics.body.decode(), method="GET", route=path, status=str(status)) == 1


@pytest.mark.parametrize("http", ["h11", "httptools"])
async def test_a_500_from_a_middleware_says_connection_close(
    make_app: Callable[..., ProvidingApp], http: str
) -> None:
    app = app_with_bugs(make_app)
    async with serving(app, http=http) as base_url, KeepAliveClient(base_url) as client:
        failed = await client.request("GET", "/api/broken-middleware")
        after = await client.request("GET", "/api/ping")

    assert failed.status == 500
    assert json.loads(failed.body) == {"errors": {"body": ["internal error"]}}
    # outside every other middleware nothing can keep the connection, so the answer says so
    # and the client's next request goes on a new connection
    assert failed.says_close
    assert after.status == 200
    assert client.connections_opened == 2
