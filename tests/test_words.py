"""The words view: lyrics, transcripts (faster-whisper), text embeddings, emotions and text search."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from conftest import run_cli, serve_library, speak, synth, write_audio

from tonearm.errors import TonearmError
from tonearm.eval.metrics import word_error_rate
from tonearm.eval.moodsongs import MOOD_QUERIES, MOOD_SONGS, NEUTRAL_QUERIES, write_song_library
from tonearm.library.indexer import Indexer
from tonearm.library.moods import SPACE_META, migrate_space
from tonearm.search.text import MOOD_MIN_SCORE, TextQuery, parse_tag_query, search
from tonearm.store import open_store
from tonearm.store.schema import MOOD_VIEW
from tonearm.words import asr, moodspace
from tonearm.words.emotions import LLMEmotions, LLMError, OfflineEmotions, merge_term
from tonearm.words.lyrics import parse_lrc, timed_lines
from tonearm.words.vocabulary import Vocabulary, merge_report

FAST_VIEWS = {"sound": "dsp", "melody": "melody", "words": "words"}

GARDEN_EN = (
    "Welcome back to the garden show. Today we talk about growing tomatoes in small pots on a sunny balcony, "
    "how often to water them in a heat wave, and which compost keeps the soil healthy."
)
GARDEN_EN_2 = (
    "In this episode of the garden show we plant tomato seedlings in containers, water the pots every morning, "
    "and mix compost into the soil so the plants grow strong."
)
SPACE_EN = (
    "This is the astronomy hour. Tonight we look at the planets through a small telescope, find Jupiter and its "
    "moons, and talk about how far away the stars really are."
)
BANKS_EN = (
    "On tonight's programme we ask how central banks fight inflation. When prices rise too fast, the bank "
    "raises interest rates, borrowing gets more expensive, and spending slows down."
)
PAELLA_ES = "Hoy cocinamos una paella con arroz, azafrán y mariscos frescos del puerto."
COOKING_ES = (
    "Bienvenidos al programa de cocina. Hoy preparamos una tortilla de patatas con cebolla y huevos, "
    "y hablamos de los mercados de Madrid."
)


# ---- vocabulary and lyrics -------------------------------------------------------------
def test_derivative_forms_merge_into_one_term() -> None:
    vocab = Vocabulary()
    assert {vocab.canonical(w) for w in ("betrayal", "betrayed", "betray", "Betraying")} == {"betrayal"}
    assert vocab.canonical("hopeful") == vocab.canonical("hoping") == "hope"
    assert vocab.canonical("heartbroken") == "heartbreak"
    assert vocab.canonical("proud") == "pride"  # irregular form from the table
    assert vocab.canonical("saudade") is None
    assert vocab.add("saudade") == "saudade" and vocab.add("Saudade!") == "saudade"
    report = merge_report()
    assert report["surface_forms"] > 3 * report["terms"] and report["terms"] == 40
    assert merge_report(["anger", "angry", "angrily", "calm", "calmly"]) == {"surface_forms": 5, "terms": 2}


def test_lrc_lyrics_are_parsed_with_times() -> None:
    lines = parse_lrc("[ar:Someone]\n[00:01.50]first line\n[00:03.00][00:10.00]chorus\n\n[00:05.25]third\n")
    assert lines == [(1.5, "first line"), (3.0, "chorus"), (5.25, "third"), (10.0, "chorus")]
    timed = timed_lines({"lyrics_lrc": "[00:01.00]a\n[00:02.00]b\n"})
    assert timed == [(1.0, 2.0, "a"), (2.0, None, "b")]
    assert timed_lines({"lyrics": "one\n\ntwo"}) == [(None, None, "one"), (None, None, "two")]


# ---- speech recognition ---------------------------------------------------------------
def test_whisper_base_is_joined_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONEARM_CACHE", str(tmp_path / "cache"))
    path = asr.resolve_model("base")
    assert (path / "model.bin").stat().st_size > 140_000_000 and (path / "tokenizer.json").is_file()
    mtime = (path / "model.bin").stat().st_mtime_ns
    assert asr.resolve_model("base") == path and (path / "model.bin").stat().st_mtime_ns == mtime
    assert not list(path.parent.glob(".*.tmp"))
    assert asr.resolve_model("tiny.en").name == "model"


def test_whisper_base_without_a_writable_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A service account with a read-only home: the model is assembled in the private temporary folder; with
    no writable folder at all, the error says what to do (it used to be a traceback from the index run)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("TONEARM_CACHE", str(blocker / "cache"))  # under a file: cannot be made
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    path = asr.resolve_model("base")
    assert path.parent == tmp_path / "tmp" / f"tonearm-{os.getuid()}" / "models"
    assert (path / "model.bin").stat().st_size > 140_000_000
    monkeypatch.setenv("TMPDIR", str(blocker / "tmp"))
    with pytest.raises(TonearmError, match=r"no writable cache folder .*TONEARM_CACHE.*--asr-model"):
        asr.resolve_model("base")


def test_missing_asr_model_or_runtime_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TonearmError, match=r"model\.bin missing"):
        asr.resolve_model(str(tmp_path))
    real = asr.importlib.util.find_spec
    monkeypatch.setattr(asr.importlib.util, "find_spec", lambda n: None if n == "faster_whisper" else real(n))
    with pytest.raises(TonearmError, match=r"tonearm\[asr\]"):
        asr.resolve_model()


# Transcripts differ between CPUs (other GEMM kernels, other rounding): tests bound the word
# error rate against the script instead of asserting words. Measured here (bench/bench_asr.py):
# English 0.08-0.11, espeak's Spanish 0.37-0.53 over the eval's episodes; the bounds leave room for a
# transcript as good from other kernels.
MAX_WER = {"en": 0.3, "es": 0.6}


def test_english_and_spanish_speech_are_transcribed(tmp_path: Path) -> None:
    from tonearm.audio.decode import load

    en = load(speak(tmp_path / "en.wav", GARDEN_EN), asr.ASR_SR)
    es = load(speak(tmp_path / "es.wav", COOKING_ES, voice="es"), asr.ASR_SR)
    t_en, t_es = asr.transcribe(en), asr.transcribe(es)
    assert t_en.language == "en" and t_es.language == "es"
    assert word_error_rate(GARDEN_EN, t_en.text) <= MAX_WER["en"], t_en.text
    assert word_error_rate(COOKING_ES, t_es.text) <= MAX_WER["es"], t_es.text
    assert t_es.decoder.endswith(":b3") and asr.DecodeSettings.from_env().beam == 3  # the shipped setting
    assert all(a.start < a.end <= b.start + 1e-6 for a, b in zip(t_en.segments, t_en.segments[1:], strict=False))
    assert asr.speech_seconds(en) > 0.8 * en.size / asr.ASR_SR
    assert asr.speech_seconds(synth("tonal", 8.0, sr=asr.ASR_SR)) < 0.5


# ---- indexing ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def words_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("words")
    media = root / "media"
    speak(media / "garden1.wav", GARDEN_EN)
    speak(media / "garden2.wav", GARDEN_EN_2, voice="en-gb")
    speak(media / "space.wav", SPACE_EN)
    speak(media / "cocina.wav", COOKING_ES, voice="es")
    # A song with lyrics in its tags (ID3 USLT), one with an .lrc beside it, one instrumental.
    song = write_audio(media / "tagged.mp3", synth("tonal", 6.0), tags={"title": "Letters"})
    from mutagen.id3 import ID3, USLT

    tags = ID3(str(song))
    tags.add(USLT(encoding=3, lang="eng", desc="", text="You swore you would never lie to me\nNow I know you did"))
    tags.save()
    write_audio(media / "rain.flac", synth("chirp", 6.0, seed=2))
    (media / "rain.lrc").write_text("[00:00.50]The house is empty since you went away\n[00:03.00]I cry alone\n")
    (media / "rain.json").write_text(json.dumps({"popularity": 10}))
    write_audio(media / "inst.flac", synth("percussive", 6.0, seed=3))
    lib = root / "lib"
    store = open_store(str(lib))
    Indexer(store, FAST_VIEWS).run([str(media)], workers=2)
    return media, lib


def _row(lib: Path, name: str) -> dict:
    store = open_store(str(lib))
    return next(r for r in store.scan() if r["path"].endswith(name))


def test_sources_of_words(words_library: tuple[Path, Path]) -> None:
    _, lib = words_library
    tagged, rain, inst = _row(lib, "tagged.mp3"), _row(lib, "rain.flac"), _row(lib, "inst.flac")
    assert tagged["words_source"] == "lyrics" and "never lie" in tagged["lyrics"]
    assert rain["words_source"] == "lyrics" and rain["lyrics"].startswith("The house is empty")
    assert json.loads(rain["ana_words_chunks"])["chunks"][0]["s"] == 0.5  # LRC time kept
    assert inst["words_source"] in ("none", "metadata") and inst["transcript"] is None
    assert inst["speech_ratio"] is not None and inst["speech_ratio"] < 0.4  # VAD said: no speech, no ASR
    cocina = _row(lib, "cocina.wav")
    assert cocina["words_source"] == "transcript" and cocina["language"] == "es"
    assert word_error_rate(COOKING_ES, cocina["transcript"]) <= MAX_WER["es"], cocina["transcript"]
    assert _row(lib, "garden1.wav")["language"] == "en"


def test_emotions_are_tagged_from_lyrics(words_library: tuple[Path, Path]) -> None:
    _, lib = words_library
    tagged, rain = _row(lib, "tagged.mp3"), _row(lib, "rain.flac")
    assert "betrayal" in tagged["emotions"]
    assert {"loneliness", "sadness", "longing", "grief"} & set(rain["emotions"].split(", "))
    assert len(tagged["emotions"].split(", ")) <= 8 and tagged["vec_mood"] is not None
    assert _row(lib, "inst.flac")["emotions"] is None


def test_words_search_returns_the_passage(words_library: tuple[Path, Path]) -> None:
    _, lib = words_library
    store = open_store(str(lib))
    out = search(store, TextQuery("how to look at Jupiter with a telescope", k=3), "words")
    top = out["results"][0]
    assert top["path"].endswith("space.wav") and top["passage"] and top["start"] == 0.0
    assert out["query"]["language"] == "en"
    es = search(store, TextQuery("recetas de cocina española", k=1), "words")["results"][0]
    assert es["path"].endswith("cocina.wav")
    # Cross-lingual: an English query finds the Spanish talk about cooking, and the other way round.
    assert search(store, TextQuery("a cooking show about potato omelette", k=1), "words")["results"][0][
        "path"
    ].endswith("cocina.wav")
    assert search(store, TextQuery("un programa sobre las estrellas y los planetas", k=1), "words")["results"][0][
        "path"
    ].endswith("space.wav")


def test_three_talks_are_found_by_meaning_across_languages(tmp_path: Path) -> None:
    """The fresh-machine example: EN gardening, EN central banks, ES paella, found from real transcripts."""
    media = tmp_path / "talks"
    speak(media / "garden.wav", GARDEN_EN)
    speak(media / "banks.wav", BANKS_EN, voice="en-gb")
    speak(media / "paella.wav", PAELLA_ES, voice="es")
    lib = tmp_path / "lib"
    assert run_cli("index", str(media), "--library", str(lib), "--views", "words=words").returncode == 0
    store = open_store(str(lib))
    for text, want in [
        ("cooking rice with seafood", "paella.wav"),
        ("growing vegetables at home", "garden.wav"),
        ("interest rates and rising prices", "banks.wav"),
        ("una receta de arroz con marisco", "paella.wav"),
        ("cómo cultivar tomates en casa", "garden.wav"),
    ]:
        results = search(store, TextQuery(text, k=3), "words")["results"]
        assert results[0]["path"].endswith(want), (text, [(r["path"], r["score"]) for r in results])


def test_talks_like_this_one(words_library: tuple[Path, Path]) -> None:
    _, lib = words_library
    proc = run_cli("similar", str(lib.parent / "media" / "garden1.wav"), "--view", "words", "--json", "-l", str(lib))
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["results"]
    assert results[0]["path"].endswith("garden2.wav")


def test_mood_search_min_score_and_popularity(words_library: tuple[Path, Path]) -> None:
    _, lib = words_library
    store = open_store(str(lib))
    out = search(store, TextQuery("lonely and sad since you left me", k=5, min_score=0.0), "mood")
    assert "popularity" in out["query"]["explain"]
    paths = [r["path"] for r in out["results"]]
    assert paths[0].endswith("rain.flac")  # the only track with a popularity value comes first
    strict = search(store, TextQuery("lonely and sad since you left me", k=5, min_score=0.999), "mood")
    assert len(strict["results"]) < len(out["results"])
    assert all(r["score"] >= 0.999 for r in strict["results"])


@pytest.fixture(scope="module")
def titled_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Instrumental tracks whose only words are their tags (title, artist, genre, comment)."""
    media = tmp_path_factory.mktemp("titled") / "media"
    tracks = {
        "train": {"title": "Midnight Train to Memphis", "artist": "Delta Ray", "genre": "Blues"},
        "sonata": {"title": "Sonata No. 3: I. Adagio", "artist": "Clara Holt", "genre": "Classical"},
        "cumbia": {"title": "Cumbia del Río", "artist": "Los Pescadores", "genre": "Cumbia"},
        "steel": {"title": "Wheels of Steel", "artist": "Iron Foundry", "genre": "Heavy Metal"},
        "lullaby": {"title": "Lullaby for Mara", "artist": "June Ash", "genre": "Folk"},
        "ep7": {"title": "Episode 7", "artist": "Small Plot Radio", "genre": "Podcast",
                "comment": "How to grow tomatoes on a balcony, and what to compost"},
    }  # fmt: skip
    for i, (name, tags) in enumerate(tracks.items()):
        write_audio(media / f"{name}.flac", synth(("tonal", "percussive", "chirp")[i % 3], 4.0, seed=i), tags=tags)
    lib = media.parent / "lib"
    Indexer(open_store(str(lib)), FAST_VIEWS).run([str(media)], workers=2)
    return lib


