"""The benchmark corpus, built offline and deterministically, and cached.

Sizes (see docs/eval.md): ``tiny`` proves the harness end to end in CI; ``small`` is the
reference benchmark (<15 min on 2 cores); ``large`` widens every set. Everything is derived
from packages: music21 tunes rendered with FluidSynth (labels: style, instrument, tune
identity), Debian game-music packages (real recordings grouped by game, licences recorded),
and hummed queries from :mod:`tonearm.eval.hum`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from tonearm.eval import distort
from tonearm.eval.hum import hum, random_style
from tonearm.eval.render import INSTRUMENTS, Voice, render
from tonearm.eval.sing import sing
from tonearm.eval.symbolic import STYLE_BPM, STYLES, bach_families, melody_key, select_tunes

SR = 22050
CORPUS_VERSION = 4  # bump when the corpus recipe changes: the cache is keyed on it (4: identify queries)
HUM_MAX_BPM = 130  # quarter notes per minute at most in hummed/sung queries
_INSTR = ("piano", "violin", "flute", "guitar", "clarinet", "trumpet")


@dataclass(frozen=True)
class Size:
    styles: tuple[str, ...]
    tunes_per_style: int
    version_tunes_per_style: int  # tunes that also get 2 re-arranged versions
    clip_seconds: float
    real_packages: tuple[str, ...]  # Debian packages of real recordings (empty: rendered stand-ins)
    real_tracks: int
    qbe_queries: int
    qbh_queries: int
    chorale_families: int = 0  # Bach melody families (different harmonisations of one hymn tune)
    sung_fraction: float = 0.25  # share of melody queries sung by Festival instead of hummed
    strangers_per_style: int = 2  # tunes outside the corpus, excerpted as out-of-library identify queries


SIZES = {
    "tiny": Size(("reel", "chinese_folk", "bach_chorale"), 3, 1, 10.0, (), 4, 8, 4, 0, 0.25),
    "small": Size(
        STYLES,
        40,
        10,
        30.0,
        ("wesnoth-1.16-music", "singularity-music", "hyperrogue-music", "warzone2100-music"),
        95,
        150,
        100,
        12,
        strangers_per_style=7,
    ),
    "large": Size(
        STYLES,
        150,
        50,
        30.0,
        (
            "wesnoth-1.16-music",
            "singularity-music",
            "hyperrogue-music",
            "warzone2100-music",
            "supertux-data",
            "naev-data",
            "hedgewars-data",
            "widelands-data",
        ),
        400,
        1000,
        400,
        40,
    ),
}


@dataclass
class Item:
    """A catalogue track with its labels."""

    item_id: str
    path: str
    source: str  # "rendered" | "real"
    style: str = ""
    instrument: str = ""
    tune_id: str = ""
    version: int = 0
    accompanied: bool = False
    group: str = ""  # real recordings: the game/album package
    family: str = ""  # chorale melody family shared by different harmonisations
    licence: str = ""


@dataclass
class Query:
    query_id: str
    task: str  # "qbe" | "qbh"
    path: str
    relevant: list[str]
    meta: dict = field(default_factory=dict)


@dataclass
class Corpus:
    size: str
    root: Path
    items: list[Item]
    queries: list[Query]
    notes: list[str]

    def save(self) -> None:
        data = {
            "size": self.size,
            "items": [asdict(i) for i in self.items],
            "queries": [asdict(q) for q in self.queries],
            "notes": self.notes,
        }
        tmp = self.root / "manifest.json.tmp"
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.root / "manifest.json")

    @classmethod
    def load(cls, root: Path) -> Corpus | None:
        path = root / "manifest.json"
        if not path.exists():
            return None
        d = json.loads(path.read_text())
        return cls(d["size"], root, [Item(**i) for i in d["items"]], [Query(**q) for q in d["queries"]], d["notes"])


def _write(path: Path, y: np.ndarray, sr: int = SR) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr, format="FLAC")


def _rendered(size: Size, root: Path) -> tuple[list[Item], dict[str, object]]:
    items: list[Item] = []
    tunes_by_id = {}
    for s_i, style in enumerate(size.styles):
        for t_i, tune in enumerate(select_tunes(style, size.tunes_per_style, seed=7)):
            tunes_by_id[tune.tune_id] = tune
            inst = _INSTR[(t_i + s_i) % len(_INSTR)]
            variants = [(0, inst, 0, 1.0, "fluidr3", False)]
            if t_i < size.version_tunes_per_style:
                variants += [
                    (1, _INSTR[(t_i + s_i + 2) % len(_INSTR)], 3, 0.85, "fluidr3", False),
                    (2, _INSTR[(t_i + s_i + 4) % len(_INSTR)], -2, 1.15, "timgm6mb", True),
                ]
            for version, instrument, transpose, tempo, sfont, acc in variants:
                item_id = f"{style}-{t_i:03d}-v{version}"
                path = root / "rendered" / f"{item_id}.flac"
                if not path.exists():
                    voices = [Voice(tune.melody, INSTRUMENTS[instrument])]
                    if acc and tune.accompaniment:
                        voices.append(Voice(tune.accompaniment, INSTRUMENTS["strings"], 64))
                    y = render(
                        voices,
                        STYLE_BPM[style] * tempo,
                        sfont,
                        SR,
                        transpose=transpose,
                        loop_to=size.clip_seconds,
                        max_seconds=size.clip_seconds,
                    )
                    _write(path, y)
                items.append(Item(item_id, str(path), "rendered", style, instrument, tune.tune_id, version, acc))
    for f_i, family in enumerate(bach_families(size.chorale_families, seed=7)):
        for m_i, tune in enumerate(family):
            tunes_by_id[tune.tune_id] = tune
            instrument = ("organ", "strings", "piano", "clarinet")[m_i % 4]
            item_id = f"chorale-family{f_i:02d}-{m_i}"
            path = root / "rendered" / f"{item_id}.flac"
            if not path.exists():
                voices = [
                    Voice(tune.melody, INSTRUMENTS[instrument]),
                    Voice(tune.accompaniment, INSTRUMENTS["strings"], 64),
                ]
                y = render(
                    voices,
                    STYLE_BPM["bach_chorale"],
                    ("fluidr3", "timgm6mb")[m_i % 2],
                    SR,
                    loop_to=size.clip_seconds,
                    max_seconds=size.clip_seconds,
                )
                _write(path, y)
            items.append(
                Item(
                    item_id,
                    str(path),
                    "rendered",
                    "bach_chorale",
                    instrument,
                    tune.tune_id,
                    3,
                    True,
                    family=f"family{f_i:02d}",
                )
            )
    return items, tunes_by_id


def _strangers(size: Size, root: Path, held_keys: set, seed: int) -> list[Query]:
    """Out-of-library clips for identify: 10-s excerpts of tunes the corpus does not hold (rendered like its
    own, so hard to tell apart by timbre), under the QbE distortions, plus silence and white noise.

    A stranger must be another composition: tunes whose melody is one the corpus holds (another
    harmonisation of a chorale melody, a folk tune printed twice in the music21 corpus) are skipped.
    The draws come from their own generator, so the other queries do not depend on this set."""
    rng = np.random.default_rng(seed + 1000)
    out: list[Query] = []
    n = 0
    for s_i, style in enumerate(size.styles):
        held = size.tunes_per_style
        pool = select_tunes(style, held + 4 * size.strangers_per_style, seed=7)[held:]
        strangers = [t for t in pool if melody_key(t.melody) not in held_keys][: size.strangers_per_style]
        for t_i, tune in enumerate(strangers):
            dist = distort.DISTORTIONS[n % len(distort.DISTORTIONS)]
            path = root / "queries" / f"out-{n:03d}-{dist}.flac"
            if not path.exists():
                inst = _INSTR[(t_i + s_i + 1) % len(_INSTR)]
                y = render([Voice(tune.melody, INSTRUMENTS[inst])], STYLE_BPM[style], ("fluidr3", "timgm6mb")[n % 2],
                           SR, loop_to=size.clip_seconds, max_seconds=size.clip_seconds)  # fmt: skip
                start = int(rng.integers(0, max(1, y.size - 10 * SR)))
                _write(path, distort.apply(dist, y[start : start + 10 * SR], SR, rng))
            out.append(Query(f"out-{n:03d}", "identify_out", str(path), [], {"distortion": dist, "kind": "music"}))
            n += 1
    for kind in ("silence", "noise"):
        for j in range(2):
            path = root / "queries" / f"out-{kind}-{j}.flac"
            if not path.exists():
                y = np.zeros(10 * SR, np.float32) if kind == "silence" else 0.3 * rng.standard_normal(10 * SR)
                _write(path, np.asarray(y, np.float32))
            out.append(Query(f"out-{kind}-{j}", "identify_out", str(path), [], {"kind": kind}))
    return out


def fetch_packages(packages: tuple[str, ...], cache: Path) -> tuple[list[tuple[str, Path, str]], list[str]]:
    """Download and unpack Debian music packages (no install); return (package, file, licence)."""
    notes: list[str] = []
    out: list[tuple[str, Path, str]] = []
    cache.mkdir(parents=True, exist_ok=True)
    for pkg in packages:
        unpacked = cache / pkg
        if not unpacked.exists():
            try:
                subprocess.run(["apt-get", "download", pkg], cwd=cache, check=True, capture_output=True, timeout=600)
                deb = next(cache.glob(f"{pkg}_*.deb"))
                subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True, capture_output=True)
                deb.unlink()
            except (subprocess.SubprocessError, StopIteration, OSError) as exc:
                notes.append(f"package {pkg} unavailable ({type(exc).__name__}); skipped")
                shutil.rmtree(unpacked, ignore_errors=True)
                continue
        copyright_files = list(unpacked.rglob("copyright"))
        licence = ""
        if copyright_files:
            text = copyright_files[0].read_text(errors="replace")
            licence = ", ".join(
                sorted({ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("License:")})
            )[:120]
        for f in sorted(unpacked.rglob("*")):
            if f.suffix.lower() in (".ogg", ".opus", ".mp3") and f.stat().st_size > 200_000:
                out.append((pkg, f, licence))
    return out, notes


def build_corpus(size_name: str, root: Path, seed: int = 0) -> Corpus:
    """Build (or load from cache) the corpus for a size."""
    root = root / f"{size_name}-v{CORPUS_VERSION}"
    cached = Corpus.load(root)
    if cached is not None:
        return cached
    size = SIZES[size_name]
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    items, tunes = _rendered(size, root)
    # Real recordings for query-by-example and grouping; rendered stand-ins when none can be fetched.
    real: list[Item] = []
    if size.real_packages:
        files, fetch_notes = fetch_packages(size.real_packages, root.parent / "debian")
        notes += fetch_notes
        pick = sorted(files, key=lambda x: str(x[1]))
        order = rng.permutation(len(pick))[: size.real_tracks]
        for n, i in enumerate(sorted(order)):
            pkg, f, licence = pick[i]
            real.append(Item(f"real-{n:03d}", str(f), "real", group=pkg, licence=licence))
    if not real:
        notes.append("query-by-example uses rendered tunes as stand-ins for real recordings (tiny size)")
    items += real
    qbe_pool = real or [i for i in items if i.version == 0]
    queries: list[Query] = []
    from tonearm.audio.decode import load, probe

    for q in range(size.qbe_queries):
        target = qbe_pool[q % len(qbe_pool)]
        dist = distort.DISTORTIONS[q % len(distort.DISTORTIONS)]
        path = root / "queries" / f"qbe-{q:04d}-{dist}.flac"
        # Each excerpt draws from its own generator: its offset (recorded for identify) is the same
        # whether the clip is rendered now or read from the cache.
        q_rng = np.random.default_rng((seed, 4242, q))
        dur = probe(target.path).duration
        offset = float(q_rng.uniform(0, max(0.0, dur - 10.0)))
        if not path.exists():
            y = load(target.path, SR, offset, 10.0)
            _write(path, distort.apply(dist, y, SR, q_rng))
        meta = {"distortion": dist, "offset": round(offset, 3)}
        queries.append(Query(f"qbe-{q:04d}", "qbe", str(path), [target.item_id], meta))
    queries += _strangers(size, root, {melody_key(t.melody) for t in tunes.values()} - {None}, seed)
    base = [i for i in items if i.source == "rendered" and i.version == 0]
    for q in range(size.qbh_queries):
        target = base[int(rng.integers(len(base)))]
        tune = tunes[target.tune_id]
        n_notes = int(rng.integers(10, 17))
        start = int(rng.integers(0, max(1, len(tune.melody) // 3)))
        segment = list(tune.melody[start : start + n_notes])
        voice = "sung" if rng.random() < size.sung_fraction else "hummed"
        # Nobody hums a reel at dance speed: queries are sung at a comfortable tempo.
        bpm = min(STYLE_BPM[target.style], HUM_MAX_BPM)
        y = sing(segment, bpm * rng.uniform(0.8, 1.1), rng) if voice == "sung" else None
        if y is None:
            voice = "hummed"
            y = hum(segment, bpm, random_style(rng), rng, sr=16000)
        path = root / "queries" / f"qbh-{q:04d}.flac"
        _write(path, y, 16000)
        relevant = [i.item_id for i in items if i.tune_id == target.tune_id]
        meta = {"notes": len(segment), "seconds": round(y.size / 16000, 1), "voice": voice}
        queries.append(Query(f"qbh-{q:04d}", "qbh", str(path), relevant, meta))
    corpus = Corpus(size_name, root, items, queries, notes)
    corpus.save()
    return corpus
