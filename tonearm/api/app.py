"""The REST API and web app, one FastAPI process (``tonearm serve``).

Every endpoint calls the same functions as the CLI, so both rank identically. Safe by default:
bound to 127.0.0.1; bound anywhere else, the endpoints that write or take uploads need the
server's token (``Authorization: Bearer T`` or ``X-Tonearm-Token: T``). Clients never pass file
paths: tracks are addressed by id, audio is streamed from the path the index recorded, and
index jobs only run on the folders the server was started with. CORS is off unless origins
are configured. OpenAPI docs at ``/docs``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from tonearm.api.deps import ServerConfig, StoreDep, Token
from tonearm.api.jobs import JobManager
from tonearm.api.uploads import saved_upload
from tonearm.errors import (
    DecodeError,
    DiskFullError,
    LibraryLockedError,
    NotFoundError,
    ReadOnlyError,
    TonearmError,
    storage_fault,
)
from tonearm.library.display import readable_row
from tonearm.store import open_store
from tonearm.store.base import Store

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
_MIME = {".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".opus": "audio/ogg", ".flac": "audio/flac",
         ".wav": "audio/wav", ".m4a": "audio/mp4", ".mp4": "audio/mp4", ".webm": "audio/webm",
         ".mkv": "video/x-matroska", ".aac": "audio/aac"}  # fmt: skip


def _status_of(exc: TonearmError) -> int:
    """The HTTP status that says what went wrong: the client's request, or the server's disk."""
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 400


_STATUS = (
    (NotFoundError, 404),
    (LibraryLockedError, 409),
    (DecodeError, 415),
    (DiskFullError, 507),  # Insufficient Storage: the server's disk, not the request
    (ReadOnlyError, 403),  # the library is served read-only: writes are refused, reads work
)


def create_app(config: ServerConfig) -> FastAPI:
    """Build the application for one library."""
    app = FastAPI(
        title="tonearm",
        description="Find music and audio by sound, tune, words and mood. Same engine as the `tonearm` CLI.",
        version="0.1.0",
        lifespan=_warm_start(config.library),
    )
    app.state.config = config
    jobs = JobManager(config.library, config.workers)
    roots = [os.path.realpath(r) for r in config.roots]
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=config.cors_origins, allow_methods=["*"],
                           allow_headers=["*"])  # fmt: skip

    @app.exception_handler(TonearmError)
    async def _tonearm_error(request: Request, exc: TonearmError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=_status_of(exc))

    @app.exception_handler(OSError)
    @app.exception_handler(RuntimeError)
    async def _storage_error(request: Request, exc: Exception) -> JSONResponse:
        fault = storage_fault(exc, config.library)
        if fault is None:
            raise exc
        return JSONResponse({"detail": str(fault)}, status_code=_status_of(fault))

    max_bytes = config.max_upload_mb << 20

    # ---- library ----------------------------------------------------------------------
    @app.get("/api/stats", summary="Library size, views, analyzers, failures")
    def stats(s: StoreDep) -> dict[str, Any]:
        info = s.info()
        info.update(analyzers=s.get_meta("views") or {}, failed=len(s.failures()), roots=roots)
        info["fields"] = sorted(s.fields())
        return info

    @app.get("/api/duplicates", summary="Recordings held in several files (the kept copy first)")
    def duplicates(s: StoreDep) -> dict[str, Any]:
        from tonearm.library.duplicates import duplicate_groups

        return {"groups": duplicate_groups(s)}

    @app.get("/api/tracks", summary="List tracks, optionally filtered")
    def tracks(
        s: StoreDep,
        where: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        flt = s.compile_where(where)
        cols = ["id", "path", "title", "artist", "album", "genre", "year", "duration", "emotions"]
        known = s.fields()
        cols = [c for c in cols if c in known or c in ("id", "path")]
        rows = sorted(s.scan(flt, columns=cols), key=lambda r: r["path"])
        return {"total": len(rows), "offset": offset, "tracks": rows[offset : offset + limit]}

    @app.get("/api/tracks/{track_id}", summary="Everything the library knows about one track")
    def track(track_id: str, s: StoreDep) -> dict[str, Any]:
        from tonearm.api.library import catalog_ids

        return {**track_detail(s, track_id), **catalog_ids(s, track_id)}

    @app.get("/api/tracks/{track_id}/audio", summary="Stream the track's audio (HTTP range requests)")
    def audio(track_id: str, s: StoreDep) -> FileResponse:
        rows = s.get([track_id], columns=["id", "path"])
        if not rows:
            raise HTTPException(404, f"no track {track_id}")
        path = rows[0]["path"]
        if not os.path.isfile(path):
            raise HTTPException(410, "the track's file is gone from disk")
        return FileResponse(path, media_type=_MIME.get(Path(path).suffix.lower(), "application/octet-stream"))

    # ---- search -----------------------------------------------------------------------
    @app.get("/api/tracks/{track_id}/similar", summary="Tracks similar to an indexed track, in one view")
    def similar_to(
        track_id: str,
        s: StoreDep,
        view: str = "sound",
        k: Annotated[int, Query(ge=1, le=500)] = 10,
        where: str | None = None,
        min_score: float | None = None,
        hubness: Annotated[
            bool | None, Query(description="CSLS hubness correction (default: on for the melody view only)")
        ] = None,
        match: Annotated[
            Literal["vector", "sets"], Query(description="vector: whole tracks; sets: the tracks' stretches")
        ] = "vector",
        candidates: Annotated[
            int | None,
            Query(ge=1, le=5000, description="with match=sets: tracks to re-rank (default 200; 0.8 × √tracks if more)"),
        ] = None,
    ) -> dict[str, Any]:
        from tonearm.search.similar import similar

        if not s.get([track_id], columns=["id"]):
            raise HTTPException(404, f"no track {track_id}")
        return similar(s, track_id, k=k, where=where, min_score=min_score, view=view, hubness=hubness, match=match,
                       candidates=candidates)  # fmt: skip

    @app.post("/api/similar", summary="Tracks similar to an uploaded audio file", dependencies=[Token])
    def similar_upload(
        s: StoreDep,
        file: Annotated[UploadFile, File(description="Any audio file")],
        view: Annotated[str, Form()] = "sound",
        k: Annotated[int, Form(ge=1, le=500)] = 10,
        where: Annotated[str | None, Form()] = None,
        hubness: Annotated[bool | None, Form()] = None,
        match: Annotated[Literal["vector", "sets"], Form()] = "vector",
        candidates: Annotated[int | None, Form(ge=1, le=5000)] = None,
    ) -> dict[str, Any]:
        from tonearm.search.similar import similar

        with saved_upload(file, max_bytes) as path:
            out = similar(s, path, k=k, where=where, view=view, hubness=hubness, match=match, candidates=candidates)
        out["query"].update(target=file.filename, path=None)
        return out

    @app.post("/api/hum", summary="Find the track a hummed or sung recording comes from", dependencies=[Token])
    def hum(
        s: StoreDep,
        file: Annotated[UploadFile, File(description="A recording of humming, singing or whistling")],
        k: Annotated[int, Form(ge=1, le=500)] = 10,
        where: Annotated[str | None, Form()] = None,
    ) -> dict[str, Any]:
        from tonearm.search.hum import hum_search

        with saved_upload(file, max_bytes) as path:
            out = hum_search(s, path, k=k, where=where)
        out["query"].update(target=file.filename, path=None)
        return out

    @app.post("/api/identify", summary="Which track a recording of it comes from, and where", dependencies=[Token])
    def identify_upload(
        s: StoreDep,
        file: Annotated[UploadFile, File(description="A recording of a track playing (10 s is enough)")],
        k: Annotated[int, Form(ge=1, le=20)] = 5,
    ) -> dict[str, Any]:
        from tonearm.search.identify import identify

        with saved_upload(file, max_bytes) as path:
            out = identify(s, path, k=k)
        out["query"].update(target=file.filename, path=None)
        return out

    @app.get("/api/search", summary="Text search: words, mood, sound tags, CLAP text-to-audio, or all fused")
    def text_search(
        s: StoreDep,
        q: Annotated[str, Query(min_length=1, max_length=2000)],
        mode: str = "auto",
        k: Annotated[int, Query(ge=1, le=500)] = 10,
        where: str | None = None,
        min_score: float | None = None,
    ) -> dict[str, Any]:
        from tonearm.search.text import TextQuery, search

        return search(s, TextQuery(q, k, where, min_score), mode)

    @app.get("/api/radio", summary="Radio from seed tracks: no seeds, no repeats, artists spaced, filters kept")
    def radio_list(
        s: StoreDep,
        seed: Annotated[list[str], Query(description="Seed track id (repeatable)")],
        avoid: Annotated[list[str] | None, Query(description="Track id to steer away from (repeatable)")] = None,
        length: Annotated[int, Query(ge=1, le=500)] = 20,
        weights: str | None = None,
        where: str | None = None,
        rng_seed: Annotated[int | None, Query(description="Same number, same list")] = None,
        artist_window: Annotated[int, Query(ge=1, le=50)] = 5,
        exclude: Annotated[list[str] | None, Query(description="Track id never to list (repeatable)")] = None,
        follows: Annotated[
            list[str] | None, Query(description="Track ids playing just before the list, oldest first (artist spacing)")
        ] = None,
    ) -> dict[str, Any]:
        from tonearm.search.radio import RadioSettings, parse_weights, radio

        settings = RadioSettings(length, parse_weights(weights) if weights else None, where, rng_seed,
                                 artist_window=artist_window)  # fmt: skip
        return radio(s, seed, avoid or [], settings, exclude=exclude or [], follows=follows or [])

    @app.get("/api/path", summary="A smooth sequence of tracks from one track to another")
    def path_list(
        s: StoreDep,
        start: Annotated[str, Query(alias="from")],
        end: Annotated[str, Query(alias="to")],
        steps: Annotated[int, Query(ge=1, le=200)] = 10,
        view: str = "sound",
        where: str | None = None,
    ) -> dict[str, Any]:
        from tonearm.search.radio import song_path

        return song_path(s, start, end, steps, view, where)

    @app.get("/api/map", summary="2-D map of the library's sound view (PCA), for plotting")
    def library_map(s: StoreDep, view: str = "sound", color_by: str | None = None) -> dict[str, Any]:
        from tonearm.search.projection import library_map as project

        return project(s, view, color_by)

    # ---- index jobs -------------------------------------------------------------------
    @app.post("/api/jobs", summary="Start an index job on the server's folders", dependencies=[Token])
    def start_job(body: dict[str, Any] | None = None) -> dict[str, Any]:
        wanted = (body or {}).get("roots") or roots
        if not roots:
            raise HTTPException(400, "this server was started without folders to index (tonearm serve FOLDER...)")
        chosen = [os.path.realpath(str(r)) for r in wanted]
        outside = [r for r in chosen if not any(r == root or r.startswith(root + os.sep) for root in roots)]
        if outside:
            raise HTTPException(403, "index jobs may only scan the folders the server was started with")
        return jobs.start(chosen).to_json()

    def fetch_settings() -> Any:
        from tonearm.library.fetch import FetchSettings

        return FetchSettings(Path(config.media_dir or Path(config.library) / "media"))

    max_disk = None if config.max_disk_mb is None else config.max_disk_mb << 20

    @app.post("/api/add", summary="Download the audio of URLs (yt-dlp) and index it", dependencies=[Token])
    def add_urls(body: dict[str, Any]) -> dict[str, Any]:
        urls = body.get("urls") if isinstance(body, dict) else None
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls) or len(urls) > 1000:
            raise HTTPException(400, 'send {"urls": ["https://...", ...]} (1 to 1000 URLs)')
        bad = [u for u in urls if not u.strip().lower().startswith(("http://", "https://"))]
        if bad:
            raise HTTPException(400, f"only http(s) URLs can be added: {bad[0][:80]}")
        return jobs.start_add([u.strip() for u in urls], fetch_settings(), max_disk).to_json()

    @app.post("/api/feeds", summary="Subscribe to a podcast feed and fetch its episodes", dependencies=[Token])
    def add_feed(body: dict[str, Any]) -> dict[str, Any]:
        url = body.get("url") if isinstance(body, dict) else None
        latest = body.get("latest") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url.strip().lower().startswith(("http://", "https://")):
            raise HTTPException(400, 'send {"url": "https://.../feed.xml", "latest": N}')
        if latest is not None and (not isinstance(latest, int) or isinstance(latest, bool) or latest < 1):
            raise HTTPException(400, "latest must be a positive integer")
        return jobs.start_feed(url.strip(), latest, fetch_settings(), max_disk).to_json()

    @app.get("/api/feeds", summary="Subscribed feeds")
    def list_feeds(s: StoreDep) -> list[dict[str, Any]]:
        from tonearm.library.feeds import feed_summaries

        return feed_summaries(s)

    @app.get("/api/jobs", summary="All index jobs of this server process")
    def list_jobs() -> list[dict[str, Any]]:
        return [j.to_json() for j in jobs.jobs.values()]

    @app.get("/api/jobs/{job_id}", summary="An index job's progress")
    def job(job_id: str) -> dict[str, Any]:
        if job_id not in jobs.jobs:
            raise HTTPException(404, f"no job {job_id}")
        return jobs.jobs[job_id].to_json()

    @app.post("/api/jobs/{job_id}/cancel", summary="Stop an index job at the next finished file",
              dependencies=[Token])  # fmt: skip
    def cancel_job(job_id: str) -> dict[str, Any]:
        if job_id not in jobs.jobs:
            raise HTTPException(404, f"no job {job_id}")
        return jobs.cancel(job_id).to_json()

    @app.get("/api/config", summary="What the web app needs to know about this server")
    def server_config() -> dict[str, Any]:
        return {"requires_token": config.requires_token, "max_upload_mb": config.max_upload_mb,
                "can_index": bool(roots)}  # fmt: skip

    from tonearm.api.library import router as library_router

    app.include_router(library_router)
    from tonearm.api.playlists import router as playlists_router

    app.include_router(playlists_router)
    _mount_subsonic(app, config, jobs, roots)
    if STATIC.is_dir():
        import mimetypes

        mimetypes.add_type("application/manifest+json", ".webmanifest")  # installable on a phone's home screen
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="web")
    return app


def _warm_start(library: str):
    """A lifespan that builds the library's catalogue in the background as the server starts.

    The home page, album pages, covers and Subsonic browsing all read the catalogue; built here,
    the first visitor of a large library does not wait for it (20k tracks: a few hundred ms).
    """

    def warm() -> None:
        from tonearm.search.catalog import catalog

        try:
            catalog(open_store(library, create=False))
        except Exception as exc:  # an empty or missing library: the first request reports it
            log.debug("catalogue not warmed: %s", exc)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=warm, name="tonearm-warm-catalog", daemon=True).start()
        yield

    return lifespan


def _mount_subsonic(app: FastAPI, config: ServerConfig, jobs: JobManager, roots: list[str]) -> None:
    """``/rest/*`` for Subsonic players when enabled; otherwise a failed envelope that says how to enable it."""
    if not config.subsonic:
        from fastapi.responses import Response

        from tonearm.api.subsonic.protocol import GENERIC, Params, SubsonicError, to_json, to_xml

        @app.api_route("/rest", methods=["GET", "POST", "HEAD"], include_in_schema=False)
        @app.api_route("/rest/{name:path}", methods=["GET", "POST", "HEAD"], include_in_schema=False)
        def rest_off(request: Request, name: str = "") -> Response:
            off = SubsonicError(GENERIC, "the Subsonic API is off: start tonearm serve with --subsonic")
            if (Params(list(request.query_params.multi_items())).get("f") or "").lower().startswith("json"):
                return Response(to_json(None, "failed", off), media_type="application/json")
            return Response(to_xml(None, "failed", off), media_type="text/xml; charset=utf-8")

        return
    from tonearm.api.subsonic.router import SubsonicConfig, mount

    def scan() -> bool:
        if not roots or jobs.running() is not None:
            return False
        jobs.start(list(roots))
        return True

    mount(app, SubsonicConfig(config.library, config.subsonic_user, scan=scan))


def track_detail(s: Store, track_id: str) -> dict[str, Any]:
    """A track's row for display, with its sound tags grouped and empty fields left out."""
    rows = s.get([track_id])
    if not rows:
        raise NotFoundError(f"no track {track_id}")
    out = {k: v for k, v in readable_row(rows[0]).items() if v is not None and k != "ana_melody_notes"}
    out["tags"] = {k[4:]: out.pop(k) for k in [k for k in out if k.startswith("tag_")]}
    return out
