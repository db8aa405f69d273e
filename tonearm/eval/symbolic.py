"""Tunes from the music21 corpus, with style labels, as plain note lists.

Like a mirdata loader, each source declares where its files are and how a label is read:
O'Neill's (1850) and Ryan's Mammoth (1883) collections carry the dance type in the ABC
``R:`` field; the Essen collection's ``han`` files are Chinese folk songs and ``altdeu`` /
``erk`` files German ones; Bach chorales give their soprano line (and the lower voices as
a natural accompaniment). Selection is by header regex with a fixed seed, so only chosen
tunes are parsed and two runs pick the same tunes.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

Note = tuple[float, float, int]  # onset (quarter notes), duration (quarter notes), MIDI pitch


@dataclass(frozen=True)
class Tune:
    """One tune: identity, labels and notes (melody, optional accompaniment)."""

    tune_id: str
    style: str
    title: str
    source: str
    melody: tuple[Note, ...]
    accompaniment: tuple[Note, ...] = field(default=(), repr=False)

    @property
    def length_quarters(self) -> float:
        return max(o + d for o, d, _ in self.melody)


# style -> (corpus folder, file glob, R: values accepted or None for "all tunes in the files")
ABC_STYLES: dict[str, list[tuple[str, str, frozenset[str] | None]]] = {
    "reel": [("oneills1850", "*.abc", frozenset({"reel"})), ("ryansMammoth", "*.abc", frozenset({"reel"}))],
    "jig": [
        ("oneills1850", "*.abc", frozenset({"jig", "doublejig"})),
        ("ryansMammoth", "*.abc", frozenset({"jig", "doublejig"})),
    ],
    "hornpipe": [
        ("oneills1850", "*.abc", frozenset({"hornpipe"})),
        ("ryansMammoth", "*.abc", frozenset({"hornpipe"})),
    ],
    "chinese_folk": [("essenFolksong", "han*.abc", None)],
    "german_folk": [("essenFolksong", "altdeu*.abc", None), ("essenFolksong", "erk*.abc", None)],
}
STYLES = (*ABC_STYLES, "bach_chorale")
# Typical tempo per style, quarter notes per minute.
STYLE_BPM = {
    "reel": 200, "jig": 170, "hornpipe": 150, "chinese_folk": 96, "german_folk": 112, "bach_chorale": 84,
}  # fmt: skip

_MIN_NOTES = 16


@cache
def corpus_root() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def _abc_blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="latin-1")
    return [b if b.startswith("X:") else "X:" + b for b in re.split(r"\n(?=X:)", "\n" + text) if b.strip()]


def _header(block: str, key: str) -> str:
    m = re.search(rf"^{key}:\s*(.*)$", block, re.MULTILINE)
    return m.group(1).strip() if m else ""


def _candidates(style: str) -> list[tuple[str, str, str]]:
    """(tune_id, title, abc_text) for every tune of a style, in a stable order."""
    out = []
    for folder, pattern, rhythms in ABC_STYLES[style]:
        for path in sorted((corpus_root() / folder).glob(pattern)):
            for block in _abc_blocks(path):
                rhythm = re.sub(r"[^a-z]", "", _header(block, "R").lower())
                if rhythms is not None and rhythm not in rhythms:
                    continue
                number = _header(block, "X") or "0"
                title = _header(block, "T") or f"{path.stem} {number}"
                out.append((f"{folder}/{path.stem}#{number}", title, block))
    return out


def _notes_from_stream(stream) -> tuple[Note, ...]:
    notes = []
    for n in stream.flatten().notes:
        pitch = max(p.midi for p in n.pitches) if n.isChord else n.pitch.midi
        if n.quarterLength > 0:
            notes.append((float(n.offset), float(n.quarterLength), int(pitch)))
    notes.sort()
    return tuple(notes)


def _parse_abc(text: str) -> tuple[Note, ...]:
    from music21 import converter

    return _notes_from_stream(converter.parse(text, format="abc"))


def _bass_line(melody: tuple[Note, ...], span: float = 2.0) -> tuple[Note, ...]:
    """A plain bass: the first melody note of every ``span`` quarters, two octaves down."""
    out, seen = [], set()
    for onset, _, pitch in melody:
        slot = int(onset // span)
        if slot in seen:
            continue
        seen.add(slot)
        bass = pitch
        while bass >= 48:
            bass -= 12
        out.append((slot * span, span, bass))
    return tuple(out)


def select_tunes(style: str, n: int, seed: int = 0) -> list[Tune]:
    """``n`` tunes of ``style`` (fewer if the corpus has fewer), deterministic for a seed."""
    rng = random.Random(f"{style}:{seed}")
    if style == "bach_chorale":
        return _bach(n, rng)
    pool = _candidates(style)
    rng.shuffle(pool)
    tunes: list[Tune] = []
    for tune_id, title, block in pool:
        if len(tunes) >= n:
            break
        try:
            melody = _parse_abc(block)
        except Exception:  # a few corpus entries do not parse; skip them
            continue
        if len(melody) < _MIN_NOTES:
            continue
        source = tune_id.split("/")[0]
        tunes.append(Tune(tune_id, style, title, source, melody, _bass_line(melody)))
    return tunes


def _bach(n: int, rng: random.Random) -> list[Tune]:
    from music21 import corpus

    paths = sorted(p for p in (corpus_root() / "bach").glob("bwv*.mxl"))
    rng.shuffle(paths)
    tunes: list[Tune] = []
    for path in paths:
        if len(tunes) >= n:
            break
        try:
            score = corpus.parse(str(path))
        except Exception:
            continue
        if len(score.parts) < 4:
            continue
        melody = _notes_from_stream(score.parts[0])
        lower = tuple(sorted(x for part in score.parts[1:] for x in _notes_from_stream(part)))
        if len(melody) < _MIN_NOTES:
            continue
        title = (score.metadata.title if score.metadata and score.metadata.title else path.stem) or path.stem
        tunes.append(Tune(f"bach/{path.stem}", "bach_chorale", str(title), "bach", melody, lower))
    return tunes


def melody_key(melody: tuple[Note, ...], n: int = 12) -> tuple[int, ...] | None:
    """The first ``n`` pitch intervals (repeated notes merged): equal keys mean one melody family."""
    pitches: list[int] = []
    for _, _, p in melody:
        if not pitches or pitches[-1] != p:
            pitches.append(p)
    if len(pitches) < n + 1:
        return None
    head = pitches[: n + 1]
    return tuple(b - a for a, b in itertools.pairwise(head))


def group_families(tunes: list[Tune], min_members: int = 2) -> list[list[Tune]]:
    """Tunes sharing a melody key, largest families first, ties broken by id (deterministic)."""
    groups: dict[tuple[int, ...], list[Tune]] = {}
    for t in tunes:
        key = melody_key(t.melody)
        if key is not None:
            groups.setdefault(key, []).append(t)
    families = [sorted(g, key=lambda t: t.tune_id) for g in groups.values() if len(g) >= min_members]
    return sorted(families, key=lambda g: (-len(g), g[0].tune_id))


def bach_families(n_families: int, seed: int = 0, max_members: int = 4) -> list[list[Tune]]:
    """Bach chorale melody families: different harmonisations of one hymn tune."""
    if n_families <= 0:
        return []
    tunes = _bach(10_000, random.Random(f"families:{seed}"))
    families = group_families(tunes)
    random.Random(seed).shuffle(families)
    return [f[:max_members] for f in families[:n_families]]
