"""The table of Subsonic endpoints: each handler module registers its functions here by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tonearm.api.subsonic.views import Context

Handler = Callable[["Context"], Any]  # returns a Payload, or a Response for bytes
ENDPOINTS: dict[str, Handler] = {}
PUBLIC = frozenset({"getOpenSubsonicExtensions"})
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, HEAD, OPTIONS",
        "Access-Control-Allow-Headers": "*"}  # fmt: skip


def endpoint(*names: str) -> Callable[[Handler], Handler]:
    """Register a handler under one or more endpoint names."""

    def register(fn: Handler) -> Handler:
        for name in names:
            ENDPOINTS[name] = fn
        return fn

    return register
