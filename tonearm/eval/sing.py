"""Sung queries through Festival's singing mode (``text2wave -mode singing``).

Festival reads a small XML score (one syllable per note, pitch names, beat lengths) and
sings it with a diphone voice. It sings an octave below the written pitch, so melodies are
written an octave up to land in a natural male range. Returns None when Festival is absent.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from tonearm.audio.decode import load
from tonearm.eval.symbolic import Note

_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_SYLLABLES = ("la", "da", "na", "lu", "do")


def _note_name(midi: int) -> str:
    return f"{_NAMES[midi % 12]}{midi // 12 - 1}"


def singing_xml(notes: list[Note], bpm: float, transpose: int, rng: np.random.Generator) -> str:
    """The SINGING document for ``notes`` (quarter-note units), rests kept."""
    centre = float(np.median([p for _, _, p in notes]))
    shift = round(60 - centre) + transpose + 12  # sung an octave below what is written
    parts = [
        f'<?xml version="1.0"?>\n<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up//EN" '
        f'"Singing.v0_1.dtd" []>\n<SINGING BPM="{bpm:.0f}">'
    ]
    prev_end = notes[0][0]
    for onset, dur, pitch in notes:
        if onset - prev_end > 0.05:
            parts.append(f'<REST BEATS="{onset - prev_end:.2f}"></REST>')
        syllable = escape(str(rng.choice(_SYLLABLES)))
        note = _note_name(pitch + shift)
        parts.append(f'<DURATION BEATS="{max(dur, 0.1):.2f}"><PITCH NOTE="{note}">{syllable}</PITCH></DURATION>')
        prev_end = onset + dur
    parts.append("</SINGING>")
    return "\n".join(parts)


def have_festival() -> bool:
    return shutil.which("text2wave") is not None


def sing(notes: list[Note], bpm: float, rng: np.random.Generator, sr: int = 16000) -> np.ndarray | None:
    """Sing ``notes`` with Festival; None when Festival is not installed or fails."""
    if not have_festival():
        return None
    xml = singing_xml(notes, bpm, int(rng.integers(-5, 3)), rng)
    with tempfile.TemporaryDirectory() as d:
        src, out = Path(d) / "song.xml", Path(d) / "song.wav"
        src.write_text(xml)
        try:
            subprocess.run(
                ["text2wave", "-mode", "singing", str(src), "-o", str(out)],
                check=True,
                capture_output=True,
                timeout=120,
            )
            y = load(out, sr)
        except (subprocess.SubprocessError, OSError):
            return None
    if y.size == 0 or not np.any(y):
        return None
    return (0.8 * y / np.max(np.abs(y))).astype(np.float32)
