"""Slow password hashing must not hold database connections, and only so many hashes run at once.

Argon2's CPU time is stood for by a hasher that waits at a gate the test opens: what matters is
what the server does *while* hashes are under way, not how long they take.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import pytest
from httpx import ASGITransport, AsyncClient, Response

from agora.app import create_app
from agora.container import Container
from agora.identity.passwords import Passwords, argon2id
from agora.platform.ports import Platform
from agora.settings import JobsSettings, Settings
from tests.conftest import auth, register
from tests.support.config import CHEAP_PASSWORD_HASHING
from tests.support.database import empty_tables

T = TypeVar("T")
# a bound on every wait, so a broken server fails the test instead of hanging it
DEADLINE = 20.0
THREADS = 2
LOGINS = 40
WRONG_LOGIN = {"user": {"email": "jake@example.com", "password": "not-the-password"}}


class GatedHasher:
    """A real (cheap) Argon2 hasher whose every call first waits until the gate is open."""

    def __init__(self) -> None:
        self._real = argon2id(
            memory_kib=CHEAP_PASSWORD_HASHING["password_memory_kib"],
            time_cost=CHEAP_PASSWORD_HASHING["password_time_cost"],
            parallelism=CHEAP_PASSWORD_HASHING["password_parallelism"],
        )
        self.gate = threading.Event()
        self.gate.set()
        self._changed = threading.Condition()
        self.running = 0
        self.most_at_once = 0

    def _through_gate(self, work: Callable[[], T]) -> T:
        with self._changed:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self._changed.notify_all()
        try:
            if not self.gate.wait(DEADLINE):
                raise TimeoutError("the test never opened the gate")
            return work()
        finally:
            with self._changed:
                self.running -= 1
                self._changed.notify_all()

    def hash(self, password: str, /) -> str:
        return self._through_gate(lambda: self._real.hash(password))

    def verify(self, password: str, hash: str, /) -> bool:
        return self._through_gate(lambda: self._real.verify(password, hash))

    def verify_and_update(self, password: str, hash: str, /) -> tuple[bool, str | None]:
        return self._through_gate(lambda: self._real.verify_and_update(password, hash))

    async def wait_until_running(self, count: int) -> None:
        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: self.running >= count, DEADLINE)

        assert await asyncio.to_thread(wait), f"{self.running} hashes running, not {count}"


class ObservedPasswords(Passwords):
    """Passwords that let the test wait until so many requests have come to be hashed."""

    def __init__(self, hasher: GatedHasher, *, threads: int, queue: int) -> None:
        super().__init__(hasher, threads=threads, queue=queue)
        self.arrivals = 0
        self._reached: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)

    async def hash(self, password: str) -> str:
        self._arrive()
        return await super().hash(password)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        self._arrive()
        return await super().verify(password, password_hash)

    def _arrive(self) -> None:
        # the caller goes on into the hash without yielding: by the time a waiter wakes up,
        # its hash is running or queued
        self.arrivals += 1
        self._reached[self.arrivals].set()

    async def wait_for_arrivals(self, total: int) -> None:
        """Until ``total`` hashes and verifications have been asked for since the start."""
        async with asyncio.timeout(DEADLINE):
            await self._reached[total].wait()


@dataclass
class Server:
    client: AsyncClient
    hasher: GatedHasher
    passwords: ObservedPasswords
    platform: Platform

    @property
    def connections_in_use(self) -> int:
        pool: Any = self.platform.db.engine.pool
        checked_out: int = pool.checkedout()
        return checked_out


class MakeServer(Protocol):
    def __call__(self, **settings: Any) -> Awaitable[Server]: ...


@pytest.fixture
async def make_server(make_settings: Callable[..., Settings]) -> AsyncIterator[MakeServer]:
    """``await make_server(**settings)``: an app whose passwords go through a GatedHasher."""
    async with AsyncExitStack() as stack:

        async def build(**overrides: Any) -> Server:
            settings = make_settings(
                # few connections: logins holding them would starve any other request at once
                database_pool_size=2,
                password_hashing_threads=THREADS,
                # jobs (a registration's mail) take connections of their own: not what is counted
                jobs=JobsSettings(run_in_server=False),
                **overrides,
            )
            hasher = GatedHasher()
            passwords = ObservedPasswords(
                hasher,
                threads=settings.password_hashing_threads,
                queue=settings.password_hashing_queue,
            )
            container = Container.from_settings(settings, passwords=passwords)
            app = create_app(container=container)
            await empty_tables(container.platform.db)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                AsyncClient(transport=ASGITransport(app=app), base_url="http://test")
            )
            return Server(
                client=client, hasher=hasher, passwords=passwords, platform=container.platform
            )

        yield build


async def test_logins_stuck_hashing_hold_no_connection_and_reads_go_on(
    make_server: MakeServer,
) -> None:
    server = await make_server()
    await register(server.client, "jake")
    server.hasher.gate.clear()
    earlier = server.passwords.arrivals

    logins = [
        asyncio.create_task(server.client.post("/api/users/login", json=WRONG_LOGIN))
        for _ in range(LOGINS)
    ]
    await server.hasher.wait_until_running(THREADS)

    async with asyncio.timeout(DEADLINE):
        profile = await server.client.get("/api/profiles/jake")
    assert profile.status_code == 200
    await server.passwords.wait_for_arrivals(earlier + LOGINS)
    assert server.connections_in_use == 0
    assert server.hasher.running == THREADS
    assert server.passwords.in_flight == LOGINS  # the others wait their turn

    server.hasher.gate.set()
    answers: list[Response] = await asyncio.gather(*logins)
    assert [answer.status_code for answer in answers] == [401] * LOGINS
    assert server.hasher.most_at_once == THREADS


@pytest.mark.parametrize("change", ["register", "password change"])
async def test_a_password_is_hashed_before_a_connection_is_taken(
    make_server: MakeServer, change: str
) -> None:
    server = await make_server()
    token = await register(server.client, "jake")
    server.hasher.gate.clear()

    if change == "register":
        body = {"user": {"username": "jane", "email": "jane@example.com", "password": "secret-123"}}
        request = server.client.post("/api/users", json=body)
    else:
        body = {"user": {"password": "secret-123", "bio": "new"}}
        request = server.client.put("/api/user", json=body, headers=auth(token))
    pending = asyncio.create_task(request)
    await server.hasher.wait_until_running(1)

    assert server.connections_in_use == 0
    server.hasher.gate.set()
    assert (await pending).status_code in {200, 201}
    login = {"user": {"email": f"{'jane' if change == 'register' else 'jake'}@example.com"}}
    login["user"]["password"] = "secret-123"
    assert (await server.client.post("/api/users/login", json=login)).status_code == 200


async def test_a_login_past_the_queue_is_refused_at_once_with_retry_after(
    make_server: MakeServer,
) -> None:
    server = await make_server(password_hashing_queue=1)
    await register(server.client, "jake")
    server.hasher.gate.clear()
    earlier = server.passwords.arrivals
    # two hashing (one per thread) and one waiting fill the server
    admitted = [
        asyncio.create_task(server.client.post("/api/users/login", json=WRONG_LOGIN))
        for _ in range(THREADS + 1)
    ]
    await server.passwords.wait_for_arrivals(earlier + THREADS + 1)
    assert server.passwords.in_flight == THREADS + 1

    async with asyncio.timeout(DEADLINE):
        refused = await server.client.post("/api/users/login", json=WRONG_LOGIN)

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert refused.json() == {"errors": {"body": ["too many sign-ins at once, try again shortly"]}}
    server.hasher.gate.set()
    assert [(await login).status_code for login in admitted] == [401] * (THREADS + 1)
    # the queue drained: the next one is served
    assert (await server.client.post("/api/users/login", json=WRONG_LOGIN)).status_code == 401