def test_auto_fuses_tag_lines_only_when_they_answer(titled_library: Path) -> None:
    store = open_store(str(titled_library))
    # E5 scores any query well against "Title. Artist. Genre" lines: these queries name nothing in them
    for text in ("a calm piano piece", "energetic guitar", "jupiter telescope"):
        out = search(store, TextQuery(text, k=3), "auto")
        assert "words" in out["query"]["skipped"], (text, out["results"])
        assert all("words" not in r["modes"] for r in out["results"])
    answered = (
        ("heavy metal", "steel.flac"),
        ("cumbia", "cumbia.flac"),
        ("memphis blues", "train.flac"),
        ("growing tomatoes on a balcony", "ep7.flac"),
    )  # the last only in the file's comment tag
    for text, name in answered:
        out = search(store, TextQuery(text, k=3), "auto")
        assert out["results"][0]["path"].endswith(name), (text, out["results"])
        assert out["results"][0]["modes"] == {"words": 1}


def test_tags_and_auto_modes(words_library: tuple[Path, Path]) -> None:
    _, lib = words_library
    assert ("sad", -1.0) in [(t, w) for t, w, _ in parse_tag_query("not sad")]
    assert [t for t, _, _ in parse_tag_query("sin voz")] == ["instrumental"]
    assert parse_tag_query("blah qwerty") == []
    assert {t: w for t, w, _ in parse_tag_query("not sad, instrumental")} == {"sad": -1.0, "instrumental": 1.0}
    store = open_store(str(lib))
    tags = search(store, TextQuery("not sad, instrumental", k=3), "tags")  # this library's sound view is dsp
    assert tags["results"] == [] and "no tag" in tags["query"]["explain"]
    auto = search(store, TextQuery("the garden show tomatoes", k=3), "auto")
    assert auto["results"][0]["path"].startswith(str(lib.parent / "media" / "garden"))
    assert "words" in auto["results"][0]["modes"]


