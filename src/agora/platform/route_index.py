"""What the app's routes are, asked by path or by endpoint, for the answers Starlette leaves thin.

- A 405's ``Allow`` header: Starlette names the methods of the *first* route whose path matches,
  but one path is often served by several routes (``GET`` and ``POST /api/articles``), and
  RFC 9110 (section 15.5.6) wants every method the resource supports.
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
        self._methods: list[tuple[re.Pattern[str], frozenset[str]]] = []
        # by the id of the endpoint: it lives as long as its route, and need not be hashable
        self._templates: dict[int, str] = {}
        for route in routes:
            if isinstance(route, Route) and route.methods:
                self._methods.append((route.path_regex, frozenset(route.methods)))
                self._templates[id(route.endpoint)] = route.path
            elif isinstance(route, Mount):
                self._templates[id(route.app)] = f"{route.path}/{{path}}"

    def serves(self, path: str) -> bool:
        """Whether a route (not a mount) answers ``path``, with one method or another."""
        return any(regex.match(path) for regex, _methods in self._methods)

    def allowed_methods(self, path: str) -> str:
        """The ``Allow`` value for ``path``: the methods of every route that matches it."""
        methods = {method for regex, own in self._methods if regex.match(path) for method in own}
        return ", ".join(sorted(methods))

    def template(self, scope: Scope) -> str | None:
        """The path template of the route that served this request, if any did."""
        route = scope.get("route")
        if route is not None:
            path: str = route.path
            return path
        endpoint = scope.get("endpoint")
        return None if endpoint is None else self._templates.get(id(endpoint))
