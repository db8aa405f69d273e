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
    decode_notes,
    extract_notes,
    intervals,
    ngram_vector,
)
from tonearm.audio.segments import WindowPolicy, load_for_analysis
from tonearm.errors import TonearmError
from tonearm.search import dedupe
from tonearm.search.results import RESULT_FIELDS
from tonearm.store.base import Store

MAX_QUERY_S = 30.0
MIN_INTERVALS = 4
PREFILTER = 200
_MATCH, _NEAR, _MISMATCH, _GAP = 2.0, 0.5, -1.5, -1.0
_QUERY_POLICY = WindowPolicy(full_max=MAX_QUERY_S, count=1, length=MAX_QUERY_S)


@dataclass(frozen=True)
class Alignment:
    score: float  # 0..1: alignment score over a perfect match of the whole query
    start: int  # first aligned interval in the target
    end: int  # last aligned interval in the target (inclusive)


def local_alignment(query: np.ndarray, target: np.ndarray) -> Alignment:
    """Smith-Waterman over interval sequences, vectorised along the target.

    The horizontal-gap recurrence H[i,j] = max(H0[i,j], H[i,j-1] + gap) is solved for a whole
    row at once: it equals the running maximum of (H0 + |gap|*j) minus |gap|*j.
    """
    m, n = query.size, target.size
    if m == 0 or n == 0:
        return Alignment(0.0, 0, 0)
    diff = np.abs(query[:, None] - target[None, :])
    sub = np.where(diff == 0, _MATCH, np.where(diff == 1, _NEAR, _MISMATCH))
    prev = np.zeros(n + 1)
    start_prev = np.arange(n + 1)
    best, best_end, best_start = 0.0, 0, 0
    ramp = -_GAP * np.arange(n + 1)
    for i in range(m):
        diag = prev[:-1] + sub[i]
        up = prev[1:] + _GAP
        h0 = np.concatenate(([0.0], np.maximum(0.0, np.maximum(diag, up))))
        start0 = np.concatenate(([0], np.where(diag >= up, start_prev[:-1], start_prev[1:])))
        start0 = np.where(h0 == 0, np.arange(n + 1), start0)
        run = np.maximum.accumulate(h0 + ramp)
        h = np.maximum(h0, run - ramp)
        # Starting column follows the cell the running maximum came from.
        src = np.maximum.accumulate(np.where(h0 + ramp == run, np.arange(n + 1), 0))
        start = np.where(h > h0, start0[src], start0)
        j = int(np.argmax(h))
        if h[j] > best:
            best, best_end, best_start = float(h[j]), j - 1, int(start[j])
        prev, start_prev = h, start
    return Alignment(best / (_MATCH * m), best_start, max(best_start, best_end))


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
    ranked = []
    for hit in hits:
        t_notes = decode_notes(hit.row.get("ana_melody_notes"))
        aln = local_alignment(q_iv, intervals(t_notes))
        ranked.append((0.85 * aln.score + 0.15 * max(hit.score, 0.0), aln, hit, t_notes))
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
        if t_notes:
            first, last = t_notes[aln.start], t_notes[min(aln.end + 1, len(t_notes) - 1)]
            end = round(last.onset + last.duration, 2)
            item["match"] = {"start": round(first.onset, 2), "end": end, "alignment": round(aln.score, 4)}
        results.append(item)
    return results
