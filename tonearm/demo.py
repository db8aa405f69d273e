"""``tonearm demo``: a library built from nothing, so a new user sees tonearm work at once.

It renders about 100 tunes of six styles from the music21 corpus (Irish reels, jigs and
hornpipes, Chinese and German folk songs, Bach chorales) through two General MIDI
soundfonts and several instruments, tags them, writes a ``tracks.csv`` sidecar with the
instrument and soundfont as custom fields, indexes the folder and runs example queries.
"""

from __future__ import annotations

import csv
import io
import os
import string
import time
from pathlib import Path

import soundfile as sf
from rich.console import Console
from rich.table import Table

from tonearm.eval.render import INSTRUMENTS, Voice, render
from tonearm.eval.symbolic import STYLE_BPM, STYLES, select_tunes

_DEMO_INSTRUMENTS = ("piano", "violin", "flute", "guitar", "clarinet", "accordion", "trumpet")
_SOUNDFONTS = ("fluidr3", "timgm6mb")
_CLIP_SECONDS = 30.0
_SR = 22050
_STYLE_NAMES = {
    "reel": "Reel", "jig": "Jig", "hornpipe": "Hornpipe", "chinese_folk": "Chinese folk",
    "german_folk": "German folk", "bach_chorale": "Chorale",
}  # fmt: skip


def _tag(path: Path, title: str, artist: str, genre: str) -> None:
    from mutagen.flac import FLAC

    audio = FLAC(str(path))
    audio["title"], audio["artist"], audio["album"], audio["genre"] = title, artist, "tonearm demo", genre
    audio.save()


def build_demo_audio(folder: Path, tunes: int = 100, console: Console | None = None) -> list[dict]:
    """Render the demo tunes into ``folder`` (files already there are kept); return their rows."""
    folder.mkdir(parents=True, exist_ok=True)
    per_style = max(1, tunes // len(STYLES))
    rows: list[dict] = []
    t0 = time.perf_counter()
    for s_idx, style in enumerate(STYLES):
        style_dir = folder / style
        style_dir.mkdir(exist_ok=True)
        for i, tune in enumerate(select_tunes(style, per_style, seed=0)):
            instrument = _DEMO_INSTRUMENTS[(i + s_idx) % len(_DEMO_INSTRUMENTS)]
            soundfont = _SOUNDFONTS[i % len(_SOUNDFONTS)]
            accompanied = i % 3 == 0
            path = style_dir / f"{i:02d}_{instrument}.flac"
            if not path.exists():
                voices = [Voice(tune.melody, INSTRUMENTS[instrument])]
                if accompanied and tune.accompaniment:
                    voices.append(Voice(tune.accompaniment, INSTRUMENTS["strings"], 64))
                y = render(voices, STYLE_BPM[style], soundfont, _SR, loop_to=_CLIP_SECONDS, max_seconds=_CLIP_SECONDS)
                tmp = path.with_suffix(".tmp.flac")
                sf.write(str(tmp), y, _SR, format="FLAC")
                _tag(
                    tmp,
                    tune.title if not tune.title.isupper() else string.capwords(tune.title),  # Devil's, not Devil'S
                    tune.source,
                    _STYLE_NAMES[style],
                )
                os.replace(tmp, path)  # a half-written file never looks finished
            rows.append(
                {
                    "file": path.name,
                    "style": style,
                    "instrument": instrument,
                    "soundfont": soundfont,
                    "accompanied": str(accompanied).lower(),
                    "tune_id": tune.tune_id,
                }
            )
        style_rows = [r for r in rows if r["style"] == style]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(style_rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(style_rows)
        sidecar = style_dir / "tracks.csv"
        if not sidecar.exists() or sidecar.read_text(encoding="utf-8") != buf.getvalue():
            sidecar.write_text(buf.getvalue(), encoding="utf-8")  # rewritten only on change: no re-scan
    if console:
        console.print(f"rendered {len(rows)} demo tunes into {folder} in {time.perf_counter() - t0:.1f} s")
    return rows


def run_demo(dir: str, tunes: int, workers: int, console: Console, err_console: Console) -> None:
    """Render, index and query the demo library."""
    from tonearm.cli.render import RichProgress, results_table, search_table
    from tonearm.library.indexer import Indexer
    from tonearm.search.similar import similar
    from tonearm.store import open_store

    root = Path(dir).resolve()
    audio_dir, library = root / "audio", root / "library"
    build_demo_audio(audio_dir, tunes, console)
    store = open_store(str(library))
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err_console) as progress:  # fmt: skip
        report = Indexer(store).run([str(audio_dir)], workers=workers, progress=RichProgress(progress))
    console.print(
        f"indexed: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.failed)} failed in {report.elapsed:.1f} s"
    )
    from tonearm.library.level_pass import measure_library

    levels = measure_library(store, workers)  # so players connected to `make demo` get a ReplayGain for each tune
    console.print(f"loudness: {levels.measured} tunes measured, {levels.known} measured before "
                  f"(tonearm levels) in {levels.elapsed:.1f} s")  # fmt: skip
    rows = sorted(store.scan(columns=["id", "path", "title", "style", "instrument"]), key=lambda r: r["path"])
    if not rows:
        return
    seed = next((r for r in rows if r.get("style") == "reel"), rows[0])
    console.print(f"\n[bold]Example:[/] tonearm similar {seed['path']} --library {library}")
    console.print(results_table(similar(store, seed["id"], k=8)))
    where = "instrument = 'flute'"
    console.print(f'\n[bold]Filtered:[/] tonearm similar {seed["id"]} --where "{where}" --library {library}')
    console.print(results_table(similar(store, seed["id"], k=5, where=where)))
    table = Table("style", "instrument", title="Neighbours share the seed's style / instrument", title_justify="left")
    hits = similar(store, seed["id"], k=10)["results"]
    by_id = {r["id"]: r for r in rows}
    same_style = sum(by_id[h["id"]].get("style") == seed.get("style") for h in hits)
    same_inst = sum(by_id[h["id"]].get("instrument") == seed.get("instrument") for h in hits)
    table.add_row(f"{same_style}/10", f"{same_inst}/10")
    console.print(table)
    from tonearm.search.text import TextQuery, search

    text = "a calm piano piece"
    console.print(f'\n[bold]Text search:[/] tonearm search "{text}" --library {library}')
    console.print(search_table(search(store, TextQuery(text, k=5), "auto")))
    console.print(f"\nTry: [bold]TONEARM_LIBRARY={library} tonearm tracks --where \"style = 'jig'\"[/]")
