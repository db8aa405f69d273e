"""Speech recognition settings on the eval's spoken-word set: WER, spoken-word retrieval, speed.

For each decoding setting (model, beam size, temperature fallback, compute type, GEMM backend)
the 18 synthetic episodes of ``tonearm eval`` (12 English, 6 Spanish; espeak-ng and Festival
voices) are indexed into a fresh words-only library, then scored exactly as the eval scores
them: word error rate per language against the scripts, language identification, spoken-word
R@1 for paraphrased queries in the same language and for English questions about Spanish
episodes, and the words view's analysis speed (x realtime per core: seconds of audio per CPU
second in the workers, VAD and text embeddings included).

Each setting runs in a fresh process, because CTranslate2 reads its backend variables once.

    python bench/bench_asr.py [--out bench-out] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

# name -> environment for the index workers
SETTINGS: dict[str, dict[str, str]] = {
    "tiny.en greedy": {"TONEARM_ASR_MODEL": "tiny.en", "TONEARM_ASR_BEAM": "1"},
    "base greedy": {"TONEARM_ASR_BEAM": "1"},
    "base greedy, CTranslate2 default kernels": {"TONEARM_ASR_BEAM": "1"},
    "base greedy + fallback": {"TONEARM_ASR_BEAM": "1", "TONEARM_ASR_FALLBACK": "1"},
    "base beam 5": {"TONEARM_ASR_BEAM": "5"},
    "base beam 5, CTranslate2 default kernels": {"TONEARM_ASR_BEAM": "5"},
    "base beam 5 + fallback": {"TONEARM_ASR_BEAM": "5", "TONEARM_ASR_FALLBACK": "1"},
    "base beam 5 float32": {"TONEARM_ASR_BEAM": "5", "TONEARM_ASR_COMPUTE": "float32"},
    "base beam 5, VAD off": {"TONEARM_ASR_BEAM": "5", "TONEARM_ASR_VAD": "0"},
    "base beam 3": {"TONEARM_ASR_BEAM": "3"},
}  # fmt: skip
# Every setting but the 'default kernels' rows (MKL on Intel, the fastest ISA) runs the portable kernels
# (oneDNN, AVX2: the test suite's), so rows compare like for like.
PORTABLE = {"TONEARM_ASR_PORTABLE": "1"}


def one(name: str, out: Path) -> dict:
    """Score one setting (runs inside the child process)."""
    from tonearm.eval import metrics as M
    from tonearm.eval.text import spoken_word_task

    os.environ["TONEARM_TRANSCRIBE"] = "always"
    res = spoken_word_task(out / "cache", out / f"run-{abs(hash(name)) % 10**8}", workers=2)
    ret = res["retrieval"]
    return {
        "setting": name,
        "wer_en": round(res["wer"].get("en", float("nan")), 3),
        "wer_es": round(res["wer"].get("es", float("nan")), 3),
        "language_id": round(res["language_id_accuracy"], 3),
        "r@1_same_language": round(ret["same_language"]["engine"]["r@1"], 3),
        "r@1_en_to_es": round(ret["cross_lingual_en_to_es"]["engine"]["r@1"], 3),
        "r@1_es_to_en": round(ret["cross_lingual_es_to_en"]["engine"]["r@1"], 3),
        "r@1_auto_all": round(
            M.mean(
                [ret[k]["auto"]["r@1"] for k in ("same_language", "cross_lingual_en_to_es", "cross_lingual_es_to_en")]
            ),
            3,
        ),
        "x_realtime_per_core": round(res["words_view_x_realtime_per_core_with_asr"], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--only", default="", help="comma-separated setting names")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    out = Path(args.out).resolve()
    if args.child:
        print(json.dumps(one(args.child, out)))
        return
    names = [n for n in SETTINGS if not args.only or n in args.only.split(",")]
    rows = []
    for name in names:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CT2_", "ONEDNN_", "TONEARM_ASR"))}
        env.update(PORTABLE if "default kernels" not in name else {})
        env.update(SETTINGS[name])  # an empty CT2_*/ONEDNN_* value means the library's own default
        env["OMP_NUM_THREADS"] = "1"
        proc = subprocess.run([sys.executable, __file__, "--out", str(out), "--child", name], env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
        if proc.returncode != 0:
            print(f"{name}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    (out / "bench_asr.json").write_text(json.dumps(rows, indent=2))
    cols = list(rows[0]) if rows else []
    print("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
