"""Domain events: what happened, said once by the rule that made it happen.

A service says ``uow.emit(ArticlesChanged())``; what follows from it (a cache invalidated, a
message published to the chat's other nodes) is registered in one place, the composition root
(``EventHandlers.on``), and runs only after the unit of work committed. A rule never calls the
cache, the fan-out or the mailer itself, so it stays testable without them.

A write that is one autocommit statement (a favorite) is durable as soon as it ran, with no unit
of work around it: it hands its event to ``EventHandlers.publish``, which runs the same handlers
at once.

Events are in-process and after the commit: a crash between the commit and a handler loses the
handler's run. What must not be lost goes through the outbox (``uow.outbox.add``) instead.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every domain event: a frozen dataclass named in the past tense."""


E = TypeVar("E", bound=Event)
EventHandler = Callable[[E], Awaitable[None]]
ManyHandler = Callable[[Sequence[E]], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]


async def run_committed(hook: Hook) -> None:
    """Runs what follows a commit. A failure is logged, never raised: the change is durable, and
    answering the client with an error would make it retry a write that happened."""
    try:
        await hook()
    except Exception:
        log.exception("after_commit hook failed", hook=getattr(hook, "__qualname__", repr(hook)))


class EventHandlers:
    """Which handlers an event runs, by its exact type. Filled once, at start-up."""

    def __init__(self) -> None:
        self._by_type: dict[type[Event], list[EventHandler[Any]]] = {}
        self._many_by_type: dict[type[Event], list[ManyHandler[Any]]] = {}

    def on(self, event_type: type[E], handler: EventHandler[E]) -> None:
        self._by_type.setdefault(event_type, []).append(handler)

    def on_many(self, event_type: type[E], handler: ManyHandler[E]) -> None:
        """``handler`` takes events of this type made durable together in one call (a batch
        published in one round trip); an event alone, it takes as a list of one."""
        self._many_by_type.setdefault(event_type, []).append(handler)

    def handlers_for(self, event: Event) -> list[EventHandler[Any]]:
        alone = [functools.partial(_one, many) for many in self._many_by_type.get(type(event), [])]
        return [*self._by_type.get(type(event), []), *alone]

    async def publish(self, event: Event) -> None:
        """Runs ``event``'s handlers now: for a write that is already durable on its own."""
        for handler in self.handlers_for(event):
            await run_committed(functools.partial(handler, event))

    async def publish_all(self, events: Sequence[E]) -> None:
        """``publish`` for events of one type made durable together (one transaction): each
        handler of many once with them all, in order, the others once per event."""
        if not events:
            return
        event_type = type(events[0])
        assert all(type(event) is event_type for event in events)
        for many in self._many_by_type.get(event_type, []):
            await run_committed(functools.partial(many, events))
        for handler in self._by_type.get(event_type, []):
            for event in events:
                await run_committed(functools.partial(handler, event))


async def _one(many: ManyHandler[E], event: E) -> None:
    await many([event])
