"""The methods a path accepts, for the ``Allow`` header of a 405.

Starlette answers a wrong method with the methods of the *first* route whose path matches, but
one path is often served by several routes (``GET`` and ``POST /api/articles``). RFC 9110
(section 15.5.6) wants the ``Allow`` header to name every method the resource supports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.routing import BaseRoute, Route


class AllowedMethods:
    """Every HTTP route's path pattern and methods, asked by path."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self._routes: list[tuple[re.Pattern[str], frozenset[str]]] = [
            (route.path_regex, frozenset(route.methods))
            for route in routes
            if isinstance(route, Route) and route.methods
        ]

    def for_path(self, path: str) -> str:
        """The ``Allow`` value for ``path``: the methods of every route that matches it."""
        methods = {method for regex, own in self._routes if regex.match(path) for method in own}
        return ", ".join(sorted(methods))
