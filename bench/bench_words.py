"""Words-view throughput, in seconds of audio per second of CPU on one core (× realtime per core).

Cases: speech that is transcribed (faster-whisper, Whisper base int8, VAD on); the same speech
with transcription off (VAD gate + metadata only); instrumental music (the VAD gate decides
to skip transcription); music with lyrics (no ASR, text only); and a 3-minute "podcast" made
of concatenated episodes (the long-file path: windows for the VAD gate, then a full decode).
Also the emotion pass (offline backend) per track.

    OMP_NUM_THREADS=1 python bench/bench_words.py [--out bench-out]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as one index worker uses

import numpy as np
import soundfile as sf

from tonearm.analyzers import TrackContext, get_analyzer
from tonearm.audio.segments import load_for_analysis
from tonearm.demo import build_demo_audio
from tonearm.eval.moodset import MOOD_SET
from tonearm.eval.speech import build_speech
from tonearm.words.emotions import OfflineEmotions
from tonearm.words.vocabulary import Vocabulary


def run_case(paths: list[Path], mode: str, meta: dict | None = None) -> dict:
    os.environ["TONEARM_TRANSCRIBE"] = mode
    analyzer = get_analyzer("words")
    audio_s = cpu = 0.0
    sources = []
    for p in paths:
        audio = load_for_analysis(str(p), analyzer.sample_rate)
        t0 = time.process_time()
        out = analyzer.run(audio, TrackContext(str(p), dict(meta or {})))
        cpu += time.process_time() - t0
        audio_s += audio.info.duration
        sources.append(out.fields["words_source"])
    return {"files": len(paths), "audio_s": round(audio_s, 1), "cpu_s": round(cpu, 2),
            "x_realtime_per_core": round(audio_s / cpu, 1), "sources": sorted(set(sources))}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench-out")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    speech = [p for _, p in build_speech(out / "speech")]
    long_path = out / "podcast-3min.wav"
    if not long_path.exists():
        parts = [sf.read(str(p), dtype="float32")[0] for p in speech]
        sr = sf.info(str(speech[0])).samplerate
        y = np.concatenate(parts * 2)[: 180 * sr]
        sf.write(str(long_path), y, sr)
    build_demo_audio(out / "music", tunes=12)
    music = sorted((out / "music").rglob("*.flac"))[:12]
    get_analyzer("words").run(load_for_analysis(str(speech[0]), 16000))  # warm up (model loads)
    lyrics = {"title": "Letters", "lyrics": "\n".join(t for _, t, _ in MOOD_SET[:6])}
    results = {
        "speech_transcribed": run_case(speech, "always"),
        "speech_no_transcription": run_case(speech, "never", {"title": "An episode"}),
        "instrumental_music_auto": run_case(music, "auto"),
        "music_with_lyrics": run_case(music, "auto", lyrics),
        "podcast_3min_transcribed": run_case([long_path], "auto"),
    }
    backend, vocab = OfflineEmotions(), Vocabulary()
    t0 = time.process_time()
    for _, text, _ in MOOD_SET:
        backend.tag([text], vocab)
    results["emotions_offline_ms_per_text"] = round(1000 * (time.process_time() - t0) / len(MOOD_SET), 2)
    print(json.dumps(results, indent=2))
    (out / "bench_words.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
