"""``identify``: which recording of the library a short, degraded clip comes from, and where in it.

The clip's peaks are paired more densely than the library's (``landmarks.QUERY``), looked up in
the postings index, and every hit votes for (track, offset) = (posting's track, posting frame
minus the query hash's frame). A true match piles many votes on one offset (within one frame
either side); chance spreads them thin. The answer is sought in two passes, the second only when
the first gave no accepted answer:

1. the plain lookup, reading at most ``BUDGET`` postings (a library of a few thousand tracks never
   reaches it; one of 100k tracks would read ~14 million), the pairs of the clip's strongest peaks
   first: noise turns weak peaks into chance pairs, while a strong peak is most likely one the
   library stored (``query_hashes``' weights, steep here: ``PLAIN_POWER``);
2. a grid of speed and pitch changes applied to the peak coordinates (a clip played 3% fast has
   its peaks at 1/1.03 of the times and 1.03 times the frequencies): 10 speed probes (0.95-1.05)
   and 12 pitch probes (-1..+1 semitone), so resampled or pitch-shifted audio is found without
   re-analysing the clip. Probes look up a sparser set of the clip's peaks (``PROBE``: the
   strongest, as dense as the library's own) within ``PROBE_BUDGET`` each, weighing strength
   against rarity (``PROBE_POWER``), on two threads: they only have to put the recording among
   the candidates, which are then realigned and verified with every peak.

The budgets were set at 100k tracks (``bench/bench_identify.py``): enough for R@1 there to stay
within a clip or two of reading everything, small enough for the slowest clips (probed or not in
the library) to answer within 300 ms on two cores.

A candidate must gather ``MIN_MATCH`` aligned votes; the best ``VERIFY`` recordings are then
verified against their own stored peaks around the voted offset (``Verdict``): how many of the
clip's hashes match there (``matched``) and in what share of the clip's audible seconds they fall
(``coverage``), and how many of the clip's single peaks line up with the track's
(``peak_matches``: under heavy noise a pair rarely survives whole, its peaks do). A recording
that shares only a stock phrase with the clip matches in a second or two; the real one matches
across the clip. An answer needs either ``matched x coverage >= MIN_EVIDENCE`` with ``coverage >=
MIN_COVERAGE``, or (matching peaks x their coverage) ``>= MIN_PEAK_EVIDENCE``, spread over the clip
as much: by its hashes' coverage in a clean clip, by its peaks' own coverage in a clip with a noise
floor (``Clip.noisy``), where whole pairs are too few to cover it. Single peaks are evidence for
what breaks pairs (noise, a phone's band and a room's echo), not for a clean clip found at another
speed or pitch: its pairs survive the re-timing (at least 25 by hashes for every such clip of the
eval), while a transposed tune of the same instrument lines up many single peaks by chance (a
stranger jig a semitone off: 42 by peaks, 9.6 by hashes). A clip's audible seconds are
those with peaks, less those at its noise floor (``noise_floor``): music that fades out under
noise cannot match where only noise sounds. ``confidence`` is the evidence through a logistic curve
centred on the bar. The bars were set on ``tonearm eval --size small``'s identify task, above the
largest evidence its out-of-library clips reached (tunes the corpus does not hold, rendered with the
same instruments, under every distortion: 13.2 by hashes, 27.9 by peaks when they were set), and
checked on ``bench/identify_holdout.py`` (246 clips of real recordings the library does not hold): by
peaks 51 in clean clips (which is why a clean clip's peaks are gated by its hashes' coverage); by
hashes one reaches 20.4, a track that shares a loop with one of the library.

In a noisy clip the peaks' bar depends on how the candidate was found. A candidate of the speed and
pitch grid is the best of 22 re-scalings of the clip, each realigned to its best offset: a stranger
gets 22 tries at lining up peaks. Measured over both sets' out-of-library clips under noise (75
clips): probed candidates reached 25.0, 23.0, 19.0 by peaks; plain ones, one try each, 18.9, 12.0,
11.9. So the plain candidate of a noisy clip needs ``PLAIN_NOISY_PEAK_EVIDENCE`` (24, 1.27 times
the largest stranger's), a probed one the common bar. This admits true recordings that fade into
noise or sound for a few seconds only (28 peaks over the whole audible part: evidence below 30,
above 24): on the eval one noise-10 dB clip, on the held-out set five noise-0 dB clips; no stranger
more. Below the bar, the answer is "no match", never a guess.
"""