def test_tags_mode_ranks_by_tag_and_negation_reverses(tmp_path: Path) -> None:
    media = tmp_path / "m"
    for i, kind in enumerate(("tonal", "percussive", "noise", "chirp")):
        write_audio(media / f"{kind}.flac", synth(kind, 6.0, seed=i))
    store = open_store(str(tmp_path / "lib"))
    Indexer(store, {"sound": "musicnn"}).run([str(media)], workers=2)
    up = search(store, TextQuery("electronic", k=4), "tags")
    down = search(store, TextQuery("not electronic", k=4), "tags")
    assert up["query"]["tags"] == {"electronic": 1.0} and down["query"]["tags"] == {"electronic": -1.0}
    probs = [r["tags"]["electronic"] for r in up["results"]]
    assert probs == sorted(probs, reverse=True) and len(probs) == 4
    assert [r["id"] for r in down["results"]] == [r["id"] for r in reversed(up["results"])]


def test_search_cli_errors_and_json(words_library: tuple[Path, Path]) -> None:
    _, lib = words_library
    bad = run_cli("search", "   ", "-l", str(lib))
    assert bad.returncode == 2 and "empty" in bad.stderr
    bad_mode = run_cli("search", "x", "--mode", "vibes", "-l", str(lib))
    assert bad_mode.returncode == 2 and "unknown search mode" in bad_mode.stderr
    ok = run_cli("search", "telescope planets", "--mode", "words", "-k", "2", "--json", "-l", str(lib))
    assert ok.returncode == 0, ok.stderr
    payload = json.loads(ok.stdout)
    assert payload["query"]["mode"] == "words" and len(payload["results"]) == 2


