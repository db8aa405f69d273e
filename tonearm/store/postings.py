"""The landmark postings index of a folder library: hash -> (track, time), as memory-mapped arrays.

A database table is the wrong shape for this lookup (a query asks for thousands of hashes at
once, each with hundreds of postings), so a LanceDB library keeps its postings beside its
tables, in ``landmarks/``:

* segments: ``seg-NNNNNN.offsets.npy`` (uint32, one entry per 21-bit hash + 1: where each hash's
  postings start) and ``seg-NNNNNN.postings.npy`` (uint32 frame numbers on the segment's
  timeline, on which the segment's tracks are laid end to end with a gap of ``GAP`` frames, so
  one number names both the track and the time), plus ``seg-NNNNNN.tracks.json`` (the tracks in
  timeline order with their start frames);
* ``manifest.json``: the live segments and, per track, which segment holds its current postings
  and the key (analyzer and peaks digest) they were made from.

An update writes a new segment, then atomically replaces the manifest (write, fsync, rename):
a crash at any point leaves the previous manifest, whose segments are all intact; a half-written
segment is just an orphan file, removed by the next update. Tracks replaced or removed keep
their old postings in their old segment until compaction, but the manifest no longer points
there, so queries ignore them. When dead postings outweigh live ones or segments pile up, an
update compacts everything into one segment. The rows' peaks (``ana_landmarks``) stay the truth:
the whole index can be rebuilt from them (``tonearm.library.landmarks``).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tonearm import failpoints
from tonearm.store.files import fsync_write, save_npy
from tonearm.store.voting import aligned_windows, choose, expand, gather

HASH_BITS = 21
N_HASHES = 1 << HASH_BITS
GAP = 4096  # frames (65 s) between tracks on a timeline: longer than any query, so offsets never spill over
BIAS = GAP // 2  # added to every hit of a lookup so that 32 bits hold it (a query frame is at most this)
MAX_SEGMENTS = 8
_SEG = "seg-{:06d}"


def build_segment(tracks: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, list]:
    """(offsets, postings, [(track id, start frame, length)]) for tracks given as (id, hashes, frames)."""
    starts, placed, cursor = [], [], 0
    for tid, h, t in tracks:
        length = int(t.max()) + 1 if t.size else 0
        starts.append((tid, cursor, length))
        placed.append((np.asarray(h, np.int64), np.asarray(t, np.int64) + cursor))
        cursor += length + GAP
    if cursor >= 2**32:
        raise ValueError("a landmark segment is limited to 2^32 frames (~19,000 hours)")
    if placed:
        h = np.concatenate([p[0] for p in placed])
        p = np.concatenate([p[1] for p in placed])
    else:
        h, p = np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.lexsort((p, h))
    counts = np.bincount(h[order], minlength=N_HASHES)
    offsets = np.zeros(N_HASHES + 1, np.uint64)
    np.cumsum(counts, out=offsets[1:])
    if offsets[-1] >= 2**32:
        raise ValueError("a landmark segment holds at most 2^32 postings")
    return offsets.astype(np.uint32), p[order].astype(np.uint32), starts


class Segment:
    """One immutable segment, memory-mapped."""

    def __init__(self, folder: Path, name: str) -> None:
        self.name = name
        self.offsets = np.load(folder / f"{name}.offsets.npy", mmap_mode="r")
        self.postings = np.load(folder / f"{name}.postings.npy", mmap_mode="r")
        info = json.loads((folder / f"{name}.tracks.json").read_text())
        self.ids: list[str] = [t[0] for t in info]
        self.id_array = np.array(self.ids, dtype=object)
        self.starts = np.array([t[1] for t in info], np.int64)
        self.lengths = np.array([t[2] for t in info], np.int64)


def buckets(seg: Segment, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each hash's postings start in the segment, and how many there are."""
    lo = seg.offsets[hashes].astype(np.int64)
    return lo, seg.offsets[hashes + 1].astype(np.int64) - lo


