"""Melody view from Basic Pitch (Spotify, Apache-2.0): a polyphonic note network, run with onnxruntime.

On catalogue audio with accompaniment, Basic Pitch's pitch-contour posteriorgram finds the
melody far more reliably than harmonic summation (measured by ``bench/melody_extractors.py``);
on hummed queries our own tracker is better, so queries keep using it. The model ships in the
``basic-pitch==0.4.0`` wheel (``pip install --no-deps basic-pitch==0.4.0``; TensorFlow is not
needed). The output rows are identical in form to the ``melody`` analyzer's: interval n-gram
vector plus the note list, so ``tonearm hum`` works on either.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import librosa
import numpy as np

from tonearm.analyzers.base import Analysis
from tonearm.analyzers.melody import (
    CATALOGUE_FMIN,
    HOP,
    SR,
    MelodyAnalyzer,
    NoteEvent,
    melody_analysis,
    notes_from_contour,
)
from tonearm.audio.segments import DecodedAudio
from tonearm.errors import TonearmError

_N_SAMPLES = 2 * 22050 - 256  # the model's window (2 s)
_OVERLAP = 30 * 256  # 30 frames of overlap, half trimmed on each side, as the authors do
_FPS = 22050 / 256
_VOICED = 0.3  # contour posterior needed to call a frame pitched


def model_path() -> Path:
    spec = importlib.util.find_spec("basic_pitch")
    if spec is None or not spec.submodule_search_locations:
        raise TonearmError("Basic Pitch is not installed: pip install --no-deps basic-pitch==0.4.0 onnxruntime")
    path = Path(next(iter(spec.submodule_search_locations))) / "saved_models" / "icassp_2022" / "nmp.onnx"
    if not path.is_file():
        raise TonearmError(f"Basic Pitch ONNX model missing: {path}")
    return path


@cache
def _session():
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise TonearmError("onnxruntime is needed for Basic Pitch: pip install onnxruntime") from exc
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # one analysis process per core
    return ort.InferenceSession(str(model_path()), opts, providers=["CPUExecutionProvider"])


def contour_pitch(y: np.ndarray, fmin: float = CATALOGUE_FMIN) -> tuple[np.ndarray, np.ndarray]:
    """Predominant pitch (MIDI) and voicing at our hop (256 samples at 22.05 kHz)."""
    audio = np.concatenate([np.zeros(_OVERLAP // 2, np.float32), y.astype(np.float32)])
    hop = _N_SAMPLES - _OVERLAP
    wins = [audio[i : i + _N_SAMPLES] for i in range(0, len(audio), hop)]
    batch = np.stack([np.pad(w, (0, _N_SAMPLES - len(w))) for w in wins])[..., None]
    contour = _session().run(["StatefulPartitionedCall:0"], {"serving_default_input_2:0": batch})[0]
    contour = contour[:, 15:-15, :].reshape(-1, contour.shape[-1])[: int(len(y) * _FPS / 22050)]
    midi = 21 + (np.arange(contour.shape[1]) - 1) / 3.0  # 3 bins per semitone, bin 1 = A0
    contour[:, midi < librosa.hz_to_midi(fmin)] = 0
    pitch, voiced = midi[contour.argmax(axis=1)], contour.max(axis=1) > _VOICED
    # The model's frame rate equals ours (22050/256): align lengths and reuse our note segmentation.
    n = int(len(y) / HOP)
    pad = max(0, n - len(pitch))
    return np.pad(pitch, (0, pad))[:n], np.pad(voiced, (0, pad))[:n]


class BasicPitchMelodyAnalyzer(MelodyAnalyzer):
    """Melody view whose catalogue notes come from Basic Pitch (better with accompaniment)."""

    name = "basicpitch"
    version = 1

    def ensure_ready(self) -> None:
        model_path()
        _session()

    def analyze(self, audio: DecodedAudio) -> Analysis:
        notes: list[NoteEvent] = []
        for y, offset in zip(audio.at(SR), audio.offsets, strict=True):
            pitch, voiced = contour_pitch(y)
            notes += notes_from_contour(pitch, voiced, offset)
        return melody_analysis(notes)
