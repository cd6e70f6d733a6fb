"""SIGTERM drains: a request already in flight gets its whole answer, new connections are refused,
and the process then exits with status 0 (what a process manager or Kubernetes expects).

The in-flight request is a login whose body is sent in two halves around the signal. It announces
``Expect: 100-continue``, and the server answers ``100 Continue`` only once the application has
started reading the body, so the test knows, without sleeping, that the request is being handled
when the signal arrives.
"""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from tests.support.servers import POLL_INTERVAL, LiveServer

pytestmark = pytest.mark.e2e

IO_TIMEOUT = 10.0


def _read_until(connection: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _read_to_eof(connection: socket.socket) -> bytes:
    data = b""
    while chunk := connection.recv(4096):
        data += chunk
    return data


def _wait_until_refused(server: LiveServer, timeout: float = IO_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            probe = socket.create_connection((server.host, server.port), timeout=1.0)
        except ConnectionRefusedError:
            return
        probe.close()  # accepted before the listener closed; the server closes it too
        time.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline
    pytest.fail(f"new connections were still accepted {timeout:.0f} s after SIGTERM")


def test_sigterm_finishes_the_request_in_flight_then_exits_cleanly(server: LiveServer) -> None:
    email, password = "drain@example.com", "password123"
    with httpx.Client(base_url=server.base_url, timeout=IO_TIMEOUT) as client:
        registered = client.post(
            "/api/users",
            json={"user": {"username": "drain", "email": email, "password": password}},
        )
        assert registered.status_code == 201, registered.text

    body = json.dumps({"user": {"email": email, "password": password}}).encode()
    first_half, second_half = body[: len(body) // 2], body[len(body) // 2 :]
    head = (
        "POST /api/users/login HTTP/1.1\r\n"
        f"Host: {server.host}:{server.port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n"
        "\r\n"
    ).encode()

    with socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT) as connection:
        connection.sendall(head)
        interim = _read_until(connection, b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100"), interim  # the app is reading this body now
        connection.sendall(first_half)

        server.terminate()
        _wait_until_refused(server)
        assert server.process.poll() is None, "the server exited with a request still in flight"

        connection.sendall(second_half)
        raw = _read_to_eof(connection)  # the server closes the connection after answering

    status_line, _, rest = raw.partition(b"\r\n")
    header_block, _, payload = rest.partition(b"\r\n\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(b":") for line in header_block.split(b"\r\n"))
    }
    assert status_line.startswith(b"HTTP/1.1 200"), raw
    assert headers[b"connection"] == b"close", headers  # no keep-alive while shutting down
    assert int(headers[b"content-length"]) == len(payload), raw  # the whole answer arrived
    user = json.loads(payload)["user"]
    assert user["email"] == email
    assert user["token"]

    assert server.wait_exit() == 0, server.log_tail()
