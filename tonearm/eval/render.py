"""Render note lists to audio with FluidSynth and General MIDI soundfonts, in-process.

In-process synthesis (pyfluidsynth, soundfont loaded once per process) runs hundreds of
times faster than realtime, so the demo and benchmark corpora are rebuilt in seconds
instead of being committed.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from tonearm.errors import TonearmError
from tonearm.eval.symbolic import Note

SOUNDFONT_DIRS = (Path("/usr/share/sounds/sf2"), Path("/usr/share/soundfonts"))
SOUNDFONTS = {"fluidr3": "FluidR3_GM.sf2", "timgm6mb": "TimGM6mb.sf2"}

# General MIDI programs that sound clearly different from each other.
INSTRUMENTS = {
    "piano": 0, "accordion": 21, "guitar": 24, "violin": 40, "trumpet": 56,
    "clarinet": 71, "flute": 73, "strings": 48, "bass": 32, "organ": 19,
}  # fmt: skip


def soundfont_path(name: str) -> Path:
    """Absolute path of an installed soundfont, or a clear error saying what to install."""
    filename = SOUNDFONTS.get(name, name)
    for d in SOUNDFONT_DIRS:
        if (d / filename).is_file():
            return d / filename
    raise TonearmError(
        f"soundfont {filename} not found; install Debian packages fluid-soundfont-gm and timgm6mb-soundfont"
    )


@cache
def _synth(soundfont: str, sr: int):
    try:
        import fluidsynth
    except (ImportError, OSError) as exc:
        raise TonearmError(
            "rendering needs pyfluidsynth and libfluidsynth: pip install 'tonearm[demo]' and apt-get install fluidsynth"
        ) from exc
    synth = fluidsynth.Synth(samplerate=float(sr), gain=0.6)
    sfid = synth.sfload(str(soundfont_path(soundfont)))
    if sfid < 0:
        raise TonearmError(f"fluidsynth could not load soundfont {soundfont}")
    return synth, sfid


@dataclass(frozen=True)
class Voice:
    """A line of notes played on one GM program."""

    notes: tuple[Note, ...]
    program: int
    velocity: int = 96


def render(
    voices: list[Voice],
    bpm: float,
    soundfont: str = "fluidr3",
    sr: int = 22050,
    transpose: int = 0,
    max_seconds: float | None = None,
    loop_to: float | None = None,
) -> np.ndarray:
    """Synthesize voices to mono float32 at ``sr``; peak-normalised to -1 dBFS.

    ``loop_to`` repeats the tune until that many seconds; ``max_seconds`` cuts the result.
    """
    synth, sfid = _synth(soundfont, sr)
    spq = 60.0 / bpm
    length_q = max(o + d for v in voices for o, d, _ in v.notes)
    reps = 1
    if loop_to:
        reps = max(1, int(np.ceil(loop_to / (length_q * spq))))
    events: list[tuple[float, int, int, int, int]] = []  # time, kind(0 off,1 on), chan, key, vel
    for chan, voice in enumerate(voices):
        synth.program_select(chan, sfid, 0, voice.program)
        for r in range(reps):
            base = r * length_q
            for onset, dur, pitch in voice.notes:
                key = int(np.clip(pitch + transpose, 0, 127))
                t_on = (base + onset) * spq
                events.append((t_on, 1, chan, key, voice.velocity))
                events.append((t_on + dur * spq * 0.95, 0, chan, key, 0))
    events.sort()
    end = (reps * length_q) * spq + 1.0
    if max_seconds is not None:
        end = min(end, max_seconds)
    chunks, now = [], 0.0
    for t, kind, chan, key, vel in events:
        if t >= end:
            break
        n = round(t * sr) - round(now * sr)
        if n > 0:
            chunks.append(synth.get_samples(n))
            now = t
        if kind:
            synth.noteon(chan, key, vel)
        else:
            synth.noteoff(chan, key)
    tail = round(end * sr) - round(now * sr)
    if tail > 0:
        chunks.append(synth.get_samples(tail))
    for chan in range(len(voices)):
        synth.cc(chan, 123, 0)  # MIDI "all notes off": nothing rings into the next render
    synth.get_samples(sr // 2)  # let released voices die out
    stereo = np.concatenate(chunks).astype(np.float32).reshape(-1, 2)
    mono = stereo.mean(axis=1) / 32768.0
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    return (mono * (0.89 / peak) if peak > 0 else mono).astype(np.float32)


def have_renderer() -> bool:
    """True when fluidsynth and a GM soundfont are installed."""
    try:
        soundfont_path("fluidr3")
    except TonearmError:
        return False
    return shutil.which("fluidsynth") is not None or Path("/usr/lib/x86_64-linux-gnu/libfluidsynth.so.3").exists()
