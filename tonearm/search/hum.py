"""``hum``: find the track a hummed, sung or whistled tune comes from.

Two stages, so a 10k-track library answers in well under a second:

1. **Prefilter**: the query's interval n-gram profile against the melody view (vector k-NN).
2. **Rerank**: local alignment (Smith-Waterman) of the query's interval sequence against each
   candidate's stored note list. Local alignment lets the query start anywhere in the track;
   partial credit for intervals one semitone off and gap penalties absorb wrong, missing or
   extra notes. The aligned notes give the matched time range in the track.

Queries are bounded: at most ``MAX_QUERY_S`` seconds are analysed; a query with too few
notes (silence, noise, half a second) is a clear error, never an empty guess.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from tonearm.analyzers.melody import (
    QUERY_FMIN,
    SR,
    NoteEvent,
    extract_notes,
    intervals,
    ngram_vector,
    note_arrays,
    pitch_intervals,
)
from tonearm.audio.segments import WindowPolicy, load_for_analysis
from tonearm.errors import TonearmError
from tonearm.search import dedupe
from tonearm.search.results import RESULT_FIELDS
from tonearm.store.base import Store

MAX_QUERY_S = 30.0
MIN_INTERVALS = 4
# Candidates the melody vector k-NN hands to the alignment rerank. At 100k tracks the right tune is
# often not among the 200 nearest profiles (bench/bench_hum.py: MRR@10 0.23 with 200, 0.49 with 500,
# 0.54 with 1000); 500 keeps the p95 under 200 ms there.
PREFILTER = 500
_MATCH, _NEAR, _MISMATCH, _GAP = 2.0, 0.5, -1.5, -1.0
_QUERY_POLICY = WindowPolicy(full_max=MAX_QUERY_S, count=1, length=MAX_QUERY_S)


@dataclass(frozen=True)
class Alignment:
    score: float  # 0..1: alignment score over a perfect match of the whole query
    start: int  # first aligned interval in the target
    end: int  # last aligned interval in the target (inclusive)


def local_alignment(query: np.ndarray, target: np.ndarray) -> Alignment:
    """Smith-Waterman of one query against one target interval sequence (see ``local_alignments``)."""
    return local_alignments(query, [target])[0]


_PAD = 10_000  # an interval no query has: padding cells always mismatch


def local_alignments(query: np.ndarray, targets: list[np.ndarray]) -> list[Alignment]:
    """Smith-Waterman of the query against every target at once, vectorised along the targets.

    The targets are padded to one length and aligned as rows of one matrix, so a rerank of 200
    candidates costs one pass over the query's intervals instead of 200 (the per-call overhead
    of numpy, not arithmetic, was most of the time). Padding sits after each target's end, and
    the recurrences only look left and up, so it never changes a real cell.

    The horizontal-gap recurrence H[i,j] = max(H0[i,j], H[i,j-1] + gap) is solved for a whole
    row at once: it equals the running maximum of (H0 + |gap|*j) minus |gap|*j.
    """
    m = query.size
    n = max((t.size for t in targets), default=0)
    if m == 0 or n == 0:
        return [Alignment(0.0, 0, 0) for _ in targets]
    c = len(targets)
    padded = np.full((c, n), _PAD, dtype=np.int16)  # intervals are clipped to an octave
    for row, t in zip(padded, targets, strict=True):
        row[: t.size] = t
    # Scores are sums of the four constants (multiples of 0.5), exact in float32: the narrow types
    # only halve the memory each step walks through (a 500-candidate rerank 79 -> 59 ms, same result).
    substitution = np.array([_MATCH, _NEAR, _MISMATCH], np.float32)  # by |interval difference|: 0, 1, more
    cols = np.broadcast_to(np.arange(n + 1, dtype=np.int32), (c, n + 1))
    prev = np.zeros((c, n + 1), np.float32)
    start_prev = np.array(cols)
    h0 = np.zeros((c, n + 1), np.float32)  # column 0 stays 0: an alignment may start anywhere
    start0 = np.zeros((c, n + 1), np.int32)
    best = np.zeros(c, np.float32)
    best_end = np.zeros(c, dtype=np.int64)
    best_start = np.zeros(c, dtype=np.int64)
    ramp = (-_GAP * np.arange(n + 1)).astype(np.float32)
    rows = np.arange(c)
    for i in range(m):
        sub = substitution[np.minimum(np.abs(padded - np.int16(query[i])), 2)]
        diag = prev[:, :-1] + sub
        up = prev[:, 1:] + np.float32(_GAP)
        np.maximum(0.0, np.maximum(diag, up), out=h0[:, 1:])
        start0[:, 1:] = np.where(diag >= up, start_prev[:, :-1], start_prev[:, 1:])
        start0 = np.where(h0 == 0, cols, start0)
        shifted = h0 + ramp
        run = np.maximum.accumulate(shifted, axis=1)
        h = np.maximum(h0, run - ramp)
        # Starting column follows the cell the running maximum came from.
        src = np.maximum.accumulate(np.where(shifted == run, cols, 0), axis=1)
        start = np.where(h > h0, np.take_along_axis(start0, src, axis=1), start0)
        j = np.argmax(h, axis=1)
        top = h[rows, j]
        better = top > best
        best = np.where(better, top, best)
        best_end = np.where(better, j - 1, best_end)
        best_start = np.where(better, start[rows, j], best_start)
        prev, start_prev = h, start
    return [
        Alignment(float(b) / (_MATCH * m), int(s0), max(int(s0), int(e)))
        for b, s0, e in zip(best, best_start, best_end, strict=True)
    ]


def query_notes(path: str) -> list[NoteEvent]:
    """Notes of a hummed/sung query (first ``MAX_QUERY_S`` seconds)."""
    audio = load_for_analysis(path, SR, _QUERY_POLICY)
    notes = extract_notes(audio.at(SR), audio.offsets, QUERY_FMIN)
    if np.count_nonzero(intervals(notes)) < MIN_INTERVALS:
        raise TonearmError(
            f"no tune found in {os.path.basename(path)}: fewer than {MIN_INTERVALS + 1} distinct notes "
            "(hum or sing at least 5 seconds of melody, away from noise)"
        )
    return notes


def hum_search(store: Store, path: str, k: int = 10, where: str | None = None) -> dict[str, Any]:
    """Rank library tracks by how well they contain the tune in the audio file at ``path``."""
    if k < 1:
        raise TonearmError("-k must be at least 1")
    if "melody" not in store.views():
        raise TonearmError("the library has no melody view; re-run `tonearm index` to add it")
    flt = store.compile_where(where)
    notes = query_notes(path)
    results = search_notes(store, notes, k, flt)
    query = {
        "target": path,
        "kind": "file",
        "path": os.path.realpath(path),
        "view": "melody",
        "k": k,
        "where": where,
        "notes": len(notes),
        "duration": round(notes[-1].onset + notes[-1].duration, 2),
    }
    return {"query": query, "results": results}


def search_notes(store: Store, notes: list[NoteEvent], k: int, flt=None) -> list[dict[str, Any]]:
    """Prefilter by interval n-gram profile, rerank by local alignment; results in the `similar` shape."""
    q_iv = intervals(notes)
    cols = [*RESULT_FIELDS, "ana_melody_notes"]
    hits = store.knn("melody", ngram_vector(q_iv), max(PREFILTER, dedupe.overfetch(k)), where=flt, columns=cols)
    notes_of = note_arrays([hit.row.get("ana_melody_notes") for hit in hits])
    alignments = local_alignments(q_iv, [pitch_intervals(t_notes[:, 2]) for t_notes in notes_of])
    ranked = [
        (0.85 * aln.score + 0.15 * max(hit.score, 0.0), aln, hit, t_notes)
        for hit, aln, t_notes in zip(hits, alignments, notes_of, strict=True)
    ]
    ranked.sort(key=lambda x: -x[0])
    results = []
    gate = dedupe.Collapser()
    for score, aln, hit, t_notes in ranked:
        if len(results) == k:
            break
        if not gate.admit(hit.row):
            continue
        item = {key: hit.row.get(key) for key in RESULT_FIELDS}
        item["score"] = round(float(score), 6)
        item["rank"] = len(results) + 1
        if len(t_notes):
            first, last = t_notes[aln.start], t_notes[min(aln.end + 1, len(t_notes) - 1)]
            end = round(float(last[0] + last[1]), 2)
            item["match"] = {"start": round(float(first[0]), 2), "end": end, "alignment": round(aln.score, 4)}
        results.append(item)
    return results
