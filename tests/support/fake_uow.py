"""A unit of work with no database, for testing rules alone (*Architecture Patterns with Python*).

It keeps what a rule did with it: how often it committed or rolled back, and which events were
published, that is, emitted and then committed. Like the real one (``platform/uow.py``), a
rollback drops what was emitted and the hooks, and a commit runs the hooks.
"""

from __future__ import annotations

from agora.platform.events import Event
from agora.platform.uow import Hook


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.commits = 0
        self.rollbacks = 0
        self.published: list[Event] = []
        self._emitted: list[Event] = []
        self._hooks: list[Hook] = []

    def after_commit(self, hook: Hook) -> None:
        self._hooks.append(hook)

    def emit(self, event: Event) -> None:
        self._emitted.append(event)

    async def commit(self) -> None:
        self.commits += 1
        self.published += self._emitted
        hooks, self._emitted, self._hooks = self._hooks, [], []
        for hook in hooks:
            await hook()

    async def rollback(self) -> None:
        self.rollbacks += 1
        self._emitted.clear()
        self._hooks.clear()
