"""Calibrate mood search: the similarity cut and the "no emotional content" gate.

Both are fitted on data labelled for this purpose, never on the eval's mood ranking set
(:mod:`tonearm.eval.moodsongs`):

* the cut, on the mood sanity set (66 English and Spanish texts, :mod:`tonearm.eval.moodset`):
  each text in turn is the listener's query (tagged as a query is) and the other 65 are the
  library's songs (tagged as at index time); a song "shares the main feeling" when its
  expected emotions overlap the query's. Mood search keeps songs above the cut and plays the
  most popular first, so the cut is chosen for that rule: with 200 seeded random popularity
  orders, the cut whose first song most often shares the query's feeling (hit@1). Pair
  precision and recall are reported beside it.
* the gate, on the zero-shot evidence of the sanity set's texts (emotional) against the
  everyday sentences of :mod:`tonearm.words.languages` in English and Spanish (mostly
  neutral; a few, like "this song reminds me of my childhood", are not).

Usage: python bench/calibrate_mood.py [--out bench/results/mood_calibration.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tonearm.eval.moodset import MOOD_SET
from tonearm.words import embed, moodspace
from tonearm.words.emotions import OfflineEmotions, evidence_of
from tonearm.words.languages import SENTENCES
from tonearm.words.vocabulary import Vocabulary


def _matrix() -> tuple[np.ndarray, np.ndarray]:
    """(query, song) similarities (NaN where either has no emotions) and shared-feeling labels."""
    vocab = Vocabulary()
    song, query = OfflineEmotions(), OfflineEmotions(min_evidence=None)
    as_song = [song.tag([t], vocab).weights for _, t, _ in MOOD_SET]
    as_query = [query.tag([t], vocab).weights for _, t, _ in MOOD_SET]
    n = len(MOOD_SET)
    sims = np.full((n, n), np.nan)
    same = np.zeros((n, n), bool)
    for q in range(n):
        for s in range(n):
            same[q, s] = bool(set(MOOD_SET[q][2]) & set(MOOD_SET[s][2]))
            if q != s and as_song[s] and as_query[q]:
                sims[q, s] = moodspace.similarity(as_song[s], as_query[q])
    return sims, same


def calibrate_cut(orders: int = 200, seed: int = 0) -> dict:
    sims, same = _matrix()
    rng = np.random.default_rng(seed)
    popularity = [rng.permutation(len(sims)) for _ in range(orders)]
    valid = ~np.isnan(sims)
    rows = []
    for cut in np.round(np.arange(0.3, 0.99, 0.02), 2):
        above = valid & (np.nan_to_num(sims, nan=-1.0) >= cut)
        hits = []
        for pop in popularity:
            for q in range(len(sims)):
                songs = np.flatnonzero(above[q])
                hits.append(bool(songs.size) and bool(same[q, songs[np.argmax(pop[songs])]]))
        tp = float((above & same).sum())
        precision = tp / max(1.0, float(above.sum()))
        recall = tp / max(1.0, float((valid & same).sum()))
        rows.append({"cut": float(cut), "hit@1": float(np.mean(hits)), "precision": precision, "recall": recall})
    best = max(rows, key=lambda r: (round(r["hit@1"], 3), r["cut"]))
    return {"queries": len(sims), "popularity_orders": orders, "best": best, "curve": rows}


def calibrate_gate() -> dict:
    emotional = [t for _, t, _ in MOOD_SET]
    neutral = [s for lang in ("en", "es") for s in SENTENCES[lang]]
    ev_e = evidence_of(embed.passages(emotional), emotional)
    ev_n = evidence_of(embed.passages(neutral), neutral)
    rows = []
    for bar in np.round(np.arange(0.0, 0.08, 0.005), 3):
        tpr = float((ev_e >= bar).mean())
        fpr = float((ev_n >= bar).mean())
        rows.append({"bar": float(bar), "emotional_passed": tpr, "everyday_passed": fpr})
    best = max(rows, key=lambda r: (r["emotional_passed"] - r["everyday_passed"], r["bar"]))
    return {"emotional": len(emotional), "everyday": len(neutral), "best": best, "curve": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench/results/mood_calibration.json"))
    args = ap.parse_args()
    result = {"space": moodspace.SPACE_KEY, "cut": calibrate_cut(), "gate": calibrate_gate()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    c, g = result["cut"]["best"], result["gate"]["best"]
    print(f"cut {c['cut']:.2f}: hit@1 {c['hit@1']:.3f} under random popularity, pair precision "
          f"{c['precision']:.3f}, recall {c['recall']:.3f}")  # fmt: skip
    print(f"gate {g['bar']:.3f}: emotional texts passed {g['emotional_passed']:.3f}, "
          f"everyday sentences passed {g['everyday_passed']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
