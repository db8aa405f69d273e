"""Any Hugging Face audio encoder folder (wav2vec2, HuBERT, WavLM, ...): mean-pooled hidden layers.

``tonearm index --views sound=hf --model-path hf=~/models/wav2vec2-base``: a folder as
``save_pretrained`` writes it (``config.json``, weights, ``preprocessor_config.json``), read
with ``transformers`` offline (``local_files_only``; nothing is fetched). Needs the ``torch``
extra.

Speech encoders' upper layers specialise in phonetic content; for describing a recording as a
whole, the average over time of *every* transformer layer's output, then over layers, is a
steadier summary than the last layer alone (the usual finding in layer-wise probing of
wav2vec2-style models). The view's dimension is the model's hidden size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tonearm.analyzers.external import ExternalModelAnalyzer, chunks, import_torch
from tonearm.audio.segments import DecodedAudio
from tonearm.errors import TonearmError

SR = 16000
CHUNK_SECONDS = 10.0  # attention cost grows with the square of the length: windows go in 10-s pieces


def load_folder(path: Path, auto_model: str, preprocessor: str = "AutoFeatureExtractor") -> tuple[Any, Any]:
    """(feature extractor or processor, model) from a local folder; errors name the missing file.

    ``preprocessor`` is the transformers Auto class for the input side: the feature extractor
    for an audio encoder (a CTC checkpoint's tokenizer is not needed), the processor for CLAP.
    """
    import_torch()
    if not (path / "config.json").is_file():
        raise TonearmError(f"{path / 'config.json'} is missing: save the model with save_pretrained")
    if not any((path / f).is_file() for f in ("preprocessor_config.json", "processor_config.json")):
        raise TonearmError(
            f"{path / 'preprocessor_config.json'} is missing: the folder should hold the model's feature extractor too"
        )
    try:
        import transformers
    except ImportError as exc:
        raise TonearmError("this analyzer needs transformers: pip install 'tonearm[torch]'") from exc
    try:
        processor = getattr(transformers, preprocessor).from_pretrained(str(path), local_files_only=True)
        model = getattr(transformers, auto_model).from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TonearmError(f"could not load the model in {path}: {exc}") from exc
    return processor, model.eval()


class HfAudioAnalyzer(ExternalModelAnalyzer):
    """Hidden-layer mean pooling of a Hugging Face audio encoder (dimension = its hidden size)."""

    name = "hf"
    version = 1
    view = "sound"
    sample_rate = SR
    normalization = "standardize"  # transformer states have large shared offsets per dimension
    is_folder = True
    expects = "a Hugging Face audio model folder (config.json, weights, preprocessor_config.json)"

    @property
    def dim(self) -> int:  # type: ignore[override]
        config = self.folder_config()
        if "hidden_size" not in config:
            raise TonearmError(f"{self.model_path() / 'config.json'} has no hidden_size: not an audio encoder")
        return int(config["hidden_size"])

    def load(self, path: Path) -> Any:
        return load_folder(path, "AutoModel")

    def analyze(self, audio: DecodedAudio) -> np.ndarray:
        torch = import_torch()
        processor, model = self.model()
        extractor = getattr(processor, "feature_extractor", processor)
        sr = int(getattr(extractor, "sampling_rate", SR))
        pooled, weights = [], []
        with torch.inference_mode():
            for y in audio.at(sr):
                for piece in chunks(y, sr, CHUNK_SECONDS):
                    piece = np.pad(piece, (0, max(0, sr // 2 - len(piece))))  # the conv front end needs ~0.5 s
                    inputs = extractor(piece, sampling_rate=sr, return_tensors="pt")
                    out = model(**inputs, output_hidden_states=True)
                    layers = out.hidden_states[1:] or out.hidden_states  # skip the pre-transformer projection
                    pooled.append(torch.stack([h[0].mean(dim=0) for h in layers]).mean(dim=0).numpy())
                    weights.append(len(piece))
        return self.finite(np.average(np.stack(pooled), axis=0, weights=weights))
