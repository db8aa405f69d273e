"""The incremental, crash-safe index job.

One run: scan the folders, compare each file with what the store holds, analyse only what
is new or changed (in parallel worker processes), and commit every finished track at once,
so a ``kill -9`` loses at most the files in flight and a re-run finishes the rest. The
decision per file:

* not in the store            -> analyse every view
* size and mtime unchanged    -> skip; re-analyse only views whose analyzer changed;
                                 re-read metadata if a sidecar changed
* size or mtime changed       -> hash: same bytes -> refresh stat and metadata only;
                                 different bytes, same decoded audio (retagged) -> the views that
                                 read metadata only; different audio -> analyse every view
* new path, same bytes as a track whose file is gone (moved or renamed; ``moves.py``)
                              -> the track moves: same id and analysis, new path
* gone from disk              -> delete its row (unless ``keep_missing``)
* failed before, unchanged    -> skip (``retry_failed`` tries again)

The store's row is the only state: there is no journal to get out of sync with it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tonearm import failpoints
from tonearm.analyzers import external, get_analyzer, parse_views, stretches
from tonearm.analyzers.base import Analyzer
from tonearm.analyzers.normalize import FINAL_REFIT_GROWTH, REFIT_GROWTH, Standardizer, l2
from tonearm.errors import DiskFullError, storage_fault
from tonearm.library.duplicates import update_duplicates
from tonearm.library.engines import Engine, LocalEngine
from tonearm.library.landmarks import sync_postings
from tonearm.library.level_pass import LEVELS_META, measure_library
from tonearm.library.metadata import SidecarReader, read_tags, sidecar_signature, to_columns
from tonearm.library.moods import clear_emotions, tag_library
from tonearm.library.moves import AUDIO_DIGEST, free_track_id, pair_moves
from tonearm.library.refit import refit_view
from tonearm.library.scan import FileStat, iter_audio_files, under_roots
from tonearm.library.tag_recheck import TagRecheck
from tonearm.library.worker import Job, Result
from tonearm.store.base import Store, raw_column, vector_column
from tonearm.store.schema import FINGERPRINT_VIEW, LANDMARK_VIEW, LANGUAGES_META
from tonearm.words.emotions import EmotionBackend, OfflineEmotions

log = logging.getLogger(__name__)

_REFIT_EVERY = 25  # commits between checks of the normalisation statistics
_COMPACT_EVERY = 500  # commits between compactions of the store during a long run
# Whether standardised views fit their analyzer's discriminant projection to the library (`index --adapt`).
ADAPT_META = "adapt"
AUDIO_HASH = AUDIO_DIGEST  # digest of the decoded audio: a retagged file keeps its audio's analysis
_STATE_COLUMNS = ["id", "path", "size", "mtime_ns", "content_hash", "views_json", "sidecar_sig", AUDIO_HASH, "duration"]


class ProgressSink(Protocol):
    """Receives progress from an index run (the CLI draws a Rich bar from it)."""

    def start(self, total: int) -> None: ...
    def advance(self, path: str, status: str) -> None: ...


class _NoProgress:
    def start(self, total: int) -> None:
        pass

    def advance(self, path: str, status: str) -> None:
        pass


@dataclass
class IndexReport:
    """What an index run did, for the CLI summary and for benchmarks."""

    scanned: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    metadata_refreshed: int = 0
    moved: int = 0  # files found at a new path with the same bytes: their tracks kept id and analysis
    retagged: int = 0  # files with new bytes but the same audio: only the views that read metadata redone
    removed: int = 0
    skipped_failed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    audio_seconds: float = 0.0
    analysed_seconds: float = 0.0
    analysis_cpu_seconds: float = 0.0
    emotions_tagged: int = 0
    emotions_failed: int = 0
    duplicate_groups: int = 0
    files_in_duplicate_groups: int = 0
    levels_measured: int = 0  # loudness for players, once `tonearm levels` has been run on the library
    warnings: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["failed"] = [{"path": p, "reason": r} for p, r in self.failed]
        return d


@dataclass(frozen=True)
class _RunOptions:
    """What one run was asked to do (the flags of ``Indexer.run``)."""

    roots: list[str]
    workers: int
    keep_missing: bool
    retry_failed: bool


class Indexer:
    """Runs index jobs against one store with one view→analyzer configuration."""

    def __init__(
        self,
        store: Store,
        views: Mapping[str, str] | None = None,
        emotions: EmotionBackend | None = None,
        adapt: bool | None = None,
    ) -> None:
        self.store = store
        # Discriminant projections fitted to the library (analyzers that have one): None keeps the
        # library's last choice (on by default); True/False is remembered by the library.
        self._adapt_choice = adapt
        self._adapt = adapt is not False  # settled against the library's choice when the run starts
        self.emotions = emotions or OfflineEmotions()
        # No views given: the library's own choices (layered over the defaults for views it lacks).
        self.views = dict(views) if views else parse_views(None, store.get_meta("views"))
        external.use_library_paths(store)  # weights this library was indexed with, unless given others
        self.analyzers = {v: get_analyzer(n) for v, n in self.views.items()}
        for analyzer in self.analyzers.values():
            analyzer.ensure_ready()  # fail before scanning, not once per file
        # Row fields the analyzers own (tags, note lists): cleared with new bytes, kept by metadata refresh.
        self._owned_fields = frozenset(f for a in self.analyzers.values() for f in a.extra_fields) | {
            stretches.set_field(v) for v, a in self.analyzers.items() if a.segments_field
        }
        self._field_types = {n: t for a in self.analyzers.values() for n, t in a.field_types.items()}
        self.sidecars = SidecarReader()
        self._standardizers: dict[str, Standardizer | None] = {}
        self._search_dims: dict[str, int] = {}  # each view's search column, as the store holds it now
        self._commits_since_refit = 0
        self._commits_since_compaction = 0
        # This run's move candidates (new path -> the vanished row it may be), the old paths of tracks
        # that did move, and the ids the library holds (a new row never takes one).
        self._move_from: dict[str, dict] = {}
        self._moved_paths: set[str] = set()
        self._ids: set[str] = set()
        self._recheck = TagRecheck(store, self.sidecars, active=False)  # a run starts its own

    # ---- public -------------------------------------------------------------------------
    def run(
        self,
        roots: Iterable[str],
        workers: int = 1,
        keep_missing: bool = False,
        retry_failed: bool = False,
        progress: ProgressSink | None = None,
        engine: Engine | None = None,
    ) -> IndexReport:
        """Index ``roots``; analysis runs on ``engine`` (local processes unless given, e.g. Ray)."""
        progress = progress or _NoProgress()
        roots = [str(os.path.realpath(os.path.expanduser(r))) for r in roots]
        missing_roots = [r for r in roots if not os.path.exists(r)]
        if missing_roots:
            from tonearm.errors import TonearmError

            raise TonearmError(f"no such file or folder: {', '.join(missing_roots)}")
        report = IndexReport()
        t0 = time.perf_counter()
        try:
            self._run(_RunOptions(roots, workers, keep_missing, retry_failed), progress, engine, report)
        except Exception as exc:
            fault = storage_fault(exc, self.store.location)
            if fault is None:
                raise
            if isinstance(fault, DiskFullError):
                raise DiskFullError(
                    f"{fault}: {self._committed(report)}; free some space and run the same command again to continue"
                ) from None
            raise fault from None
        report.elapsed = time.perf_counter() - t0
        return report

    def _committed(self, report: IndexReport) -> str:
        done = f"{report.added + report.updated} tracks committed by this run"
        try:
            return f"{done}, {self.store.count()} in the library, all intact"
        except Exception:  # reading may fail as well on a sick disk; what this run did is still known
            return done

    def _run(self, opts: _RunOptions, progress: ProgressSink, engine: Engine | None, report: IndexReport) -> None:
        roots = opts.roots
        with self.store.write_lock():
            self._prepare_views()
            files = list(iter_audio_files(roots))
            report.scanned = len(files)
            self._recheck = TagRecheck(self.store, self.sidecars)
            existing = {r["path"]: r for r in self.store.scan(columns=_STATE_COLUMNS + self._recheck.columns)}
            failures = {f["path"]: f for f in self.store.failures()}
            unreadable = [f for f in files if f.problem]
            on_disk = {f.path for f in files}
            self._ids = {r["id"] for r in existing.values()}
            self._moved_paths = set()
            self._move_from = {}
            if not opts.keep_missing:  # rows of missing files are being kept: none of them is free to move
                new_files = [f for f in files if not f.problem and f.path not in existing]
                local = "://" not in self.store.location  # see moves.pair_moves
                self._move_from = pair_moves(new_files, existing, on_disk, roots, outside=local)
            jobs, meta_refresh = self._plan([f for f in files if not f.problem], existing, failures,
                                            opts.retry_failed, report)  # fmt: skip
            progress.start(len(jobs) + len(meta_refresh) + len(unreadable))
            for f in unreadable:  # pipes, devices, link loops, unreadable folders: nothing to analyse
                self._fail(f.path, f.problem or "cannot be read", report)
                progress.advance(f.path, "failed")
            for path in meta_refresh:
                self._refresh_metadata(existing[path])
                report.metadata_refreshed += 1
                progress.advance(path, "metadata")
            try:
                self._execute(jobs, existing, opts.workers, report, progress, engine)
            except KeyboardInterrupt:
                # Ctrl-C or SIGTERM: the workers are already stopped; make what was committed searchable
                # (a library's first statistics are fitted only after 25 tracks) and stop.
                for view in self.views:
                    self._maybe_refit(view)
                raise
            gone = [p for p in existing if under_roots(p, roots) and p not in on_disk and p not in self._moved_paths]
            if gone and not opts.keep_missing:
                report.removed = self.store.delete([existing[p]["id"] for p in gone])
            stale_failures = [p for p in failures if under_roots(p, roots) and p not in on_disk]
            self.store.clear_failures(stale_failures)
            self._library_passes(report, opts.workers)
            # every track whose file is there to read, or lies outside this run's folders, must be checked
            self._recheck.finish(r["id"] for p, r in existing.items() if p in on_disk or not under_roots(p, roots))

    def _library_passes(self, report: IndexReport, workers: int = 1) -> None:
        """What reads the whole library after the files are committed: statistics, moods, postings, duplicates,
        and the loudness of new tracks in a library whose levels are kept (``tonearm levels``)."""
        for view in self.views:
            self._maybe_refit(view, final=True)
        # One commit per track leaves one small fragment per track: compact before the passes
        # below read every row, and again after them.
        self.store.optimize()
        if "words" in self.views:
            self._record_languages()
            moods = tag_library(self.store, self.emotions)
            report.emotions_tagged, report.emotions_failed = moods.tagged, moods.failed + moods.skipped
            report.warnings += [f"emotions: {r}" for r in moods.reasons]
        if LANDMARK_VIEW in self.views:
            sync_postings(self.store)
        if FINGERPRINT_VIEW in self.views:
            dups = update_duplicates(self.store)
            report.duplicate_groups, report.files_in_duplicate_groups = dups.groups, dups.files_in_groups
        if self.store.get_meta(LEVELS_META):
            levels = measure_library(self.store, workers)
            report.levels_measured = levels.measured
            report.warnings += [f"loudness not measured: {p}: {r}" for p, r in levels.failed]
        self.store.optimize()

    def _record_languages(self) -> None:
        """Which languages the transcripts are in: text search asks its question in each of them."""
        if "language" not in self.store.fields():
            return
        langs = sorted({r["language"] for r in self.store.scan(columns=["language"]) if r.get("language")})
        if self.store.get_meta(LANGUAGES_META) != langs:
            self.store.set_meta(LANGUAGES_META, langs)

    # ---- planning -----------------------------------------------------------------------
    def _prepare_views(self) -> None:
        self.store.ensure_fields({AUDIO_HASH: "string"})
        configured = dict(self.store.get_meta("views") or {})
        configured.update(self.views)
        self.store.set_meta("views", configured)  # lets queries analyse files the same way
        saved_adapt = self.store.get_meta(ADAPT_META)
        self._adapt = self._adapt_choice if self._adapt_choice is not None else saved_adapt is not False
        if self._adapt_choice is not None and saved_adapt != self._adapt_choice:
            self.store.set_meta(ADAPT_META, self._adapt_choice)
        paths = dict(self.store.get_meta(external.META_KEY) or {})
        for name in self.views.values():
            if os.environ.get(external.env_var(name)):
                paths[name] = os.environ[external.env_var(name)]
        if paths:
            self.store.set_meta(external.META_KEY, paths)
        stored = self.store.raw_dims()
        for view, analyzer in self.analyzers.items():
            if view in stored and stored[view] != analyzer.dim:
                log.warning("view %s changes dimension %d -> %d: rebuilding it", view, stored[view], analyzer.dim)
                self.store.drop_view(view)
            if analyzer.dim == 0:
                continue  # a view without a vector (landmarks: its index is the postings)
            self.store.ensure_view(view, analyzer.dim)
            if analyzer.segments_field:  # its stretch vectors, derived with the statistics (analyzers/stretches.py)
                self.store.ensure_fields({stretches.set_field(view): "string"})
            saved = self.store.get_meta(f"normalizer:{view}")
            self._standardizers[view] = Standardizer.from_json(saved) if saved else None
        self._search_dims = self.store.views()

    def _fresh_views(self, row: Mapping[str, Any]) -> frozenset[str]:
        stored = json.loads(row.get("views_json") or "{}")
        return frozenset(v for v, a in self.analyzers.items() if stored.get(v) == a.key)

    def _plan(
        self,
        files: list[FileStat],
        existing: dict[str, dict],
        failures: dict[str, dict],
        retry_failed: bool,
        report: IndexReport,
    ) -> tuple[list[Job], list[str]]:
        jobs: list[Job] = []
        meta_refresh: list[str] = []
        for f in files:
            row = existing.get(f.path)
            if row is None:
                failed = failures.get(f.path)
                if (
                    failed is not None
                    and not retry_failed
                    and failed.get("size") == f.size
                    and failed.get("mtime_ns") == f.mtime_ns
                ):
                    report.skipped_failed += 1
                    continue
                jobs.append(self._new_file_job(f))
                continue
            fresh = self._fresh_views(row)
            if row.get("size") == f.size and row.get("mtime_ns") == f.mtime_ns:
                stale = {v for v in self.views if v not in fresh}
                sidecar_changed = (row.get("sidecar_sig") or "") != sidecar_signature(f.path)
                if sidecar_changed:
                    # Views that read metadata (words: lyrics, titles) follow their sidecars and tags.
                    stale |= {v for v in self.views if self.analyzers[v].reads_metadata}
                elif tags := self._recheck.differs(row, f.path):
                    sidecar_changed = True  # the row's metadata is refreshed, with or without analysis
                    stale |= {v for v in self.views if self._reads_any(self.analyzers[v], tags)}
                if stale:
                    previous = self._previous_fields(row["id"]) if sidecar_changed else {}
                    # Every configured view goes with the job (the decode rate follows all of them); the
                    # ones not stale are skipped when the bytes prove unchanged.
                    kept = frozenset(self.views) - stale
                    jobs.append(Job(f.path, self.views, known_hash=row.get("content_hash"), fresh_views=kept,
                                    previous=previous))  # fmt: skip
                elif sidecar_changed:
                    meta_refresh.append(f.path)
                else:
                    report.unchanged += 1
            else:
                audio = row.get(AUDIO_HASH)  # new bytes may hold the same audio (retagged): its transcript stays
                jobs.append(Job(f.path, self.views, known_hash=row.get("content_hash"), fresh_views=fresh,
                                previous=self._previous_fields(row["id"]) if audio else {},
                                known_audio_hash=audio))  # fmt: skip
        return jobs, meta_refresh

    @staticmethod
    def _reads_any(analyzer: Analyzer, keys: frozenset[str]) -> bool:
        """Whether ``analyzer``'s output depends on any of the metadata ``keys``."""
        if not analyzer.reads_metadata:
            return False
        return analyzer.metadata_keys is None or bool(analyzer.metadata_keys & keys)

    def _new_file_job(self, f: FileStat) -> Job:
        """A file at a path the library does not hold; if it may be a vanished track that moved here, the
        worker skips that track's fresh views when the bytes prove equal (``moves.py``)."""
        row = self._move_from.get(f.path)
        if row is None:
            return Job(f.path, self.views)
        fresh = self._fresh_views(row)
        previous: dict[str, Any] = {}
        if (row.get("sidecar_sig") or "") != sidecar_signature(f.path):  # other sidecars at the new place
            fresh -= {v for v in self.views if self.analyzers[v].reads_metadata}
            previous = self._previous_fields(row["id"])  # its transcript, reused if the bytes are the same
        return Job(f.path, self.views, known_hash=row["content_hash"], fresh_views=fresh, previous=previous,
                   known_audio_hash=row.get(AUDIO_HASH))  # fmt: skip

    def _previous_fields(self, track: str) -> dict[str, Any]:
        """Reusable analyzer outputs of a row (its transcript), for a metadata-only re-analysis."""
        try:
            rows = self.store.get([track], columns=["ana_transcript"])
        except Exception:  # the column does not exist yet in this library
            return {}
        return {k: v for k, v in (rows[0] if rows else {}).items() if k == "ana_transcript" and v}

    # ---- execution ----------------------------------------------------------------------
    def _execute(
        self,
        jobs: list[Job],
        existing: dict[str, dict],
        workers: int,
        report: IndexReport,
        progress: ProgressSink,
        engine: Engine | None = None,
    ) -> None:
        if not jobs:
            return
        for job, result in (engine or LocalEngine()).run(jobs, workers):
            old = existing.get(job.path)
            same = result.content_unchanged or result.audio_unchanged
            moved_from = self._move_from.get(job.path) if old is None and same else None
            status = self._commit(job, result, old or moved_from, report, moved=moved_from is not None)
            progress.advance(job.path, status)

    def _fail(self, path: str, reason: str, report: IndexReport) -> None:
        try:
            st = os.stat(path)
            size, mtime = st.st_size, st.st_mtime_ns
        except OSError:
            size, mtime = None, None
        self.store.record_failures([{"path": path, "reason": reason, "size": size, "mtime_ns": mtime}])
        report.failed.append((path, reason))

    def _commit(self, job: Job, res: Result, old: dict | None, report: IndexReport, moved: bool = False) -> str:
        if res.error:
            self._fail(job.path, res.error, report)
            return "failed"
        full_old = self.store.get([old["id"]])[0] if old else None
        if full_old is None:
            row: dict[str, Any] = {"id": free_track_id(job.path, self._ids), "added_at": time.time()}
            self._ids.add(row["id"])
        else:
            row = dict(full_old)
        if not (res.content_unchanged or res.audio_unchanged):
            # New audio: nothing from the old analysis may survive.
            for view in self.store.views():
                row[vector_column(view)] = None
                row[raw_column(view)] = None
            for name in self._owned_fields:
                row[name] = None
            row["views_json"] = "{}"
        row.update(path=job.path, size=res.size, mtime_ns=res.mtime_ns, content_hash=res.content_hash)
        if res.audio_hash:
            row[AUDIO_HASH] = res.audio_hash
        if res.duration is not None:
            row.update(duration=res.duration, sample_rate=res.sample_rate, channels=res.channels)
        self._apply_metadata(row, res.tags)
        if res.extras:
            types = {
                name: "string" if isinstance(v, str) else "number" for name, v in res.extras.items() if v is not None
            }
            types.update({n: t for n, t in self._field_types.items() if n in res.extras})
            self.store.ensure_fields({n: t for n, t in types.items() if n in res.extras})
            row.update({n: v for n, v in res.extras.items() if n in types})
        views = json.loads(row.get("views_json") or "{}")
        if "words" in res.raw:
            clear_emotions(row)  # the words changed: their emotions are re-tagged after this run
        for view, raw in res.raw.items():
            if self.analyzers[view].dim:
                row[raw_column(view)] = raw
                row[vector_column(view)] = self._normalise(view, raw)
                if self.analyzers[view].segments_field:
                    row[stretches.set_field(view)] = self._stretch_vectors(view, row)
            views[view] = self.analyzers[view].key
        row["views_json"] = json.dumps(views, sort_keys=True)
        if res.raw:
            row["analyzed_at"] = time.time()
        with failpoints.during("commit"):
            self.store.upsert([row])
        self.store.clear_failures([job.path])
        report.audio_seconds += res.duration or 0.0
        report.analysed_seconds += res.analysed_seconds
        report.analysis_cpu_seconds += res.elapsed if res.raw else 0.0
        self._commits_since_refit += 1
        self._commits_since_compaction += 1
        if self._commits_since_compaction >= _COMPACT_EVERY:
            self._commits_since_compaction = 0
            self.store.optimize()  # long runs: keep reads (queries meanwhile, the passes) fast
        if self._commits_since_refit >= _REFIT_EVERY:
            for view in self.views:
                self._maybe_refit(view)
        report.retagged += int(res.audio_unchanged)
        if moved and old is not None:
            self._moved_paths.add(old["path"])  # its row now holds the new path: not gone
            report.moved += 1
            return "moved"
        if full_old is None:
            report.added += 1
            return "added"
        report.updated += 1
        return "updated"

    # ---- metadata -----------------------------------------------------------------------
    def _apply_metadata(self, row: dict[str, Any], tags: dict[str, Any]) -> None:
        path = row["path"]
        sidecar = self.sidecars.read(path)
        columns, new_fields, merged = to_columns(tags, sidecar, self.store.fields())
        if new_fields:
            self.store.ensure_fields(new_fields)
        known = self.store.fields()
        for name in [k for k in row if k not in ("id", "path") and k in known]:
            if name not in columns and name not in _FILE_COLUMNS and name not in self._owned_fields:
                row[name] = None  # a field removed from tags/sidecar must not linger
        row.update(columns)
        row["meta_json"] = json.dumps(merged, ensure_ascii=False, default=str)
        row["sidecar_sig"] = sidecar_signature(path)

    def _refresh_metadata(self, state_row: dict[str, Any]) -> None:
        row = self.store.get([state_row["id"]])[0]
        self._apply_metadata(row, read_tags(row["path"]))
        self.store.upsert([row])

    # ---- normalisation ------------------------------------------------------------------
    def _normalise(self, view: str, raw: np.ndarray) -> np.ndarray | None:
        analyzer = self.analyzers[view]
        if analyzer.normalization == "none":
            return l2(raw) if np.any(raw) else None  # an empty profile (no melody) is not searchable
        std = self._standardizers.get(view)
        if std is None or std.analyzer != analyzer.key or std.output_dim() != self._search_dims.get(view):
            return None  # searchable once statistics exist (first refit) and the search column fits them
        return std.apply(raw)

    def _stretch_vectors(self, view: str, row: Mapping[str, Any]) -> str | None:
        """The stored stretch vectors of a row whose track vector was just derived (None until it is)."""
        std, analyzer = self._standardizers.get(view), self.analyzers[view]
        if std is None or row.get(vector_column(view)) is None:
            return None
        raw = np.asarray(row[raw_column(view)], np.float32)[None, :]
        vectors, counts = stretches.derive(analyzer, std, raw, [row.get(analyzer.segments_field)])
        return stretches.encode_many(std, vectors, counts)[0]

    def _maybe_refit(self, view: str, final: bool = False) -> None:
        """Refit the view's statistics if the library drifted; fill in vectors still missing.

        ``final``: the run's last check, held to a tighter drift (``FINAL_REFIT_GROWTH``)."""
        self._commits_since_refit = 0
        analyzer = self.analyzers[view]
        if analyzer.normalization != "standardize":
            return
        current = self._standardizers.get(view)
        recipe = analyzer.discriminant() if self._adapt else None
        growth = FINAL_REFIT_GROWTH if final else REFIT_GROWTH
        self._standardizers[view] = refit_view(
            self.store, view, analyzer.key, analyzer.dim_weights(), current, discriminant=recipe, growth=growth,
            stretches_of=analyzer if analyzer.segments_field else None,
        )  # fmt: skip
        self._search_dims = self.store.views()


_FILE_COLUMNS = {
    "size", "mtime_ns", "content_hash", "duration", "sample_rate", "channels", "added_at", "analyzed_at",
}  # fmt: skip