class FilePostings:
    """The ``landmarks/`` folder of a library (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._loaded: tuple[int, dict[str, Any], dict[str, Segment]] | None = None
        self._alive_cache: dict[tuple[int, str], np.ndarray] = {}
        self._parsed: tuple[tuple[int, int, int], dict[str, Any]] | None = None

    # ---- reading ---------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        try:
            return json.loads((self.folder / "manifest.json").read_text())
        except FileNotFoundError:
            return {"generation": 0, "segments": [], "tracks": {}}

    def _current(self) -> dict[str, Any]:
        """The manifest for reading, parsed again only when the file was replaced (a publish renames a new file
        over it, so its inode, size or mtime change): at 100k tracks parsing it costs more than a lookup."""
        path = self.folder / "manifest.json"
        try:
            st = path.stat()
        except FileNotFoundError:
            return {"generation": 0, "segments": [], "tracks": {}}
        sig = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            if self._parsed is not None and self._parsed[0] == sig:
                return self._parsed[1]
        manifest = self.manifest()
        with self._lock:
            self._parsed = (sig, manifest)
        return manifest

    def _state(self) -> tuple[dict[str, Any], dict[str, Segment]]:
        """The manifest and its segments, reloaded when another process published a new generation."""
        for _ in range(3):
            manifest = self._current()
            with self._lock:
                if self._loaded and self._loaded[0] == manifest["generation"]:
                    return self._loaded[1], self._loaded[2]
            try:
                segments = {name: Segment(self.folder, name) for name in manifest["segments"]}
            except FileNotFoundError:  # compacted away between reading the manifest and its files: read again
                continue
            with self._lock:
                self._loaded = (manifest["generation"], manifest, segments)
            return manifest, segments
        raise RuntimeError("the landmark index keeps changing under this reader")

    def _alive(self, generation: int, live: Mapping[str, list], seg: Segment) -> np.ndarray:
        """Which of a segment's tracks still have their postings there (cached per manifest generation)."""
        key = (generation, seg.name)
        with self._lock:
            hit = self._alive_cache.get(key)
        if hit is None:
            hit = np.array([live.get(tid, [None])[0] == seg.name for tid in seg.ids], bool)
            with self._lock:
                self._alive_cache = {k: v for k, v in self._alive_cache.items() if k[0] == generation}
                self._alive_cache[key] = hit
        return hit

    def tracks(self) -> dict[str, str]:
        return {tid: entry[1] for tid, entry in self._current()["tracks"].items()}

    def votes(
        self,
        hashes: np.ndarray,
        times: np.ndarray,
        cap: int,
        min_score: int,
        budget: int | None = None,
        weights: np.ndarray | None = None,
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Per track, its best aligned offset: (track ids, offsets, scores) with score >= ``min_score``.

        Offset = posting frame minus the query hash's frame (where in the track the query starts); score = the
        query hashes that agree on it within one frame. Hashes with more than ``cap`` postings are skipped; with a
        ``budget``, the entries of most weight per posting (or the rarest hashes) are read first and no more than
        ``budget`` postings in all (see ``Store.vote_postings``). Tracks whose postings moved on are left out.
        """
        manifest, segments = self._state()
        if not segments:
            return [], np.zeros(0, np.int64), np.zeros(0, np.int64)
        hashes = np.asarray(hashes, np.int64)
        times = np.asarray(times, np.int64)
        ranges = [buckets(seg, hashes) for seg in segments.values()]
        keep = choose(sum(n for _, n in ranges), cap, budget, weights)
        times = times[keep]
        # Each segment is counted on its own timeline (GAP frames between tracks): hits = posting frame + BIAS -
        # query frame, in 32 bits when the query's frames allow it (a clip of up to 30 s, sped up by 5%).
        small = times.size == 0 or (int(times.min()) >= 0 and int(times.max()) <= BIAS)
        out_ids, out_offsets, out_scores = [], [], []
        for seg, (lo, n) in zip(segments.values(), ranges, strict=True):
            if not seg.ids:
                continue
            if small and int(seg.starts[-1] + seg.lengths[-1]) + BIAS < 2**32:
                g, bias = gather(seg.postings, lo[keep], n[keep], BIAS - times), BIAS
            else:
                g, bias = expand(lo[keep], n[keep], seg.postings, times), 0
            track, offset, score = aligned_windows(seg.starts, g, min_score, GAP // 2, bias)
            alive = self._alive(manifest["generation"], manifest["tracks"], seg)[track]
            out_ids.extend(seg.id_array[track[alive]].tolist())
            out_offsets.append(offset[alive])
            out_scores.append(score[alive])
        if not out_ids:
            return [], np.zeros(0, np.int64), np.zeros(0, np.int64)
        return out_ids, np.concatenate(out_offsets), np.concatenate(out_scores)

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.folder.glob("seg-*") if f.is_file())

    # ---- writing (index runs only: they hold the library's write lock) -------------------
    def update(self, add: Mapping[str, tuple[str, np.ndarray, np.ndarray]], remove: Sequence[str]) -> None:
        """Give the tracks in ``add`` (key, hashes, frames) these postings, drop ``remove``; one atomic publish."""
        if not add and not remove:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        manifest = self.manifest()
        tracks = dict(manifest["tracks"])
        for tid in list(remove) + list(add):
            tracks.pop(tid, None)
        generation = manifest["generation"] + 1
        segments = list(manifest["segments"])
        if add:
            name = _SEG.format(generation)
            self._write_segment(name, [(tid, h, t) for tid, (_, h, t) in sorted(add.items())])
            failpoints.hit("postings")  # the segment is written, the manifest does not name it yet
            segments.append(name)
            tracks.update({tid: [name, key] for tid, (key, _, _) in add.items()})
        new = {"generation": generation, "segments": [s for s in segments if any(e[0] == s for e in tracks.values())],
               "tracks": tracks}  # fmt: skip
        if len(new["segments"]) > MAX_SEGMENTS or self._mostly_dead(new):
            new = self._compact(new, generation + 1)
        fsync_write(self.folder / "manifest.json", json.dumps(new).encode())
        self._cleanup(set(new["segments"]))

    def _write_segment(self, name: str, tracks: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
        offsets, postings, starts = build_segment(tracks)
        save_npy(self.folder / f"{name}.offsets.npy", offsets)
        save_npy(self.folder / f"{name}.postings.npy", postings)
        fsync_write(self.folder / f"{name}.tracks.json", json.dumps(starts).encode())

    def _mostly_dead(self, manifest: dict[str, Any]) -> bool:
        live = sum(1 for _ in manifest["tracks"])
        held = 0
        for name in manifest["segments"]:
            try:
                held += len(json.loads((self.folder / f"{name}.tracks.json").read_text()))
            except FileNotFoundError:
                return True
        return held > 2 * live + 100

    def _compact(self, manifest: dict[str, Any], generation: int) -> dict[str, Any]:
        """Merge every segment's live postings into one new segment, a range of hashes at a time (bounded memory)."""
        live = manifest["tracks"]
        segs = [Segment(self.folder, name) for name in manifest["segments"]]
        # The new timeline: live tracks in (segment, start) order, GAP frames apart.
        placed: list[tuple[str, int, int]] = []
        shift: list[np.ndarray] = []  # per segment: new start - old start per track (or -1: dead)
        cursor = 0
        for seg in segs:
            moves = np.full(len(seg.ids), -1, np.int64)
            for i, tid in enumerate(seg.ids):
                if live.get(tid, [None])[0] == seg.name:
                    moves[i] = cursor - seg.starts[i]
                    placed.append((tid, cursor, int(seg.lengths[i])))
                    cursor += int(seg.lengths[i]) + GAP
            shift.append(moves)
        if cursor >= 2**32:
            raise ValueError("a landmark segment is limited to 2^32 frames (~19,000 hours)")
        name = _SEG.format(generation)
        step = 1 << 15
        counts = np.zeros(N_HASHES, np.int64)
        for lo in range(0, N_HASHES, step):  # pass 1: live postings per hash
            for seg, moves in zip(segs, shift, strict=True):
                a, b = int(seg.offsets[lo]), int(seg.offsets[min(lo + step, N_HASHES)])
                if a == b:
                    continue
                p = np.asarray(seg.postings[a:b], np.int64)
                alive = moves[np.searchsorted(seg.starts, p, side="right") - 1] >= 0
                hi = min(lo + step, N_HASHES)
                bucket = np.repeat(np.arange(lo, hi), np.diff(seg.offsets[lo : hi + 1].astype(np.int64)))
                counts += np.bincount(bucket[alive], minlength=N_HASHES)
        offsets = np.zeros(N_HASHES + 1, np.uint64)
        np.cumsum(counts, out=offsets[1:])
        total = int(offsets[-1])
        tmp = self.folder / f".{name}.postings.npy.{os.getpid()}.tmp"
        try:
            self._merge(segs, shift, tmp, total)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        os.replace(tmp, self.folder / f"{name}.postings.npy")
        save_npy(self.folder / f"{name}.offsets.npy", offsets.astype(np.uint32))
        fsync_write(self.folder / f"{name}.tracks.json", json.dumps(placed).encode())
        return {"generation": generation, "segments": [name] if placed else [],
                "tracks": {tid: [name, live[tid][1]] for tid, _, _ in placed}}  # fmt: skip

    @staticmethod
    def _merge(segs: list[Segment], shift: list[np.ndarray], tmp: Path, total: int) -> None:
        """Compaction's second pass: the live postings, hash range by hash range, into ``tmp``."""
        step = 1 << 15
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint32, shape=(max(total, 1),))
        write = 0
        for lo in range(0, N_HASHES, step):  # pass 2: the postings, hash by hash, segment after segment
            hi = min(lo + step, N_HASHES)
            parts_p, parts_b = [], []
            for seg, moves in zip(segs, shift, strict=True):
                a, b = int(seg.offsets[lo]), int(seg.offsets[hi])
                if a == b:
                    continue
                p = np.asarray(seg.postings[a:b], np.int64)
                move = moves[np.searchsorted(seg.starts, p, side="right") - 1]
                bucket = np.repeat(np.arange(lo, hi), np.diff(seg.offsets[lo : hi + 1].astype(np.int64)))
                alive = move >= 0
                parts_p.append(p[alive] + move[alive])
                parts_b.append(bucket[alive])
            if not parts_p:
                continue
            p, bucket = np.concatenate(parts_p), np.concatenate(parts_b)
            order = np.lexsort((p, bucket))
            out[write : write + p.size] = p[order]
            write += p.size
        out.flush()
        del out

    def _cleanup(self, keep: set[str]) -> None:
        for f in self.leftovers(keep):
            with contextlib.suppress(OSError):
                f.unlink()

    def leftovers(self, keep: set[str] | None = None) -> list[Path]:
        """Files no live segment owns: segments replaced or compacted away, temporaries of a failed write."""
        if keep is None:
            keep = set(self.manifest()["segments"])
        if not self.folder.is_dir():
            return []
        out = []
        for f in self.folder.iterdir():
            stem = f.name.lstrip(".").split(".")[0]
            if f.name == "manifest.json" or (stem in keep and not f.name.startswith(".")):
                continue
            if stem.startswith("seg-") or f.name.startswith(".manifest"):
                out.append(f)
        return sorted(out)

    def damage(self) -> list[str]:
        """What is wrong with the live segments, in plain words (empty when every one reads back whole)."""
        try:
            manifest = self.manifest()
        except (OSError, ValueError) as exc:
            return [f"the landmark manifest cannot be read ({exc})"]
        problems = []
        for name in manifest["segments"]:
            try:
                seg = Segment(self.folder, name)
            except (OSError, ValueError) as exc:
                problems.append(f"landmark segment {name} cannot be read ({' '.join(str(exc).split())[:120]})")
                continue
            total = int(seg.offsets[-1]) if seg.offsets.size else -1
            if seg.offsets.shape != (N_HASHES + 1,) or seg.postings.shape[0] != max(total, 1):
                problems.append(f"landmark segment {name} is truncated or the wrong shape")
        return problems

    def reset(self) -> None:
        """Forget every posting (the rows' peaks stay): the next sync rebuilds the index from them."""
        fsync_write(self.folder / "manifest.json", json.dumps({"generation": self.manifest()["generation"] + 1,
                                                               "segments": [], "tracks": {}}).encode())  # fmt: skip
        self._cleanup(set())
