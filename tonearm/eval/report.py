"""The readable report: one table per task, engine beside baseline and chance."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _f(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if isinstance(a, float) and isinstance(b, float) and b > 0 else "–"


def _section(lines: list[str], results: dict, task: str) -> dict | None:
    """Start a task's section; return its results, or None when absent or skipped."""
    if task not in results:
        return None
    res = results[task]
    lines += [f"## {task}", ""]
    if "skipped" in res:
        lines += [f"skipped: {res['skipped']}", ""]
        return None
    return res


def _text_section(lines: list[str], t: dict) -> None:
    mood = t["mood_set"]
    voc = mood["vocabulary"]
    lines += [
        f"Emotion vocabulary: {voc['surface_forms']} surface forms merge into {voc['terms']} terms.",
        "",
        f"Mood sanity set ({mood['texts']} texts), offline backend:",
        "",
        "| language | hit@1 | hit@3 | chance hit@1 |",
        "|---|---|---|---|",
    ]
    for lang, m in mood["offline"].items():
        lines.append(f"| {lang} | {_f(m['hit@1'])} | {_f(m['hit@3'])} | {_f(m['chance@1'])} |")
    rank = t.get("mood_ranking")
    if rank:
        lines += [
            "",
            f"Mood ranking ({rank['songs']} songs with lyrics and popularity, {rank['feelings']} feelings, "
            f"{rank['queries']} listener sentences; cut {rank['min_score']:g}, most popular first; relevant = "
            "a song of the asked feeling):",
            "",
            "| language | hit@1 | hit@3 |",
            "|---|---|---|",
        ]
        for lang, m in rank["by_language"].items():
            lines.append(f"| {lang} | {_f(m['hit@1'])} | {_f(m['hit@3'])} |")
        lines.append(f"| chance | {_f(rank['chance']['hit@1'])} | {_f(rank['chance']['hit@3'])} |")
        lines += [
            "",
            f"Emotionless sentences answered 'no emotional content': "
            f"{_f(rank['neutral_sentences_answered_no_emotion'])}; misses: "
            + ("; ".join(f'"{m["text"]}" (wanted {m["want"]}, got {m["got"][:1]})' for m in rank["misses"]) or "none"),
        ]
    cap = t["captions"]
    lines.append("")
    if "skipped" in cap:
        lines += [f"Caption search: skipped ({cap['skipped']})", ""]
    else:
        lines += [
            f'Caption search ({cap["queries"]} captions like "a reel played on the flute"; relevant = that style on '
            f'that instrument) and instrument queries ({cap["instrument_queries"]}, "played on the flute"); '
            f"{cap['note']}:",
            "",
            "| mode | caption R@10 | instrument P@10 | query p50 (ms) |",
            "|---|---|---|---|",
        ]
        for mode in ("tags", "auto"):
            m = cap[mode]
            lines.append(f"| {mode} | {_f(m['r@10'])} | {_f(m['instrument_p@10'])} | {m['query_ms']['p50']:.0f} |")
        lines += [
            f"| chance | {_f(cap['chance_r@10'])} | {_f(cap['instrument_chance_p@10'])} | |",
            "",
        ]
    sw = t["spoken_word"]
    if "skipped" in sw:
        lines += [f"Spoken word: skipped ({sw['skipped']})", ""]
        return
    wer = ", ".join(f"{lang} {_f(v)}" for lang, v in sw["wer"].items())
    lines += [
        f"Spoken word ({sw['episodes']} episodes read by espeak-ng and Festival): WER {wer}; language identified "
        f"{_f(sw['language_id_accuracy'])}; words view with transcription "
        f"{sw['words_view_x_realtime_per_core_with_asr']:.1f}× realtime per core.",
        "",
        "| queries | n | words R@1 | words MRR | auto R@1 | BM25 on transcripts R@1 | BM25 MRR | chance R@1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, d in sw["retrieval"].items():
        e, b = d["engine"], d["bm25_on_transcripts"]
        lines.append(
            f"| {name} | {d['queries']} | {_f(e['r@1'])} | {_f(e['mrr'])} | {_f(d['auto']['r@1'])} | {_f(b['r@1'])} | "
            f"{_f(b['mrr'])} | "
            f"{_f(d['chance_r@1'])} |"
        )
    tl = sw["talks_like_this_p@1"]
    lines += [
        "",
        f"Talks like this one (`similar --view words`), same topic first: {_f(tl['engine'])} "
        f"(chance {_f(tl['chance'])}). Words query p50 {sw['words_query_ms']['p50']:.0f} ms, "
        f"p95 {sw['words_query_ms']['p95']:.0f} ms.",
        "",
    ]


def plot_by_bucket(res: dict, title: str, path: Path) -> bool:
    """Bar chart of MRR per bucket (engine vs baseline); False when matplotlib is unavailable."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    buckets = [b for b in res["by"] if b != "all"] + ["all"]
    who = [w for w in ("engine", "sound_view", "baseline") if w in res["by"]["all"]]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(buckets)), 3.6), dpi=110)
    width = 0.8 / len(who)
    for i, w in enumerate(who):
        ax.bar([x + i * width for x in range(len(buckets))], [res["by"][b][w]["mrr"] for b in buckets], width, label=w)
    ax.set_xticks([x + width * (len(who) - 1) / 2 for x in range(len(buckets))], buckets, rotation=30, ha="right")
    ax.set_ylabel("MRR")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _identify_section(lines: list[str], r: dict) -> None:
    if (res := _section(lines, r, "identify")) is None or "by" not in res:
        return
    qbe = (r.get("qbe") or {}).get("by", {})
    lines += [
        "engine = `tonearm identify` (landmark fingerprints); sound view and MFCC baseline = the qbe task's figures "
        "on the same excerpts.",
        "",
        "| distortion | n | identify R@1 | identify MRR | answered | sound view R@1 | baseline R@1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for bucket, v in sorted(res["by"].items(), key=lambda kv: (kv[0] == "all", kv[0])):
        q = qbe.get(bucket, {})
        lines.append(f"| {bucket} | {v['n']} | {_f(v['r@1'])} | {_f(v['mrr'])} | {_f(v['answered'])} | "
                     f"{_f(q.get('engine', {}).get('r@1'))} | {_f(q.get('baseline', {}).get('r@1'))} |")  # fmt: skip
    fa = res["false_accepts"]
    off, lat, post = res.get("offset_error_s") or {}, res["latency_ms"], res["postings"]
    lines += [
        "",
        "False accepts on clips not in the library: "
        + ", ".join(f"{k} {_f(v['rate'])} of {v['n']}" for k, v in fa.items())
        + ".",
        f"Offset error of correct answers: median {_f(off.get('median'))} s, p95 {_f(off.get('p95'))} s, "
        f"within 50 ms {_f(off.get('within_0.05_s'))}, within 0.5 s {_f(off.get('within_0.5_s'))}.",
        f"Latency: p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms (lookup alone: p50 {lat['lookup_p50']:.0f} ms, "
        f"p95 {lat['lookup_p95']:.0f} ms). Postings: {post['tracks']} tracks, {post['bytes'] / 1e6:.1f} MB.",
        "",
    ]


def _recommendation_sections(lines: list[str], r: dict) -> None:
    if (h := _section(lines, r, "hubness")) is not None:
        lines += [
            f"k-occurrence N{h['k']} (how often a track is among the others' {h['k']} nearest neighbours); "
            f"MFCC-mean baseline skewness {h['mfcc_baseline_skewness']:.2f}.",
            "",
            "| view | tracks | skewness cosine → CSLS | max N | anti-hubs |",
            "|---|---|---|---|---|",
        ]
        for view, v in h["views"].items():
            c, s = v["cosine"], v["csls"]
            lines.append(
                f"| {view} | {v['tracks']} | {c['skewness']:.2f} → {s['skewness']:.2f} | {c['max']} → {s['max']} | "
                f"{c['antihubs']:.3f} → {s['antihubs']:.3f} |"
            )
        melody = h["views"].get("melody", {})
        if "versions_mrr" in melody.get("cosine", {}):
            lines += [
                "",
                f"Melody view, versions MRR: cosine {_f(melody['cosine']['versions_mrr'])}, "
                f"CSLS {_f(melody['csls']['versions_mrr'])}.",
            ]
        for view, v in h["views"].items():
            if "versions_mrr" in v["cosine"] and view != "melody":
                lines.append(f"{view}, versions MRR: {_f(v['cosine']['versions_mrr'])}, "
                             f"CSLS {_f(v['csls']['versions_mrr'])}.")  # fmt: skip
        sound = next((v for v in h["views"].values() if "qbe_mrr" in v["cosine"]), None)
        if sound:
            lines += ["", "| retrieval (sound view) | cosine | CSLS |", "|---|---|---|"]
            for m in sound["cosine"]:
                if m not in ("skewness", "max", "antihubs"):
                    lines.append(f"| {m} | {_f(sound['cosine'][m])} | {_f(sound['csls'].get(m))} |")
        lines.append("")
    if (rad := _section(lines, r, "radio")) is not None:
        lines += [
            f"Share of a {rad['length']}-track radio (one seed, `--seed 0`) in the seed's label, against random lists.",
            "",
            "| pool | seeds | radio | radio, other tunes only | random |",
            "|---|---|---|---|---|",
        ]
        for pool, v in rad.items():
            if isinstance(v, dict):
                lines.append(
                    f"| {pool} | {v['seeds']} | {_f(v['radio'])} | {_f(v['radio_other_tunes_only'])} | "
                    f"{_f(v['random'])} |"
                )
        lines.append("")
    if (d := _section(lines, r, "duplicates")) is not None:
        fm, neg = d["false_merges"], d["different_recordings"]
        lines += [
            f"{d['originals']} corpus items; {d['reencoded_items']} of them re-encoded {d['copies']} times.",
            "",
            "| codec | recall (copy grouped with its original) |",
            "|---|---|",
            *[f"| {c} | {_f(v)} |" for c, v in sorted(d["recall"].items(), key=lambda kv: (kv[0] == "all", kv[0]))],
            "",
            f"False merges: {fm['groups']} groups, {fm['pairs']} pairs of different items"
            + (f" (e.g. {fm['examples']})" if fm["examples"] else "")
            + ".",
            f"Bit error rate of accepted copies: median {_f(d['copy_bit_errors']['p50'])}, "
            f"max {_f(d['copy_bit_errors']['max'])}. Between different items that the fingerprint view "
            f"calls neighbours ({neg['pairs_compared']} pairs): other tunes min {_f(neg['other_tunes_min'])} "
            f"(5th percentile {_f(neg['other_tunes_p5'])}); other renderings of the same tune min "
            f"{_f(neg['same_tune_other_rendering_min'])}. Threshold 0.15.",
            "",
        ]


def write_markdown(report: dict, path: Path) -> None:
    r = report["results"]
    lines = [
        f"# tonearm eval — size `{report['size']}`",
        "",
        f"Analyzers: `{report['analyzers']}`; normalisation: `{report.get('normalization')}`. "
        f"Corpus: {report['corpus']['items']} items, "
        f"{report['corpus']['queries']} queries. Total time {report['elapsed_seconds']:.0f} s.",
        "",
    ]
    for note in report["corpus"]["notes"]:
        lines.append(f"- note: {note}")
    lines.append("")
    for task in ("style", "instrument", "grouping"):
        if (res := _section(lines, r, task)) is None:
            continue
        metrics = list(res["engine"])
        lines += ["| metric | engine | MFCC-mean baseline | chance | engine / baseline |", "|---|---|---|---|---|"]
        for m in metrics:
            e, b, c = res["engine"][m], res["baseline"][m], res.get("chance", {}).get(m, "–")
            lines.append(f"| {m} | {_f(e)} | {_f(b)} | {_f(c)} | {_ratio(e, b)} |")
            if "engine_sets" in res:
                e = res["engine_sets"][m]
                lines.append(f"| {m}, `--match sets` | {_f(e)} | {_f(b)} | {_f(c)} | {_ratio(e, b)} |")
        lines += [f"\n{res['queries']} queries.", ""]
    if (res := _section(lines, r, "versions")) is not None:
        who = [w for w in ("engine", "melody", "baseline") if w in res["by"]["all"]]
        names = {"engine": "sound view", "melody": "melody view", "baseline": "MFCC baseline"}
        head = " | ".join(f"{names[w]} MRR | {names[w]} MAP" for w in who)
        lines += [f"| subset | n | {head} |", "|---|---|" + "---|---|" * len(who)]
        for subset, by in sorted(res["by"].items(), key=lambda kv: (kv[0] == "all", kv[0])):
            cells = " | ".join(f"{_f(by[w]['mrr'])} | {_f(by[w]['map'])}" for w in who)
            lines.append(f"| {subset} | {by['engine']['n']} | {cells} |")
        lines += [f"\nchance: MRR {_f(res['chance']['mrr'])}, MAP {_f(res['chance']['map'])}.", ""]
    for task in ("qbe", "qbh"):
        if (res := _section(lines, r, task)) is None:
            continue
        if res.get("note"):
            lines += [res["note"], ""]
        who = [w for w in ("engine", "sound_view", "baseline") if w in res["by"]["all"]]
        head = " | ".join(f"{w} R@1 | {w} MRR | {w} top-10" for w in who)
        lines += [f"| bucket | n | {head} |", "|---|---|" + "---|---|---|" * len(who)]
        for bucket, by in sorted(res["by"].items(), key=lambda kv: (kv[0] == "all", kv[0])):
            cells = " | ".join(f"{_f(by[w]['r@1'])} | {_f(by[w]['mrr'])} | {_f(by[w]['top10'])}" for w in who)
            lines.append(f"| {bucket} | {by['engine']['n']} | {cells} |")
        if plot_by_bucket(res, f"{task}: MRR per bucket", path.with_name(f"{task}_mrr.png")):
            lines += ["", f"![{task} MRR per bucket]({task}_mrr.png)"]
        ch = res["chance"]
        lines += [
            f"\nchance: MRR {_f(ch['mrr'])}, top-10 {_f(ch['hit@10'])}. "
            f"Query latency (decode + analyse + search): p50 {res['latency_ms']['p50']:.0f} ms, "
            f"p95 {res['latency_ms']['p95']:.0f} ms.",
            "",
        ]
    _identify_section(lines, r)
    text = _section(lines, r, "text")
    if text:
        _text_section(lines, text)
    _recommendation_sections(lines, r)
    if "speed" in r:
        s = r["speed"]
        lines += [
            "## speed",
            "",
            "| measure | value |",
            "|---|---|",
            f"| analysis of all views, × realtime per core | {s['analysis_x_realtime_per_core']:.1f} |",
            f"| index wall time (s) | {s['index_wall_seconds']:.1f} |",
            f"| similar by id, p50 / p95 (ms) | {s['similar_by_id_ms']['p50']:.1f} / "
            f"{s['similar_by_id_ms']['p95']:.1f} |",
            "",
        ]
    path.write_text("\n".join(lines) + "\n")
