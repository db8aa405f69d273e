"""Identifying a recording from a short, degraded clip: landmark peaks, the postings index, matching, the faces."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli

from tonearm.analyzers import landmarks as L
from tonearm.audio.decode import resample
from tonearm.eval import distort
from tonearm.eval.render import INSTRUMENTS, Voice, have_renderer, render
from tonearm.eval.symbolic import select_tunes
from tonearm.store import open_store
from tonearm.store.postings import FilePostings

SR = 22050
needs_renderer = pytest.mark.skipif(not have_renderer(), reason="fluidsynth / GM soundfonts not installed")
VIEWS = {"sound": "dsp", "landmarks": "landmarks"}


def _index(music: Path, lib: Path):
    from tonearm.library.indexer import Indexer

    return Indexer(open_store(str(lib)), VIEWS).run([str(music)], workers=2)


def _tunes(n: int, seconds: float = 30.0, first: int = 0) -> list[np.ndarray]:
    tunes = select_tunes("reel", first + n, seed=11)[first:]
    inst = ("flute", "piano", "violin", "guitar", "clarinet")
    return [render([Voice(t.melody, INSTRUMENTS[inst[i % 5]])], 120, loop_to=seconds, max_seconds=seconds)
            for i, t in enumerate(tunes)]  # fmt: skip


# ---- the fingerprint itself ----------------------------------------------------------------
def test_peaks_fed_in_pieces_equal_peaks_of_the_whole():
    rng = np.random.default_rng(0)
    y = (np.sin(2 * np.pi * 440 * np.arange(8000 * 70) / 8000) * (rng.random(8000 * 70) > 0.3)).astype(np.float32)
    y += 0.05 * rng.standard_normal(y.size).astype(np.float32)
    whole = L.peaks(y)
    stream = L.PeakStream(L.INDEX)
    for i in range(0, y.size, 8000 * 7 + 13):  # odd block sizes cross frame and block boundaries
        stream.feed(y[i : i + 8000 * 7 + 13])
    t, f = stream.finish()
    assert t.size > 500 and np.array_equal(t, whole[0]) and np.array_equal(f, whole[1])
    assert np.all(np.diff(t) >= 0) and t.max() < 70 * L.FPS
    for size in (1001, y.size):  # a clip's unknown past is estimated from its first 3 s, however it is fed
        clip = L.PeakStream(L.QUERY, unknown_past=True)
        for i in range(0, 20 * 8000, size):
            clip.feed(y[i : min(i + size, 20 * 8000)])
        assert np.array_equal(clip.finish()[1], L.strong_peaks(y[: 20 * 8000])[1])
    short = y[:8000]  # shorter than the past it would be estimated from: its rows wait for the end, then count
    assert L.strong_peaks(short)[0].size >= 10


def test_hash_layout_and_packing():
    t = np.array([0, 3, 5, 70, 71, 200], np.int64)
    f = np.array([10, 20, 12, 50, 200, 30], np.int64)
    h, ht = L.hashes(t, f, fanout=2)
    assert h.dtype == np.uint32 and np.all(h < 2**21)
    decoded = {(int(x >> 13), int((x >> 6) & 127) - 64, int(x & 63)) for x in h}
    assert (10, 10, 3) in decoded and (10, 2, 5) in decoded  # anchor bin | bin difference | frame difference
    assert all(1 <= dt <= 63 for _, _, dt in decoded) and 0 in set(ht.tolist())
    packed = L.pack(t, f)
    assert all(np.array_equal(a, b) for a, b in zip(L.unpack(packed), (t, f), strict=True))


@needs_renderer
def test_a_noisy_clips_strongest_pairs_are_the_likeliest_to_be_true():
    """Why a budgeted lookup weighs the query's strongest pairs up (``query_hashes``' weights): in a clip at 10 dB
    SNR, the pairs whose weaker peak is strongest are more often pairs the library stored at the clip's offset."""
    from tonearm.search.identify import PLAIN, SLACK_WEIGHT, query_hashes

    y = resample(_tunes(1)[0], SR, L.SR)
    start = int(8.0 * L.FPS)
    clip = distort.apply("noise_10db", y[8 * L.SR : 18 * L.SR], L.SR, np.random.default_rng(2))
    t, f, s = L.strong_peaks(clip, L.QUERY)
    whole = L.PeakStream(L.QUERY, unknown_past=True)
    for i in range(0, clip.size, 7919):
        whole.feed(clip[i : i + 7919])
    assert np.array_equal(whole.finish()[0], t) and np.array_equal(whole.strength, s)  # streamed: the same
    assert s.size == t.size and np.all(s >= L.MIN_DB)
    h, ht, w = query_hashes(t, f, PLAIN, strength=s)
    exact = np.arange(h.size) < L.pairs(t, f, L.QUERY.fanout)[0].size  # then the slack lookups, weighing less
    assert np.all(w[exact] >= 1) and w[~exact].max() <= SLACK_WEIGHT * w[exact].max()
    rh, rt = L.hashes(*L.peaks(y), L.INDEX.fanout)
    stored = set((rh.astype(np.int64) * 100_000 + rt).tolist())
    true = np.array([any(int(x) * 100_000 + int(q) + start + d in stored for d in (-1, 0, 1))
                     for x, q in zip(h[exact], ht[exact], strict=True)])  # fmt: skip
    order = np.argsort(-w[exact], kind="stable")
    top, rest = true[order[: order.size // 4]], true[order[order.size // 4 :]]
    assert true.sum() >= 30 and top.mean() > 4 * rest.mean(), (top.mean(), rest.mean())  # measured: ~50 and ~20x


@needs_renderer
def test_peak_matches_single_out_the_recording_in_heavy_noise():
    """The peak-by-peak check (``peak_matches``): at 0 dB SNR the clip's recording lines up more peaks than hashes,
    and clears the bar; other recordings at the same offset stay far below it."""
    from tonearm.search import identify as I

    ys = [resample(y, SR, L.SR) for y in _tunes(3)]
    clip = distort.apply("noise_0db", ys[1][int(11.5 * L.SR) : int(21.5 * L.SR)], L.SR, np.random.default_rng(0))
    q = I.listen(clip)
    assert q.noisy  # its quietest second is white noise with music in it: a flat spectrum
    cand = I.Candidate("x", round(11.5 * L.FPS), 0, I.PLAIN)
    qh, qt, _ = I.query_hashes(q.t, q.f, I.PLAIN, slack=True)
    own = I.peak_matches(*L.peaks(ys[1]), cand, q)
    assert own[0] > I.verify(*L.peaks(ys[1]), cand, qh, qt, q)[0] and own[1] >= 0.9
    assert I.evidence(*own) >= I.MIN_PEAK_EVIDENCE  # measured: ~70 peaks over every second
    for other in (0, 2):
        assert I.evidence(*I.peak_matches(*L.peaks(ys[other]), cand, q)) < I.MIN_PEAK_EVIDENCE / 3


def test_noise_floor_marks_the_seconds_that_sound_above_it():
    """A clip whose music fades into white noise has a noise floor, and only its music seconds are heard above it;
    a clean clip, digital silence and a clip too short to tell have none; pure noise has a floor and no second
    above it (so coverage counts every second, as without a floor)."""
    from tonearm.search import identify as I

    rng = np.random.default_rng(3)
    n = 10 * L.SR
    tone = np.sin(2 * np.pi * np.arange(n) / L.SR * 440.0) * (np.arange(n) < 3 * L.SR)
    fade = (tone + 0.01 * rng.standard_normal(n)).astype(np.float32)
    heard = I.noise_floor(fade)
    assert heard is not None and heard[:3].all() and not heard[3:].any()
    assert I.noise_floor(np.sin(2 * np.pi * np.arange(n) / L.SR * 440.0).astype(np.float32)) is None
    assert I.noise_floor(np.zeros(n, np.float32)) is None
    assert I.noise_floor(fade[: L.SR]) is None
    noise = I.noise_floor(rng.standard_normal(n).astype(np.float32))
    assert noise is not None and not noise.any()

    clip = I.Clip(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), 10.0, heard)
    second = np.repeat(np.arange(10), 5)
    found = second < 2  # matches in two of the three heard seconds
    assert clip.coverage(second, found) == pytest.approx(2 / 3)
    assert I.Clip(clip.t, clip.f, clip.s, 10.0).coverage(second, found) == pytest.approx(0.2)
    one_heard = np.arange(10) == 0  # a single heard second is no basis: every second with peaks counts
    assert I.Clip(clip.t, clip.f, clip.s, 10.0, one_heard).coverage(second, found) == pytest.approx(0.2)


def test_single_peaks_count_for_a_buried_or_plain_clip_not_for_a_clean_one_found_at_another_pitch():
    """The verdict's routes: enough whole hashes over the clip always answer; single peaks answer a noisy clip
    (gated by their own coverage) or a clip found as it is (gated by its hashes' coverage), never a clean clip
    found only under a speed or pitch probe (a transposed tune of the same instrument lines its peaks up)."""
    from tonearm.search import identify as I

    pitched = I.Candidate("x", 0, 0, I.GRID[0])
    plain = I.Candidate("x", 0, 0, I.PLAIN)
    by_peaks = {"matched": 10, "coverage": 0.6, "peaks": 45, "peak_coverage": 1.0}  # 6 by hashes, 45 by peaks
    assert I.Verdict(plain, **by_peaks).score(noisy=False) >= I.MIN_EVIDENCE
    assert I.Verdict(pitched, **by_peaks).score(noisy=True) >= I.MIN_EVIDENCE
    assert I.Verdict(pitched, **by_peaks).score(noisy=False) < I.MIN_EVIDENCE
    assert I.Verdict(pitched, 40, 0.9, 45, 1.0).score(noisy=False) >= I.MIN_EVIDENCE  # its pairs survived
    spread_thin = {"matched": 10, "coverage": 0.3, "peaks": 60, "peak_coverage": 0.9}
    assert I.Verdict(plain, **spread_thin).score(noisy=False) < I.MIN_EVIDENCE  # clean: hashes must cover it
    assert I.Verdict(plain, **spread_thin).score(noisy=True) >= I.MIN_EVIDENCE  # noisy: the peaks' own cover
    assert I.Verdict(plain, 100, 0.5, 0, 0.0).score(noisy=False) < I.MIN_EVIDENCE  # one stretch of the clip only


def test_a_noisy_clips_plain_candidate_needs_fewer_peaks_than_one_found_among_the_probes():
    """A probed candidate is the best of many re-scalings (a stranger gets as many tries to line peaks up); one of
    the plain lookup is a single try. Between the two bars: a true recording sounding in a few seconds only."""
    from tonearm.search import identify as I

    assert I.PLAIN_NOISY_PEAK_EVIDENCE < I.MIN_PEAK_EVIDENCE
    between = {"matched": 13, "coverage": 0.667, "peaks": 28, "peak_coverage": 1.0}  # qbe-0089 under 10 dB noise
    assert I.Verdict(I.Candidate("x", 0, 0, I.PLAIN), **between).score(noisy=True) >= I.MIN_EVIDENCE
    assert I.Verdict(I.Candidate("x", 0, 0, I.GRID[0]), **between).score(noisy=True) < I.MIN_EVIDENCE
    assert I.Verdict(I.Candidate("x", 0, 0, I.PLAIN), **between).score(noisy=False) < I.MIN_EVIDENCE  # clean: hashes
    stranger = {"matched": 11, "coverage": 0.3, "peaks": 27, "peak_coverage": 0.7}  # the likeliest plain one, 18.9
    assert I.Verdict(I.Candidate("x", 0, 0, I.PLAIN), **stranger).score(noisy=True) < I.MIN_EVIDENCE


@needs_renderer
def test_a_fade_under_noise_is_covered_where_music_sounds():
    """A clip whose music fades out after three seconds, under white noise: matches cannot fall in the seconds
    where only noise sounds, so the clip's own recording covers its heard seconds (enough for an answer) where,
    counted over all ten, it would fall below the bar. Another recording at the same place stays below it."""
    from tonearm.search import identify as I

    ys = [resample(y, SR, L.SR) for y in _tunes(2)]
    ramp = np.clip((14.0 * L.SR - np.arange(ys[0].size)) / (0.5 * L.SR), 0.0, 1.0)  # music stops at 14 s
    tracks = [(y * ramp).astype(np.float32) for y in ys]
    start = int(11.0 * L.SR)
    clip = distort.apply("noise_10db", tracks[0][start : start + 10 * L.SR], L.SR, np.random.default_rng(2))
    q = I.listen(clip)
    assert q.noisy and q.heard is not None and q.heard[:2].all() and not q.heard[5:].any()
    cand = I.Candidate("x", round(11.0 * L.FPS), 0, I.PLAIN)
    qh, qt, _ = I.query_hashes(q.t, q.f, I.PLAIN, slack=True)

    def verdict(track: np.ndarray, clip: I.Clip) -> I.Verdict:
        rt, rf = L.peaks(track)
        return I.Verdict(cand, *I.verify(rt, rf, cand, qh, qt, clip), *I.peak_matches(rt, rf, cand, clip))

    own = verdict(tracks[0], q)
    assert own.score(q.noisy) >= I.MIN_EVIDENCE, own
    counted_over_all = verdict(tracks[0], I.Clip(q.t, q.f, q.s, q.seconds))
    assert counted_over_all.coverage < I.MIN_COVERAGE and counted_over_all.peak_coverage < I.MIN_COVERAGE
    assert verdict(tracks[1], q).score(q.noisy) < I.MIN_EVIDENCE


@needs_renderer
def test_a_clip_starts_its_onset_filter_from_its_typical_spectrum():
    """A clip cut from the middle of a recording does not have the seconds before it: its onset filter starts from
    the median of its first frames, not from its first frame, and more of its first second's peaks are the
    recording's own."""
    ys = [resample(y, SR, L.SR) for y in _tunes(3)]
    shares = {False: [0, 0], True: [0, 0]}
    for y in ys:
        rt, rf = L.peaks(y)
        for start in (2.3, 4.3, 6.7, 9.1, 13.9, 17.7):
            s0 = round(start * L.FPS)
            first = (rt >= s0) & (rt < s0 + L.FPS)
            track = set(((rt[first] - s0) * 512 + rf[first]).tolist())
            for unknown in (False, True):
                t, f = L.PeakStream(L.QUERY, unknown_past=unknown).feed_all(
                    y[int(start * L.SR) : int((start + 10) * L.SR)]
                )
                shares[unknown][0] += len(track & set((t * 512 + f).tolist()))
                shares[unknown][1] += len(track)
    assert shares[True][0] > shares[False][0], shares  # measured: 140 against 127 of 292


# ---- the postings index ------------------------------------------------------------------------
def _fake(track_seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(track_seed)
    return rng.integers(0, 2**21, n).astype(np.uint32), np.sort(rng.integers(0, 5000, n))


def test_file_postings_update_vote_compact_and_survive_a_crash(tmp_path, monkeypatch):
    index = FilePostings(tmp_path / "landmarks")
    tracks = {f"t{i}": ("k1", *_fake(i)) for i in range(12)}
    for name in sorted(tracks):  # one segment per update: compaction must kick in
        index.update({name: tracks[name]}, [])
    assert set(index.tracks()) == set(tracks) and len(index.manifest()["segments"]) <= 8
    h, t = tracks["t5"][1], tracks["t5"][2]
    sel = slice(1000, 1200)
    names, deltas, counts = index.votes(h[sel], t[sel] - 700, cap=2000, min_score=5)
    best = int(np.argmax(counts))
    assert names[best] == "t5" and deltas[best] == 700 and counts[best] >= 190
    index.update({"t5": ("k2", *_fake(99))}, ["t6"])  # changed and removed
    assert index.tracks()["t5"] == "k2" and "t6" not in index.tracks()
    names, _, counts = index.votes(h[sel], t[sel] - 700, cap=2000, min_score=5)
    assert "t5" not in names  # its old postings are dead
    # A crash while writing a segment: the manifest still points at intact segments only.
    before = index.manifest()
    monkeypatch.setattr("tonearm.store.postings.fsync_write", lambda *a: (_ for _ in ()).throw(OSError("disk")))
    with pytest.raises(OSError):
        index.update({"t7": ("k3", *_fake(7))}, [])
    monkeypatch.undo()
    fresh = FilePostings(tmp_path / "landmarks")
    assert fresh.manifest() == before and fresh.tracks()["t7"] == "k1"
    names, deltas, _ = fresh.votes(tracks["t7"][1][:200], tracks["t7"][2][:200], cap=2000, min_score=5)
    assert names and names[0] == "t7"


def test_aligned_windows_match_a_plain_count():
    """Counting only around heavy offsets must find exactly what summing every window finds."""
    from tonearm.store import postings, voting

    rng = np.random.default_rng(5)
    starts = np.array([0, 20_000, 45_000, 90_000])
    g = rng.integers(-2000, 100_000, 60_000)  # ~0.6 chance hits per offset: windows of 3-5 by chance
    planted = np.r_[np.full(9, 21_000), np.full(4, 21_001), np.full(3, 46_999), np.full(5, 47_000)]
    g = np.concatenate([g, planted])
    for min_score in (3, 8, 12):
        track, offset, score = voting.aligned_windows(starts, g, min_score, postings.GAP // 2)
        u, c = np.unique(g, return_counts=True)
        counts = dict(zip(u.tolist(), c.tolist(), strict=True))
        want: dict[int, int] = {}  # track -> its best window's score
        for d in u.tolist():
            s = counts.get(d - 1, 0) + counts[d] + counts.get(d + 1, 0)
            tr = int(np.searchsorted(starts, d + postings.GAP // 2, side="right") - 1)
            if s >= min_score and tr >= 0:
                want[tr] = max(want.get(tr, 0), s)
        got = {int(t): (int(s), int(o)) for t, o, s in zip(track, offset, score, strict=True)}
        assert {t: v[0] for t, v in got.items()} == want
        for t, (s, o) in got.items():  # the offset given is one where the window really scores that
            d = o + int(starts[t])
            assert counts.get(d - 1, 0) + counts.get(d, 0) + counts.get(d + 1, 0) == s
    assert got[1][0] >= 13 and got[1][1] in (1000, 1001)  # the planted window of track 1: 9 + 4 votes


def test_screening_hits_before_the_sort_changes_no_window():
    """``screen`` drops the hits that cannot reach a window before counting: exact, whatever collides in its table."""
    from tonearm.store import voting

    rng = np.random.default_rng(1)
    for trial in range(40):
        n = int(rng.integers(voting.PREFILTER_MIN_HITS, 120_000))
        v = rng.integers(0, int(rng.choice([2**16, 2**24, 2**31])), n).astype(np.uint32)
        planted = rng.integers(1, 2**16, 30).astype(np.uint32)  # windows of 3-7 hits around them
        v = np.concatenate([v, np.repeat(planted, rng.integers(1, 6, 30)), planted + 1, planted - 1])
        min_score = int(rng.integers(3, 12))
        got = voting.windows(v.copy(), min_score)
        assert voting.screen(v, min_score).size < v.size
        v.sort()  # the same hits, counted without screening (below the size that turns it on, piece by piece)
        head = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
        counts = dict(zip(v[head].tolist(), np.diff(np.r_[head, v.size]).tolist(), strict=True))
        want = {d: counts.get(d - 1, 0) + c + counts.get(d + 1, 0) for d, c in counts.items()}
        want = {d: s for d, s in want.items() if s >= min_score and max(counts.get(d + e, 0) for e in (-1, 0, 1))
                >= -(-min_score // 3)}  # fmt: skip
        assert dict(zip(got[0].tolist(), got[1].tolist(), strict=True)) == want, trial


def test_gather_in_32_bits_equals_expand_and_both_paths_vote_alike(tmp_path):
    """A lookup counts in uint32 when the query's frames allow it and in int64 otherwise: same votes either way."""
    from tonearm.store import voting

    rng = np.random.default_rng(9)
    postings = np.sort(rng.integers(0, 2**31, 50_000)).astype(np.uint32)
    lo, n = rng.integers(0, 49_000, 300), rng.integers(0, 60, 300)
    shift = rng.integers(0, 2048, 300)
    want = voting.expand(lo, n, postings, -shift)
    got = voting.gather(postings, lo, n, shift)
    assert got.dtype == np.uint32 and np.array_equal(got.astype(np.int64), want)
    index = FilePostings(tmp_path / "landmarks")
    index.update({f"t{i}": ("k", *_fake(i)) for i in range(5)}, [])
    index.update({f"u{i}": ("k", *_fake(10 + i)) for i in range(5)}, [])  # two segments
    h, t = _fake(13)
    q_h, q_t = h[500:900], t[500:900] - 300
    fast = index.votes(q_h, q_t, 2000, 3)  # frames within 0..BIAS: 32 bits
    slow = index.votes(np.r_[q_h, 7], np.r_[q_t, -5000], 2000, 3)  # one frame out of range: 64 bits
    assert fast[0][0] == "u3" and fast[1][0] == 300 and fast[2][0] >= 390
    assert fast[0] == slow[0] and np.array_equal(fast[1], slow[1]) and np.array_equal(fast[2], slow[2])


# ---- identification end to end -------------------------------------------------------------
@pytest.fixture(scope="module")
def library(tmp_path_factory):
    if not have_renderer():
        pytest.skip("fluidsynth / GM soundfonts not installed")
    root = tmp_path_factory.mktemp("identify")
    music = root / "music"
    music.mkdir()
    for i, y in enumerate(_tunes(6)):
        sf.write(str(music / f"tune{i}.flac"), y, SR)
        (music / f"tune{i}.json").write_text(json.dumps({"title": f"Tune {i}", "artist": f"Player {i}"}))
    lib = root / "lib"
    assert not _index(music, lib).failed
    return music, lib


@needs_renderer
@pytest.mark.parametrize("name", distort.DISTORTIONS)
def test_a_clip_is_identified_at_its_offset_under_each_distortion(library, name):
    from tonearm.search.identify import identify_audio

    music, lib = library
    store = open_store(str(lib))
    y, _ = sf.read(str(music / "tune3.flac"), dtype="float32")
    start = 11.5
    clip = distort.apply(name, y[int(start * SR) : int((start + 10) * SR)], SR, np.random.default_rng(5))
    out = identify_audio(store, resample(clip, SR, L.SR), k=3)
    assert out["results"], (name, out["query"])
    top = out["results"][0]
    assert top["title"] == "Tune 3" and top["confidence"] > 0.5, (name, top)
    assert abs(top["offset"] - start) <= 0.5, (name, top["offset"])


@needs_renderer
def test_no_match_for_music_outside_the_library_silence_and_noise(library, tmp_path):
    from tonearm.errors import TonearmError
    from tonearm.search.identify import identify_audio

    _, lib = library
    store = open_store(str(lib))
    strangers = [resample(y[: 10 * SR], SR, L.SR) for y in _tunes(3, 12.0, first=6)]
    noise = (0.3 * np.random.default_rng(1).standard_normal(10 * L.SR)).astype(np.float32)
    for y in [*strangers, noise, np.zeros(10 * L.SR, np.float32)]:
        out = identify_audio(store, y)
        assert out["results"] == [] and out["query"]["message"].startswith("no match")
    with pytest.raises(TonearmError, match="too short"):
        identify_audio(store, np.zeros(L.SR, np.float32))


@needs_renderer
def test_identify_cli_json_similar_and_api(library, tmp_path):
    from conftest import serve_library

    music, lib = library
    y, _ = sf.read(str(music / "tune1.flac"), dtype="float32")
    clip = tmp_path / "clip.mp3"
    sf.write(str(tmp_path / "clip.wav"), y[5 * SR : 15 * SR], SR)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(tmp_path / "clip.wav"), "-b:a", "64k", str(clip)],
                   check=True)  # fmt: skip
    res = run_cli("identify", str(clip), "--json", "-l", str(lib))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    top = out["results"][0]
    assert set(top) >= {"rank", "id", "path", "title", "artist", "album", "offset", "confidence", "matched", "score"}
    assert top["title"] == "Tune 1" and abs(top["offset"] - 5.0) <= 0.5
    table = run_cli("identify", str(clip), "-l", str(lib))
    assert "Tune 1" in table.stdout
    foreign = tmp_path / "foreign.wav"
    sf.write(str(foreign), _tunes(1, 12.0, first=9)[0], SR)
    none = run_cli("identify", str(foreign), "--json", "-l", str(lib))
    assert none.returncode == 0 and json.loads(none.stdout)["results"] == []
    assert run_cli("identify", str(foreign), "-l", str(lib)).stdout.startswith("no match")
    sim = json.loads(run_cli("similar", str(clip), "--json", "-l", str(lib)).stdout)
    assert sim["query"]["identified"]["id"] == top["id"]
    assert top["id"] not in {r["id"] for r in sim["results"]}  # the recording itself is the query, not a result
    proc, base = serve_library(lib, music)
    try:
        import httpx

        with open(clip, "rb") as f:
            r = httpx.post(f"{base}/api/identify", files={"file": ("clip.mp3", f, "audio/mpeg")}, timeout=60)
        assert r.status_code == 200 and r.json()["results"][0]["id"] == top["id"]
        bad = httpx.post(f"{base}/api/identify", files={"file": ("x.mp3", b"not audio at all" * 100, "audio/mpeg")})
        assert bad.status_code == 415
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@needs_renderer
def test_postings_follow_changed_and_removed_files_and_skip_unchanged(library, tmp_path):
    music, _ = library
    work = tmp_path / "music"
    work.mkdir()
    for name in ("tune0.flac", "tune1.flac", "tune2.flac"):
        (work / name).write_bytes((music / name).read_bytes())
    lib = tmp_path / "lib"
    _index(work, lib)
    store = open_store(str(lib))
    keys = store.postings_tracks()
    assert len(keys) == 3
    again = _index(work, lib)
    assert again.unchanged == 3 and open_store(str(lib)).postings_tracks() == keys  # nothing re-fingerprinted
    (work / "tune1.flac").write_bytes((music / "tune4.flac").read_bytes())  # the file now holds other audio
    (work / "tune2.flac").unlink()
    _index(work, lib)
    store = open_store(str(lib))
    now = store.postings_tracks()
    ids = {Path(r["path"]).name: r["id"] for r in store.scan(columns=["id", "path"])}
    assert set(now) == {ids["tune0.flac"], ids["tune1.flac"]}  # the removed file's postings are gone
    assert now[ids["tune0.flac"]] == keys[ids["tune0.flac"]]  # unchanged: not re-fingerprinted
    assert now[ids["tune1.flac"]] != keys[ids["tune1.flac"]]  # new audio in the file: new postings
    y, _ = sf.read(str(music / "tune4.flac"), dtype="float32")
    from tonearm.search.identify import identify_audio

    out = identify_audio(store, resample(y[2 * SR : 12 * SR], SR, L.SR))
    assert out["results"][0]["path"].endswith("tune1.flac")


@needs_renderer
def test_kill_9_during_an_index_run_then_a_rerun_completes_the_postings(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    for i, y in enumerate(_tunes(10, 20.0, first=20)):
        sf.write(str(music / f"t{i:02d}.flac"), y, SR)
    lib = tmp_path / "lib"
    cmd = [sys.executable, "-m", "tonearm.cli", "index", str(music), "-l", str(lib), "-j", "1",
           "--views", "sound=dsp,landmarks=landmarks"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if open_store(str(lib), create=False).count() >= 3:
                break
        except Exception:
            pass
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = open_store(str(lib))
    assert partial.count() < 10 and len(partial.postings_tracks()) < 10  # the pass had not run yet
    assert run_cli("index", str(music), "-l", str(lib)).returncode == 0
    store = open_store(str(lib))
    keys = {r["id"]: r["ana_landmarks_key"] for r in store.scan(columns=["id", "ana_landmarks_key"])}
    assert store.count() == 10 and store.postings_tracks() == keys
