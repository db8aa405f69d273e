"""Melody view: the tune of a track, independent of key, tempo and instrumentation.

Pipeline (all numpy, ~400x realtime per core):

1. **Pitch salience** by harmonic summation: a log-magnitude STFT is multiplied by one
   precomputed matrix that adds up 8 weighted harmonics for every candidate pitch
   (1/3-semitone grid). The predominant pitch per frame is the most salient candidate;
   for catalogue audio the search starts at C3 (130 Hz) so bass accompaniment rarely wins,
   for queries at C2 (65 Hz) so low hummers are heard.
2. **Notes**: the contour is median-smoothed and cut into notes of at least 70 ms by
   hysteresis around each note's running median (vibrato and drift stay inside one note).
   Repeated pitches are merged: hummers rarely articulate them.
3. **Key/tempo invariance**: only the intervals between successive notes are kept.
4. **Index vector**: hashed counts of interval 2- and 3-grams and of coarse-contour 3- and
   4-grams (step/leap, up/down), square-rooted and L2-normalised. Wrong notes disturb only
   the n-grams they touch, so a vector k-NN is a cheap, tolerant prefilter.
5. The note list (onset, duration, pitch) is stored with the row so the search can rerank
   candidates by local alignment (``tonearm.search.hum``) and report where in the track the
   query matched.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import cache
from statistics import median

import librosa
import numpy as np
from scipy.ndimage import median_filter

from tonearm.analyzers.base import Analysis, Analyzer
from tonearm.audio import spectrum
from tonearm.audio.segments import DecodedAudio

SR = 22050
N_FFT = 2048
HOP = 256
HOP_S = HOP / SR
DIM = 256
_BINS_PER_SEMITONE = 3
_N_HARMONICS = 8
_MIN_NOTE_S = 0.07
_HARMONICITY = 1.8  # salience peak over the frame's mean salience needed to count as pitched
_SPLIT = 0.7  # semitones away from the current note's median that start a new note
CATALOGUE_FMIN = 130.8  # C3
QUERY_FMIN = 65.4  # C2
_FMAX = 1760.0  # A6


@dataclass(frozen=True)
class NoteEvent:
    onset: float  # seconds from the start of the file
    duration: float
    pitch: float  # MIDI number, fractional (the note's median pitch)


@cache
def _salience_matrix(fmin: float) -> tuple[np.ndarray, np.ndarray]:
    """(pitch grid in MIDI, matrix mapping STFT bins to harmonic-summed salience)."""
    freqs = librosa.fft_frequencies(sr=SR, n_fft=N_FFT)
    grid = np.arange(librosa.hz_to_midi(fmin), librosa.hz_to_midi(_FMAX), 1 / _BINS_PER_SEMITONE)
    f0 = librosa.midi_to_hz(grid)
    W = np.zeros((grid.size, freqs.size), np.float32)
    bins = np.arange(freqs.size)
    for h in range(1, _N_HARMONICS + 1):
        fh = f0 * h
        ok = fh < SR / 2
        pos = np.interp(fh[ok], freqs, bins)
        lo = np.floor(pos).astype(int)
        frac = pos - lo
        rows = np.nonzero(ok)[0]
        weight = 0.8 ** (h - 1)
        np.add.at(W, (rows, lo), weight * (1 - frac))
        np.add.at(W, (rows, np.minimum(lo + 1, freqs.size - 1)), weight * frac)
    return grid, W


def pitch_contour(y: np.ndarray, fmin: float) -> tuple[np.ndarray, np.ndarray]:
    """Predominant pitch per frame (MIDI, fractional) and a voicing mask."""
    if y.size < N_FFT:
        return np.zeros(0), np.zeros(0, bool)
    grid, W = _salience_matrix(fmin)
    S = spectrum.magnitude(y, N_FFT, HOP)
    S = np.log1p(100.0 * S / (S.max() + 1e-9))
    sal = W @ S
    best = sal.argmax(axis=0)
    strength = sal[best, np.arange(sal.shape[1])]
    ref = np.percentile(strength, 95) if strength.size else 0.0
    voiced = strength > 0.3 * ref if ref > 0 else np.zeros(strength.size, bool)
    # Harmonicity: a pitched sound concentrates salience on one candidate; noise and drums
    # spread it evenly (measured: noise ~1.2, drums ~1.4, instruments and voices >= 2.2).
    voiced &= strength > _HARMONICITY * (sal.mean(axis=0) + 1e-9)
    return grid[best], voiced


def notes_from_contour(pitch: np.ndarray, voiced: np.ndarray, offset: float = 0.0) -> list[NoteEvent]:
    """Cut a contour into notes by hysteresis around each note's running median pitch.

    A new note starts only when the (median-smoothed) pitch leaves the current note's median
    by more than ``_SPLIT`` semitones, so vibrato, scoops and slow drift inside a sung note do
    not fragment it. Each note's pitch is the median of its frames; consecutive notes that
    round to the same semitone are merged (repeated notes are not reliably articulated).
    """
    if pitch.size == 0 or not voiced.any():
        return []
    smooth = median_filter(np.where(voiced, pitch, 0.0), size=5, mode="nearest").tolist()
    on_frames = (voiced & (np.asarray(smooth) > 0)).tolist()
    raw: list[tuple[int, int, float]] = []  # (start frame, end frame, median pitch)
    start, values = -1, []
    # Plain Python floats and statistics.median: this loop runs once per frame (~86 per second),
    # where numpy's per-call overhead on a 15-value list cost more than the rest of the view.
    for i in range(len(smooth) + 1):
        on = i < len(smooth) and on_frames[i]
        if on and start >= 0 and abs(smooth[i] - median(values[-15:])) <= _SPLIT:
            values.append(smooth[i])
            continue
        if start >= 0 and (i - start) * HOP_S >= _MIN_NOTE_S:
            raw.append((start, i, float(median(values))))
        start, values = (i, [smooth[i]]) if on else (-1, [])
    notes: list[NoteEvent] = []
    for s0, s1, p in raw:
        if notes and round(p - notes[-1].pitch) == 0:
            last = notes[-1]
            notes[-1] = NoteEvent(last.onset, offset + s1 * HOP_S - last.onset, last.pitch)
        else:
            notes.append(NoteEvent(offset + s0 * HOP_S, (s1 - s0) * HOP_S, p))
    return notes


def extract_notes(segments: list[np.ndarray], offsets: list[float], fmin: float) -> list[NoteEvent]:
    """Notes of every analysed window, with onsets in seconds from the start of the file."""
    notes: list[NoteEvent] = []
    for y, off in zip(segments, offsets, strict=True):
        pitch, voiced = pitch_contour(y, fmin)
        notes += notes_from_contour(pitch, voiced, off)
    return notes


def intervals(notes: list[NoteEvent] | list[int]) -> np.ndarray:
    """Successive pitch intervals in semitones, clipped to an octave."""
    return pitch_intervals(np.array([n.pitch if isinstance(n, NoteEvent) else n for n in notes], dtype=float))


def pitch_intervals(pitches: np.ndarray) -> np.ndarray:
    """``intervals`` of a pitch array (MIDI numbers, fractional)."""
    if pitches.size < 2:
        return np.zeros(0, int)
    return np.clip(np.round(np.diff(pitches)), -12, 12).astype(int)


def _contour_class(iv: np.ndarray) -> np.ndarray:
    """-2 big fall, -1 step down, +1 step up, +2 big rise (steps are 1-2 semitones)."""
    return np.sign(iv) * np.where(np.abs(iv) <= 2, 1, 2)


def ngram_vector(iv: np.ndarray) -> np.ndarray:
    """Hashed interval and contour n-gram profile, L2-normalised (zeros when too short)."""
    v = np.zeros(DIM, np.float64)
    code = iv + 12  # 0..24
    cls = _contour_class(iv) + 2  # 0..4
    for seq, base, n, salt in ((code, 25, 2, 1), (code, 25, 3, 2), (cls, 5, 3, 3), (cls, 5, 4, 4)):
        if seq.size < n:
            continue
        idx = np.zeros(seq.size - n + 1, np.int64)
        for k in range(n):
            idx = idx * base + seq[k : seq.size - n + 1 + k]
        np.add.at(v, (idx * 2654435761 + salt * 97) % DIM, 1.0)
    v = np.sqrt(v)
    norm = np.linalg.norm(v)
    return (v / norm).astype(np.float32) if norm > 0 else v.astype(np.float32)


def encode_notes(notes: list[NoteEvent]) -> str:
    """Compact JSON of the note list stored with the row ([onset, duration, pitch] triples)."""
    return json.dumps(
        [[round(n.onset, 2), round(n.duration, 2), round(n.pitch, 2)] for n in notes], separators=(",", ":")
    )


def note_array(text: str | None) -> np.ndarray:
    """The stored note list as an (n, 3) array of onset, duration, pitch."""
    if not text:
        return np.zeros((0, 3))
    return np.asarray(json.loads(text), dtype=float).reshape(-1, 3)


_BRACKETS = str.maketrans("[]", "  ")


def note_arrays(texts: list[str | None]) -> list[np.ndarray]:
    """``note_array`` of many stored note lists at once: what a hum rerank reads for its candidates.

    The lists are flat numbers once their brackets go, so all of them are parsed by one numpy call
    and cut by their comma counts (the same doubles as ``json.loads``, in two thirds of the time);
    a text that does not parse to whole triples sends the lot back to ``note_array``.
    """
    kept = [t if t and t.strip() != "[]" else "" for t in texts]
    counts = [t.count(",") + 1 if t else 0 for t in kept]
    joined = ",".join(t.translate(_BRACKETS) for t in kept if t)
    try:
        with warnings.catch_warnings():  # numpy warns, and stops, at text that is not a number
            warnings.simplefilter("error", DeprecationWarning)
            flat = np.fromstring(joined, dtype=float, sep=",") if joined else np.zeros(0)
    except (ValueError, DeprecationWarning):
        flat = None
    if flat is None or flat.size != sum(counts) or any(c % 3 for c in counts):
        return [note_array(t) for t in texts]
    return [part.reshape(-1, 3) for part in np.split(flat, np.cumsum(counts)[:-1])]


class MelodyAnalyzer(Analyzer):
    """Key- and tempo-invariant melody profile plus the note list for alignment."""

    name = "melody"
    version = 1
    view = "melody"
    dim = DIM
    sample_rate = SR
    normalization = "none"
    extra_fields = ("ana_melody_notes",)

    def analyze(self, audio: DecodedAudio) -> Analysis:
        return melody_analysis(extract_notes(audio.at(SR), audio.offsets, CATALOGUE_FMIN))


def melody_analysis(notes: list[NoteEvent]) -> Analysis:
    """The melody view's row content for a note list: n-gram vector plus the stored notes."""
    return Analysis(ngram_vector(intervals(notes)), {"ana_melody_notes": encode_notes(notes)})