from __future__ import annotations

import itertools
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from tonearm.analyzers.landmarks import (
    FPS,
    HIGH_BIN,
    INDEX,
    LOW_BIN,
    MAX_DT,
    PROBE,
    QUERY,
    SR,
    hashes,
    log_spectrogram,
    pairs,
    strong_peaks,
    unpack,
)
from tonearm.audio.decode import load
from tonearm.errors import TonearmError
from tonearm.search import dedupe
from tonearm.search.results import RESULT_FIELDS
from tonearm.store import voting
from tonearm.store.base import Store
from tonearm.store.schema import LANDMARK_VIEW

MAX_QUERY_SECONDS = 30.0
MIN_QUERY_SECONDS = 2.0
CAP = 20_000  # a hash with more postings than this is ignored (stop list)
BUDGET = 4_000_000  # postings the plain lookup reads at most (Store.vote_postings; see the module docstring)
PROBE_BUDGET = 400_000  # the same for each speed or pitch probe
MIN_MATCH = 8  # aligned votes a candidate needs before it is verified
PROBE_MIN_MATCH = 5  # aligned votes of a probe's sparser lookup that make a candidate
PROBE_THREADS = 2  # the probes' lookups run side by side (``_probed``)
VERIFY = 5  # candidates verified against their tracks' own peaks
MIN_COVERAGE = 0.55  # the matches must fall in at least this share of the clip's audible seconds
MIN_EVIDENCE = 14.0  # matches x coverage of an accepted answer
MIN_PEAK_EVIDENCE = 30.0  # or: matching peaks x their coverage (``peak_matches``; gated as the module says)
PLAIN_NOISY_PEAK_EVIDENCE = 24.0  # the same bar for a noisy clip's candidate of the plain lookup (module docstring)
NOISE_FLATNESS = 0.3  # the quietest second is a noise floor when its spectrum is this flat (``noise_floor``)
HEARD_DB = 6.0  # a second is audible above a noise floor when it is this much louder than the quietest
SILENT_DB = -90.0  # a quietest second below this level is digital silence, not noise
CONF_MID, CONF_SCALE = MIN_EVIDENCE, 5.0  # confidence 0.5 at the bar, 0.96 at evidence 30 (module docstring)
SPEEDS = tuple(round(0.95 + 0.01 * i, 2) for i in range(11) if i != 5)
STRENGTH_FLOOR = 5.0  # dB: a pair's weight is (its weaker peak's strength - this) ** power (``query_hashes``)
PLAIN_POWER = 6.0  # the weight's power in the plain lookup: noisy clips end there, so strength counts most
PROBE_POWER = 2.0  # in the probes: their clips are clean but re-timed, so rarity counts more
SLACK_WEIGHT = 0.25  # a slack lookup's weight relative to its exact one: it finds a quarter to half the true votes
PITCHES = tuple(2 ** (k / 72) for k in range(-6, 7) if k)  # semitone/6 steps to +-1 semitone


