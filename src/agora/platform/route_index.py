"""What the app's routes are, asked by path or by endpoint, for the answers Starlette leaves thin.

- A 405's ``Allow`` header: Starlette names the methods of the *first* route whose path matches,
  but one path is often served by several routes (``GET`` and ``POST /api/articles``), and
  RFC 9110 (section 15.5.6) wants every method the resource supports. A fixed path names a
  resource of its own: ``/api/articles/feed`` is the feed, not an article slugged "feed" (the blog
  never gives that slug), so the ``{slug}`` routes' methods are not the feed's.
- Whether a path is a route's, for answering it with a trailing slash too (``trailing_slash``).
- The route template of a request, for metrics and logs: FastAPI puts its own routes into the
  request's scope, but not Starlette's (``/docs``, ``/openapi.json``) or a mount (``/media``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Scope


class RouteIndex:
    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        # (path regex, methods, whether the path is fixed: has no parameters)
        self._methods: list[tuple[re.Pattern[str], frozenset[str], bool]] = []
        # by the id of the endpoint: it lives as long as its route, and need not be hashable
        self._templates: dict[int, str] = {}
        for route in routes:
            if isinstance(route, Route) and route.methods:
                fixed = not route.param_convertors
                self._methods.append((route.path_regex, frozenset(route.methods), fixed))
                self._templates[id(route.endpoint)] = route.path
            elif isinstance(route, Mount):
                self._templates[id(route.app)] = f"{route.path}/{{path}}"

    def serves(self, path: str) -> bool:
        """Whether a route (not a mount) answers ``path``, with one method or another."""
        return any(regex.match(path) for regex, _methods, _fixed in self._methods)

    def allowed_methods(self, path: str) -> str:
        """The ``Allow`` value for ``path``: the methods of every route that matches it, or of the
        fixed-path routes among them if there are any."""
        matching = [(own, fixed) for regex, own, fixed in self._methods if regex.match(path)]
        chosen = [own for own, fixed in matching if fixed] or [own for own, _ in matching]
        return ", ".join(sorted({method for own in chosen for method in own}))

    def template(self, scope: Scope) -> str | None:
        """The path template of the route that served this request, if any did."""
        route = scope.get("route")
        if route is not None:
            path: str = route.path
            return path
        endpoint = scope.get("endpoint")
        return None if endpoint is None else self._templates.get(id(endpoint))