def test_sidecar_lyrics_edit_reanalyses_words_only(tmp_path: Path) -> None:
    media = tmp_path / "m"
    write_audio(media / "a.flac", synth("tonal", 5.0))
    (media / "a.txt").write_text("Dancing all night at the party, hands in the air\n")
    lib = tmp_path / "lib"
    store = open_store(str(lib))
    Indexer(store, FAST_VIEWS).run([str(media)])
    before = next(store.scan())
    (media / "a.txt").write_text("We buried him on a cold grey morning\nand the bells rang for hours\n")
    report = Indexer(store, FAST_VIEWS).run([str(media)])
    after = next(store.scan())
    assert report.updated == 1 and after["lyrics"].startswith("We buried him")
    assert np.allclose(after["vec_sound"], before["vec_sound"])  # sound untouched
    assert not np.allclose(after["vec_words"], before["vec_words"])
    assert after["emotions"] != before["emotions"]


# ---- LLM backend -------------------------------------------------------------------------
class _FakeLLM(BaseHTTPRequestHandler):
    mode = "ok"
    prompts: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).prompts.append(body["messages"][0]["content"])
        if self.mode == "slow":
            time.sleep(3)
        if self.mode == "garbage":
            content = "I think it is quite sad, honestly."
        else:
            content = json.dumps(
                {"emotions": [{"term": "betrayed", "weight": 0.9}, {"term": "Saudade", "weight": 0.4}]}
            )
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def llm_server() -> tuple[str, type[_FakeLLM]]:
    handler = type("Handler", (_FakeLLM,), {"mode": "ok", "prompts": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    server.shutdown()


def test_llm_backend_merges_terms_and_passes_vocabulary(llm_server) -> None:
    url, handler = llm_server
    vocab = Vocabulary()
    out = LLMEmotions(url, "test-model", timeout=5).tag(["You lied to me"], vocab)
    assert list(out.weights) == ["betrayal", "saudade"] and abs(sum(out.weights.values()) - 1) < 1e-6
    assert "saudade" in vocab.added
    assert "betrayal" in handler.prompts[0] and "heartbreak" in handler.prompts[0]
    LLMEmotions(url, "test-model", timeout=5).tag(["again"], vocab)
    assert "saudade" in handler.prompts[1]  # terms in use are offered back to the model
    assert merge_term("heartbroken", vocab) == "heartbreak"


def test_llm_garbage_timeout_and_unreachable_are_clear_errors(llm_server) -> None:
    url, handler = llm_server
    handler.mode = "garbage"
    with pytest.raises(LLMError, match="not the requested JSON"):
        LLMEmotions(url, "m", timeout=5).tag(["x"], Vocabulary())
    handler.mode = "slow"
    with pytest.raises(LLMError, match="timed out"):
        LLMEmotions(url, "m", timeout=0.5).tag(["x"], Vocabulary())
    with pytest.raises(LLMError, match="unreachable"):
        LLMEmotions("http://127.0.0.1:9/v1", "m", timeout=2).tag(["x"], Vocabulary())


def test_index_run_continues_when_the_llm_fails(tmp_path: Path, llm_server) -> None:
    url, handler = llm_server
    handler.mode = "garbage"
    media = tmp_path / "m"
    for i, text in enumerate(("You lied to me and I believed you", "I am alone tonight")):
        write_audio(media / f"s{i}.flac", synth("tonal", 4.0, seed=i))
        (media / f"s{i}.txt").write_text(text)
    lib = tmp_path / "lib"
    proc = run_cli("index", str(media), "-l", str(lib), "--views", "sound=dsp", "--llm-url", url, "--llm-model", "m")
    assert proc.returncode == 0, proc.stderr
    assert "2 added" in proc.stdout and "not the requested JSON" in proc.stderr
    store = open_store(str(lib))
    assert store.count() == 2 and all(r["emotions"] is None for r in store.scan())
    handler.mode = "ok"  # the next run retries the untagged tracks
    proc = run_cli("index", str(media), "-l", str(lib), "--views", "sound=dsp", "--llm-url", url, "--llm-model", "m")
    assert proc.returncode == 0 and "2 tracks tagged" in proc.stdout
    assert all(r["emotions"].startswith("betrayal") for r in open_store(str(lib)).scan())
    assert open_store(str(lib)).get_meta("emotion_vocabulary") == ["saudade"]


def test_offline_backend_reads_english_and_spanish() -> None:
    backend, vocab = OfflineEmotions(), Vocabulary()
    assert "betrayal" in backend.tag(["You swore you would never lie, then I found the messages"], vocab).terms[:3]
    assert "betrayal" in backend.tag(["Juraste que nunca me mentirías y encontré los mensajes"], vocab).terms[:3]
    assert backend.tag(["The train to the airport leaves every twenty minutes."], vocab).weights == {}


# ---- mood space: feelings apart, popularity only among songs of the asked feeling ---------
def test_mood_space_keeps_kin_close_and_other_feelings_apart() -> None:
    k = moodspace.kernel()
    assert np.allclose(k, k.T) and np.linalg.eigvalsh(k).min() > -1e-9  # a kernel: K^1/2 exists
    assert moodspace.similarity({"grief": 1.0}, {"sadness": 1.0}) > 0.9
    assert moodspace.similarity({"anger": 1.0}, {"rage": 1.0}) > 0.9
    for a, b in [("grief", "joy"), ("hope", "pride"), ("anger", "betrayal"), ("fear", "calm")]:
        assert moodspace.similarity({a: 1.0}, {b: 1.0}) < MOOD_MIN_SCORE - 0.3, (a, b)
    v = moodspace.profile_vector({"sorrow": 1.0})  # a term an LLM added lands near its kin
    assert v.shape == (moodspace.DIM,) and float(v @ moodspace.profile_vector({"sadness": 1.0})) > 0.5
    assert float(v @ moodspace.profile_vector({"joy": 1.0})) < 0.3


@pytest.fixture(scope="module")
def mood_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's example: one English and one Spanish song per feeling, and two more popular songs."""
    root = tmp_path_factory.mktemp("moods")
    wanted = {"grief", "joy", "anger", "nostalgia", "hope", "fear", "pride", "betrayal"}
    write_song_library(root / "media", [s for s in MOOD_SONGS if s.feeling in wanted])
    lib = root / "lib"
    proc = run_cli("index", str(root / "media"), "--library", str(lib), "--views", "words=words")
    assert proc.returncode == 0, proc.stderr
    return lib


def test_each_feeling_finds_its_own_songs_before_more_popular_ones(mood_library: Path) -> None:
    store = open_store(str(mood_library))
    feeling = {r["id"]: Path(r["path"]).stem.split("-")[0] for r in store.scan(columns=["id", "path"])}
    popularity = {r["id"]: r["popularity"] for r in store.scan(columns=["id", "popularity"])}
    for want in ("grief", "joy", "anger", "nostalgia", "hope", "fear"):
        for lang in ("en", "es"):
            # The second sentence per feeling and language; the eval scores all 32 (one English fear
            # sentence, "I'm scared and alone...", reads as loneliness: a known miss reported there).
            text = [t for la, t, f in MOOD_QUERIES if la == lang and f == want][1]
            out = search(store, TextQuery(text, k=2), "mood")
            got = [feeling[r["id"]] for r in out["results"]]
            assert got == [want, want], (text, out["query"]["emotions"], got)
            best = max(popularity[r["id"]] for r in out["results"])
            assert any(popularity[i] > best and feeling[i] != want for i in feeling)  # popularity alone fails
            assert "reads as" in out["query"]["explain"] and "popularity" in out["query"]["explain"]


def test_an_emotionless_sentence_gets_a_clear_answer(mood_library: Path) -> None:
    for text in NEUTRAL_QUERIES[:1] + NEUTRAL_QUERIES[2:3]:
        proc = run_cli("search", text, "--mode", "mood", "--json", "-l", str(mood_library))
        assert proc.returncode == 0, proc.stderr
        payload = json.loads(proc.stdout)
        assert payload["results"] == [] and payload["query"]["explain"].startswith("no emotional content")


def test_mood_vectors_of_an_older_space_are_moved_without_retagging(mood_library: Path, tmp_path: Path) -> None:
    import shutil

    lib = tmp_path / "old"
    shutil.copytree(mood_library, lib)
    store = open_store(str(lib))
    before = {r["id"]: r["emotions"] for r in store.scan(columns=["id", "emotions"])}
    store.drop_view(MOOD_VIEW)  # what a library from before the mood space holds: 384-d E5 profiles
    store.ensure_view(MOOD_VIEW, 384)
    store.set_meta(SPACE_META, None)
    with pytest.raises(TonearmError, match="older tonearm"):
        search(store, TextQuery("I'm so happy today"), "mood")
    assert migrate_space(store) == len([e for e in before.values() if e])
    assert store.views()[MOOD_VIEW] == moodspace.DIM
    assert {r["id"]: r["emotions"] for r in store.scan(columns=["id", "emotions"])} == before
    top = search(store, TextQuery("I'm so happy today", k=1), "mood")["results"][0]
    assert Path(top["path"]).stem.startswith("joy")


def test_cli_search_is_answered_by_a_running_server(mood_library: Path, tmp_path: Path) -> None:
    """A `tonearm serve` of the library answers the CLI's searches (same results); without it, the CLI does."""
    import shutil
    import signal

    text = "estoy furioso, quiero gritar y romper algo"

    def cli(lib: Path, *extra: str) -> dict:
        proc = run_cli("search", text, "--mode", "mood", "--json", "-l", str(lib), *extra)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def ranked(payload: dict) -> list:
        return [(r["id"], r["score"]) for r in payload["results"]]

    local = cli(mood_library)
    assert "served_by" not in local["query"]
    proc, base = serve_library(mood_library, mood_library.parent / "media")
    try:
        served = cli(mood_library)
        assert served["query"]["served_by"] == base and ranked(served) == ranked(local)
        assert "served_by" not in cli(mood_library, "--local")["query"]
        copy = tmp_path / "copy"  # a copied folder carries the announcement: its server is not this library's
        shutil.copytree(mood_library, copy)
        assert (copy / ".tonearm-serve.json").is_file() and "served_by" not in cli(copy)["query"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert not (mood_library / ".tonearm-serve.json").exists()  # a stopped server takes its announcement away
    stale = {"pid": 2**22 + 7, "host": "127.0.0.1", "port": 9, "library": str(mood_library.resolve())}  # no such pid
    (mood_library / ".tonearm-serve.json").write_text(json.dumps(stale))
    try:
        assert ranked(cli(mood_library)) == ranked(local)  # a stale announcement: answered here
    finally:
        (mood_library / ".tonearm-serve.json").unlink()


def test_cli_search_starts_a_background_server_that_stops_when_idle(mood_library: Path, tmp_path: Path) -> None:
    """Without a server, a search answers itself and starts a quiet one; the next search is served; idle, it stops."""
    import os
    import shutil

    lib = tmp_path / "lib"
    shutil.copytree(mood_library, lib)
    env = {"TONEARM_BACKGROUND": "1", "TONEARM_BACKGROUND_IDLE_S": "4"}
    announcement = lib / ".tonearm-serve.json"

    def cli(*extra: str) -> dict:
        proc = run_cli("search", "I'm so happy today", "--mode", "mood", "--json", "-l", str(lib), *extra, env=env)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    assert "served_by" not in cli("--local") and not announcement.exists()  # --local never starts one
    first = cli()
    assert "served_by" not in first["query"]  # answered by this process ...
    deadline = time.time() + 60
    while not announcement.exists() and time.time() < deadline:  # ... which left a server starting
        time.sleep(0.2)
    info = json.loads(announcement.read_text())
    assert info["host"] == "127.0.0.1" and info["port"] > 0 and not (lib / ".tonearm-serve.starting").exists()
    second = cli()
    assert second["query"]["served_by"] == f"http://127.0.0.1:{info['port']}"
    assert [r["id"] for r in second["results"]] == [r["id"] for r in first["results"]]
    deadline = time.time() + 60
    while announcement.exists() and time.time() < deadline:  # 4 s without a request: it stops, and says so
        time.sleep(0.2)
    assert not announcement.exists()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(info["pid"], 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the idle background server did not exit")
