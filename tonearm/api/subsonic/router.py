"""``/rest/*``: one route that authenticates, dispatches to the endpoint and renders the answer.

Every endpoint answers at ``/rest/NAME`` and ``/rest/NAME.view``, to GET, form POST (the
``formPost`` extension; the Python client libraries POST by default) and HEAD. Errors are failed
envelopes (HTTP 200, with a code and message), never an empty 404 or a traceback: a bug in a
handler is logged and answered as error 0. ``getOpenSubsonicExtensions`` needs no credentials;
everything else does, on loopback too. CORS is open on ``/rest`` (credentials travel in the
request, not in cookies), so browser players on another origin can connect.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import Response

from tonearm.api.subsonic import auth
from tonearm.api.subsonic.protocol import (
    GENERIC,
    NOT_FOUND,
    Params,
    Payload,
    SubsonicError,
    to_json,
    to_jsonp,
    to_xml,
)
from tonearm.api.subsonic.registry import CORS, ENDPOINTS, PUBLIC, Handler
from tonearm.api.subsonic.views import Context
from tonearm.errors import NotFoundError, TonearmError, storage_fault
from tonearm.search.catalog import catalog
from tonearm.store import open_store
from tonearm.store.base import Store

log = logging.getLogger(__name__)


@dataclass
class SubsonicConfig:
    library: str
    user: str = auth.DEFAULT_USER
    credentials: auth.Credentials | None = None
    scan: Callable[[], bool] | None = None  # startScan: index the server's folders (True if a job started)
    now_playing: dict[str, dict] = field(default_factory=dict)  # in memory, per server process


class _Stores:
    """One store per server process (reads see other processes' commits), reopened if it fails."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._store: Store | None = None
        self._lock = threading.Lock()

    def get(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.location, create=False)
            return self._store

    def reset(self) -> None:
        with self._lock:
            self._store = None


def _render(params: Params, payload: Payload, error: SubsonicError | None = None) -> Response:
    status = "failed" if error else "ok"
    fmt = (params.get("f") or "xml").lower()
    if fmt == "json":
        return Response(to_json(payload, status, error), media_type="application/json", headers=CORS)
    if fmt == "jsonp":
        try:
            body = to_jsonp(payload, params.get("callback") or "", status, error)
        except SubsonicError as bad:
            return Response(to_json(None, "failed", bad), media_type="application/json", headers=CORS)
        return Response(body, media_type="application/javascript", headers=CORS)
    return Response(to_xml(payload, status, error), media_type="text/xml; charset=utf-8", headers=CORS)


def load_endpoints() -> dict[str, Handler]:
    """Import the endpoint modules (each registers its handlers) and return the table."""
    from tonearm.api.subsonic import browse, lists, media, mixes, system, user_state  # noqa: F401

    return ENDPOINTS


def mount(app: FastAPI, config: SubsonicConfig) -> None:
    """Add ``/rest/*`` to the app."""
    load_endpoints()

    if config.credentials is None:
        config.credentials, _ = auth.load(config.library, config.user)
    stores = _Stores(config.library)

    @app.options("/rest/{name:path}", include_in_schema=False)
    def preflight(name: str) -> Response:
        return Response(status_code=204, headers=CORS)

    @app.api_route("/rest", methods=["GET", "POST", "HEAD"], include_in_schema=False)
    @app.api_route("/rest/{name:path}", methods=["GET", "POST", "HEAD"], include_in_schema=False)
    async def rest(request: Request, name: str = "") -> Response:
        body = await request.body() if request.method == "POST" else b""
        try:
            params = Params(list(request.query_params.multi_items()), body, request.headers.get("content-type", ""))
        except SubsonicError as exc:
            return _render(Params([]), None, exc)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(_dispatch, name, params, request.method, config, stores)


def _dispatch(name: str, params: Params, method: str, config: SubsonicConfig, stores: _Stores) -> Response:
    method_name = name[:-5] if name.endswith(".view") else name
    handler = ENDPOINTS.get(method_name)
    try:
        if handler is None:
            raise SubsonicError(NOT_FOUND, f"unknown endpoint: {method_name[:60]}")
        if method_name not in PUBLIC:
            assert config.credentials is not None
            auth.check(params, config.credentials)
        try:
            store = stores.get()
        except NotFoundError:
            raise SubsonicError(GENERIC, "the library is empty: index some music first (tonearm index PATH)") from None
        ctx = Context(store, catalog(store), params, config.user, config.scan, config.now_playing)
        result = handler(ctx)
        if isinstance(result, Response):
            return result
        return _render(params, result)
    except SubsonicError as exc:
        return _render(params, None, exc)
    except TonearmError as exc:  # bad input the engine refused (a filter, a track without vectors)
        return _render(params, None, SubsonicError(GENERIC, " ".join(str(exc).split())[:300]))
    except Exception as exc:
        fault = storage_fault(exc, config.library)
        if fault is not None:  # a star or a scrobble on a full or read-only disk: say so, keep serving
            return _render(params, None, SubsonicError(GENERIC, str(fault)))
        log.exception("Subsonic %s failed", method_name)
        stores.reset()
        return _render(params, None, SubsonicError(GENERIC, f"{method_name} failed on the server (see its log)"))