@dataclass(frozen=True)
class Probe:
    """How the query's peaks are scaled before hashing: time x ``time``, frequency x ``freq``."""

    time: float = 1.0
    freq: float = 1.0

    def scale(self, t: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Peaks (frames, bins) as this probe sees them, rounded to whole frames and bins."""
        if self.time == 1.0 and self.freq == 1.0:
            return t, f
        return np.round(t * self.time).astype(np.int64), np.round(f * self.freq).astype(np.int64)

    @property
    def label(self) -> dict[str, float]:
        return {"speed": round(1.0 / self.freq if self.time != 1.0 else 1.0, 3),
                "pitch_semitones": round(-12 * math.log2(self.freq), 2) if self.time == 1.0 else 0.0}  # fmt: skip


PLAIN = Probe()
# A clip played r times faster: its peaks sit at t/r and f*r; undo with time x r, freq / r.
# Smallest changes first, so a clip only slightly off stops early (see ``identify_audio``).
GRID = tuple(sorted((*(Probe(r, 1 / r) for r in SPEEDS), *(Probe(1.0, 1 / s) for s in PITCHES)),
                    key=lambda p: (abs(math.log(p.freq)), p.time != 1.0, p.freq)))  # fmt: skip


@dataclass(frozen=True)
class Clip:
    """A query's peaks (frames, bins, strengths in dB), its length, and, when it has a noise floor, which of its
    seconds sound above it (``heard``; see ``noise_floor``)."""

    t: np.ndarray
    f: np.ndarray
    s: np.ndarray
    seconds: float
    heard: np.ndarray | None = None

    @property
    def noisy(self) -> bool:
        return self.heard is not None

    def coverage(self, second: np.ndarray, found: np.ndarray) -> float:
        """The share of the clip's audible seconds in which matches (``found``, per peak or hash, at clip second
        ``second``) fall. Audible: seconds that have peaks; in a noisy clip with at least two seconds above its
        noise floor, only those (a fade into noise leaves seconds of noise peaks that nothing can match)."""
        with_peaks = np.unique(second)
        hit = np.unique(second[found])
        if self.heard is not None:
            inside = with_peaks[with_peaks < self.heard.size]
            loud = inside[self.heard[inside]]
            if loud.size >= 2:
                return float(np.isin(loud, hit).mean())
        return hit.size / max(1, with_peaks.size)


def noise_floor(y: np.ndarray) -> np.ndarray | None:
    """Per second of ``y`` (8 kHz): does it sound ``HEARD_DB`` above the clip's noise floor? ``None`` when the clip
    has no noise floor: its quietest second is digital silence or is not noise-like.

    Noise-like is a flat spectrum: the spectral flatness (geometric over arithmetic mean of the power in
    the fingerprint's band, per frame) of generated white noise is 0.57, of pink noise 0.37, of music a
    few hundredths (``tonearm eval --size small``'s clips: median 0.01-0.03 clean, mp3 or phone; 0.41
    at 0 dB white noise). Noise as dark as brown noise (0.08: rumble, a car) is not recognised, and
    such a clip is judged as one without a floor."""
    n = y.size // SR
    if n < 2:
        return None
    blocks = np.asarray(y[: n * SR], np.float64).reshape(n, SR)
    level = 10.0 * np.log10(np.mean(blocks**2, axis=1) + 1e-12)
    quiet = int(np.argmin(level))
    if level[quiet] < SILENT_DB:
        return None
    power = 10.0 ** (log_spectrogram(blocks[quiet]).astype(np.float64) / 10.0)
    flatness = np.mean(np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1))
    return level >= level[quiet] + HEARD_DB if flatness >= NOISE_FLATNESS else None


def listen(y: np.ndarray) -> Clip:
    """The clip as ``identify_audio`` matches it: its dense query peaks and its noise floor."""
    t, f, s = strong_peaks(y, QUERY)
    return Clip(t, f, s, y.size / SR, noise_floor(y))


@dataclass(frozen=True)
class Candidate:
    track: str
    offset: int  # frames into the track where the clip starts
    matched: int  # aligned hashes (offset within one frame)
    probe: Probe


def query_hashes(
    t: np.ndarray,
    f: np.ndarray,
    probe: Probe,
    slack: bool = False,
    strength: np.ndarray | None = None,
    power: float = 2.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The clip's hashes under a probe, their frames and their weights; the plain probe (or ``slack``) also looks
    each up one frame shorter and longer (tempo slack). Grid probes step the speed by 1%, which moves a 63-frame
    pair by under a frame.

    A weight says how likely a hash is to be one the library stored (``Store.vote_postings`` reads the most
    weight per posting first when a budget binds): a strong peak survives noise, a weak one is often noise
    itself, so a pair weighs (its weaker peak's strength - ``STRENGTH_FLOOR``) ** ``power``. At 100k tracks
    (``bench/bench_identify.py``) the plain lookup weighted so (power 6, 4 M postings) finds as many noisy and
    phone clips as reading the rarest hashes first and then every posting (~14 M). A slack lookup weighs
    ``SLACK_WEIGHT`` of its exact one."""
    s = np.full(t.size, STRENGTH_FLOOR + 1, np.float32) if strength is None else np.asarray(strength, np.float32)
    if probe != PLAIN:
        t, f = probe.scale(t, f)
        keep = (f >= LOW_BIN) & (f < HIGH_BIN)
        t, f, s = t[keep], f[keep], s[keep]
    h, anchor, partner = pairs(t, f, QUERY.fanout)
    ht = np.asarray(t, np.int64)[anchor]
    w = np.maximum(np.minimum(s[anchor], s[partner]).astype(np.float64) - STRENGTH_FLOOR, 1.0) ** power
    parts_h, parts_t, parts_w = [h.astype(np.int64)], [ht], [w]
    if probe != PLAIN and not slack:  # the grid's steps already cover the tempo: no neighbours needed
        return parts_h[0], ht, w
    dt = (h & 63).astype(np.int64)
    for step in (-1, 1):
        ok = (dt + step >= 1) & (dt + step <= MAX_DT)
        parts_h.append(h[ok].astype(np.int64) + step)
        parts_t.append(ht[ok])
        parts_w.append(w[ok] * SLACK_WEIGHT)
    return np.concatenate(parts_h), np.concatenate(parts_t), np.concatenate(parts_w)


def _variants(c: Candidate) -> list[Candidate]:
    """A probed candidate and the same with the grid's neighbouring probes of its kind (speed or pitch): the
    sparser probe lookup may have voted for a step next to the clip's change, which verification settles."""
    if c.probe == PLAIN:
        return [c]
    kind = [PLAIN, *(p for p in GRID if (p.time != 1.0) == (c.probe.time != 1.0))]
    kind.sort(key=lambda p: p.freq)
    i = kind.index(c.probe)
    return [Candidate(c.track, c.offset, c.matched, p) for p in kind[max(0, i - 1) : i + 2]]


def _lookup(
    store: Store,
    hashed: tuple[np.ndarray, np.ndarray, np.ndarray],
    probe: Probe,
    min_score: int,
    budget: int | None,
) -> list[Candidate]:
    """Candidates of one lookup of the clip's hashes (``query_hashes``) under ``probe``, most aligned votes first."""
    h, ht, weights = hashed
    names, offsets, scores = store.vote_postings(h, ht, CAP, min_score, budget, weights)
    out = [Candidate(tr, int(o), int(n), probe) for tr, o, n in zip(names, offsets, scores, strict=True)]
    return sorted(out, key=lambda c: -c.matched)


def realign(ref: tuple[np.ndarray, np.ndarray], cand: Candidate, qh: np.ndarray, qt: np.ndarray) -> Candidate:
    """The candidate at the offset where all of the clip's hashes (``qh``, ``qt``: under its probe) agree best with
    the whole track's (``ref``: hashes sorted, with their frames).

    A probe votes with the clip's sparser peaks, and music repeats itself: its best offset may be another
    pass of the same phrase. Matching every peak of the clip against the whole track settles it, as the
    plain lookup does with the index."""
    rh, rht = ref
    lo = np.searchsorted(rh, qh, "left")
    d, score = voting.windows(voting.expand(lo, np.searchsorted(rh, qh, "right") - lo, rht, qt), 1)
    if d.size == 0:
        return cand
    best = int(np.argmax(score))
    return Candidate(cand.track, int(d[best]), int(score[best]), cand.probe)


def verify(
    rt: np.ndarray, rf: np.ndarray, cand: Candidate, qh: np.ndarray, qt: np.ndarray, clip: Clip
) -> tuple[int, float]:
    """(the clip's hashes that match the track's peaks ``rt``, ``rf`` at the candidate's offset, share of the
    clip's audible seconds they cover: ``Clip.coverage``).

    The postings vote counts hashes; this re-checks the best candidates against the track's own
    peaks around the offset and asks where in the clip the matches fall. A recording that only
    shares a phrase with the clip (a stock cadence, a sample) matches in one or two seconds; the
    real recording matches across the clip.
    """
    lo, hi = cand.offset - 2 * FPS, cand.offset + (clip.seconds * cand.probe.time + 2) * FPS
    keep = (rt >= lo) & (rt <= hi)
    rh, rht = hashes(rt[keep], rf[keep], INDEX.fanout)
    ref = rh.astype(np.int64) * (1 << 32) + rht
    found = np.zeros(qh.size, bool)
    for d in (-1, 0, 1):
        found |= np.isin(qh * (1 << 32) + (qt + cand.offset + d), ref)
    second = (qt / (FPS * cand.probe.time)).astype(np.int64)
    return int(found.sum()), clip.coverage(second, found)


def peak_matches(rt: np.ndarray, rf: np.ndarray, cand: Candidate, clip: Clip) -> tuple[int, float]:
    """(the clip's peaks that fall within one frame and one bin of one of the track's peaks at the candidate's
    offset, share of the clip's audible seconds they cover).

    A pair survives noise only when both its peaks do, so under heavy noise a true match keeps few of its
    hashes (a peak kept with probability p keeps a pair with p squared) while its single peaks still line
    up: at 0 dB SNR the true recording matches 30-40 of a clip's peaks where its hashes match 8-18. Chance
    and a related tune (same instrument, a shared phrase) line up fewer peaks, and only in some seconds."""
    t, f = cand.probe.scale(clip.t, clip.f)
    lo, hi = cand.offset - 2 * FPS, cand.offset + (clip.seconds * cand.probe.time + 2) * FPS
    keep = (rt >= lo) & (rt <= hi)
    near = [(rt[keep] + dt) * 512 + rf[keep] + df for dt in (-1, 0, 1) for df in (-1, 0, 1)]
    found = np.isin((t + cand.offset) * 512 + f, np.concatenate(near))
    second = (t / (FPS * cand.probe.time)).astype(np.int64)
    return int(found.sum()), clip.coverage(second, found)


@dataclass(frozen=True)
class Verdict:
    """A candidate verified against its track's own peaks: hashes and single peaks that match, and the share of
    the clip's audible seconds each covers."""

    cand: Candidate
    matched: int = 0
    coverage: float = 0.0
    peaks: int = 0
    peak_coverage: float = 0.0

    def score(self, noisy: bool) -> float:
        """The evidence (``MIN_EVIDENCE``'s scale; an answer needs that much): by hashes, or by single peaks,
        each only when spread over the clip (the module docstring says which coverage gates the peaks)."""
        by_hashes = evidence(self.matched, self.coverage) if self.coverage >= MIN_COVERAGE else 0.0
        if not noisy and self.cand.probe != PLAIN:  # re-timed or re-pitched, not buried: its pairs survive
            return by_hashes
        spread = self.peak_coverage if noisy else self.coverage
        bar = PLAIN_NOISY_PEAK_EVIDENCE if noisy and self.cand.probe == PLAIN else MIN_PEAK_EVIDENCE
        by_peaks = evidence(self.peaks, self.peak_coverage) * MIN_EVIDENCE / bar
        return max(by_hashes, by_peaks if spread >= MIN_COVERAGE else 0.0)


def _verified(store: Store, c: Candidate, clip: Clip) -> Verdict:
    """The best verification of a candidate: the track's peaks read once, a probed candidate realigned and tried
    at its probe and the neighbouring ones (``_variants``); the best of them then checked peak by peak
    (``peak_matches``)."""
    rows = store.get([c.track], columns=["id", "ana_landmarks"])
    if not rows:
        return Verdict(c)
    rt, rf = unpack(rows[0].get("ana_landmarks"))
    ref: tuple[np.ndarray, np.ndarray] | None = None
    tried = []
    for v in _variants(c):
        qh, qt, _ = query_hashes(clip.t, clip.f, v.probe, slack=True)
        if v.probe != PLAIN:
            if ref is None:  # the whole track's hashes, sorted: made once for every variant
                rh, rht = hashes(rt, rf, INDEX.fanout)
                order = np.argsort(rh, kind="stable")
                ref = rh[order].astype(np.int64), rht[order]
            v = realign(ref, v, qh, qt)
        tried.append((*verify(rt, rf, v, qh, qt, clip), v))
    matched, coverage, best = max(tried, key=lambda m: evidence(m[0], m[1]))
    return Verdict(best, matched, coverage, *peak_matches(rt, rf, best, clip))


def evidence(matched: int, coverage: float) -> float:
    """Matching hashes weighted by how much of the clip they cover."""
    return matched * coverage


def confidence(ev: float) -> float:
    """The evidence through a logistic curve: 0.5 at the acceptance bar (calibrated on ``tonearm eval``)."""
    return round(1.0 / (1.0 + math.exp(-(ev - CONF_MID) / CONF_SCALE)), 4)


def _answers(store: Store, cands: list[Candidate], clip: Clip, k: int) -> tuple[list[dict[str, Any]], int]:
    """The accepted answers among the candidates (verified, best first) and the best candidate's votes."""
    rows = {
        r["id"]: r for r in store.get([c.track for c in cands[: 4 * k + 10]], columns=[*RESULT_FIELDS, "content_hash"])
    }
    gate = dedupe.Collapser()
    kept: list[tuple[Candidate, dict[str, Any]]] = []
    for c in cands:
        row = rows.get(c.track)
        if row is not None and gate.admit(row):  # one file per recording
            kept.append((c, row))
    results = []
    for c, row in kept[: max(k, VERIFY)]:
        verdict = _verified(store, c, clip)
        ev = verdict.score(clip.noisy)
        if ev < MIN_EVIDENCE:
            continue
        c = verdict.cand
        item = {key: row.get(key) for key in RESULT_FIELDS}
        item.update(offset=round(max(0.0, c.offset / FPS), 2), confidence=confidence(ev), matched=verdict.matched,
                    coverage=round(verdict.coverage, 3), score=round(ev, 2), **c.probe.label)  # fmt: skip
        results.append(item)
    results.sort(key=lambda r: -r["score"])
    return results[:k], (kept[0][0].matched if kept else 0)


def _probed(store: Store, clip: np.ndarray) -> list[Candidate]:
    """Candidates under the speed and pitch grid: each track with its best-scoring probe. The probes' lookups are
    independent, so they run on two threads (at 100k tracks, p95 277 ms against 300 on one: much of their time
    is in Python and in small numpy calls per segment)."""
    t, f, s = strong_peaks(clip, PROBE)

    def one(probe: Probe) -> list[Candidate]:
        hashed = query_hashes(t, f, probe, strength=s, power=PROBE_POWER)
        return _lookup(store, hashed, probe, PROBE_MIN_MATCH, PROBE_BUDGET)

    with ThreadPoolExecutor(max_workers=PROBE_THREADS) as workers:
        lookups = list(workers.map(one, GRID))
    pool: dict[str, Candidate] = {}
    for c in itertools.chain.from_iterable(lookups):
        if c.track not in pool or c.matched > pool[c.track].matched:
            pool[c.track] = c
    return sorted(pool.values(), key=lambda c: -c.matched)


def identify_audio(store: Store, y: np.ndarray, k: int = 5, probes: bool = True) -> dict[str, Any]:
    """Identify 8-kHz mono audio; the JSON of ``tonearm identify`` (without the query's file fields)."""
    t0 = time.perf_counter()
    seconds = y.size / SR
    if seconds < MIN_QUERY_SECONDS:
        raise TonearmError(
            f"the clip is too short to identify ({seconds:.1f} s; give at least {MIN_QUERY_SECONDS:g} s)"
        )
    audio = y[: int(MAX_QUERY_SECONDS * SR)]
    clip = listen(audio)
    hashed = query_hashes(clip.t, clip.f, PLAIN, strength=clip.s, power=PLAIN_POWER)
    results, top = _answers(store, _lookup(store, hashed, PLAIN, MIN_MATCH, BUDGET), clip, k)
    tried = 1
    if probes and not results:  # not found as it is: perhaps sped up, slowed down or pitch-shifted
        results, top_probed = _answers(store, _probed(store, audio), clip, k)
        tried += len(GRID)
        top = max(top, top_probed)
    for i, r in enumerate(results, 1):
        r["rank"] = i
    info: dict[str, Any] = {"seconds": round(seconds, 2), "peaks": int(clip.t.size), "probes": tried,
                            "ms": round(1000 * (time.perf_counter() - t0), 1)}  # fmt: skip
    if not results:
        info["message"] = (f"no match: no recording of the library shares enough of this clip's landmarks "
                           f"(best candidate: {top} aligned hashes)")  # fmt: skip
    return {"query": info, "results": results}


def identify(store: Store, path: str, k: int = 5, probes: bool = True) -> dict[str, Any]:
    """Identify an audio file (its first 30 s)."""
    if LANDMARK_VIEW not in (store.get_meta("views") or {}):
        raise TonearmError("the library has no landmarks view yet: run `tonearm index` (it is on by default)")
    if not store.has_postings():
        raise TonearmError("the library has no landmark postings yet: finish an index run first")
    y = load(path, SR, 0.0, MAX_QUERY_SECONDS)
    out = identify_audio(store, y, k, probes)
    out["query"].update(path=path, kind="file")
    return out
