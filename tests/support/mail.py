"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for tests to read."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.servers import free_port

# a bound on every wait for a mail: a job that never sends fails the test instead of hanging it
MAIL_DEADLINE = 20.0


class Inbox:
    """The messages the server accepted, in order of arrival (filled by the server's thread)."""

    def __init__(self) -> None:
        self._messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    # aiosmtpd's hook: called for each message the server accepted
    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self._messages.append(message)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["To"] == address]

    async def wait_for(
        self,
        match: Callable[[EmailMessage], bool],
        *,
        nth: int = 0,
        deadline: float = MAIL_DEADLINE,
    ) -> EmailMessage:
        """The ``nth`` message (0: the first) that ``match`` accepts, polling until ``deadline``
        seconds have passed (the mail is sent by a job in the background)."""
        give_up = time.monotonic() + deadline
        while time.monotonic() < give_up:
            matching = [message for message in self.messages if match(message)]
            if len(matching) > nth:
                return matching[nth]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no such mail within {deadline} s; got {self.messages!r}")


@contextmanager
def smtp_server() -> Iterator[tuple[str, Inbox]]:
    """Yields ``(smtp_url, inbox)`` for a server on a free loopback port, stopped on exit."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", inbox
    finally:
        controller.stop()
