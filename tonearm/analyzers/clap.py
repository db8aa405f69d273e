"""CLAP (contrastive language-audio pretraining): audio and text in one space, from a folder you supply.

``tonearm index --views sound=clap --model-path clap=~/models/clap-htsat-unfused``: a Hugging
Face ``ClapModel`` folder (config, weights, processor and tokenizer files), read offline with
``transformers``. Needs the ``torch`` extra. The sound view then holds CLAP audio embeddings
(mean over 10-s pieces of the analysed windows, each unit length), and
``tonearm search --mode audio "rain on a tin roof"`` embeds the sentence with CLAP's text
tower and searches the sound view with it: text-to-audio search without tags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tonearm.analyzers.external import ExternalModelAnalyzer, chunks, import_torch
from tonearm.analyzers.hf_audio import load_folder
from tonearm.audio.segments import DecodedAudio
from tonearm.errors import TonearmError

SR = 48000
CHUNK_SECONDS = 10.0  # CLAP's training clips


def _pooled(out: Any) -> Any:
    """transformers 5 returns an output object with the unit-length projection; 4.x a tensor."""
    return out.pooler_output if hasattr(out, "pooler_output") else out


class ClapAnalyzer(ExternalModelAnalyzer):
    """CLAP audio tower (dimension = the checkpoint's projection size); text tower for queries."""

    name = "clap"
    version = 1
    view = "sound"
    sample_rate = SR
    is_folder = True
    expects = "a Hugging Face CLAP folder, e.g. laion/clap-htsat-unfused saved with save_pretrained"

    @property
    def dim(self) -> int:  # type: ignore[override]
        config = self.folder_config()
        if config.get("model_type") != "clap":
            raise TonearmError(f"{self.model_path()} holds a {config.get('model_type')!r} model, not CLAP")
        return int(config.get("projection_dim", 512))

    def load(self, path: Path) -> Any:
        return load_folder(path, "ClapModel", "AutoProcessor")

    def analyze(self, audio: DecodedAudio) -> np.ndarray:
        torch = import_torch()
        processor, model = self.model()
        pieces = [p for y in audio.at(SR) for p in chunks(y, SR, CHUNK_SECONDS)]
        with torch.inference_mode():
            # A fused checkpoint takes four views of each piece; an unfused one a single spectrogram.
            fused = bool(getattr(model.config.audio_config, "enable_fusion", False))
            inputs = processor.feature_extractor(
                pieces, sampling_rate=SR, return_tensors="pt", truncation="fusion" if fused else "rand_trunc"
            )
            emb = _pooled(model.get_audio_features(**inputs))
            emb = torch.nn.functional.normalize(emb, dim=-1).numpy()
        return self.finite(np.average(emb, axis=0, weights=[len(p) for p in pieces]))

    def embed_text(self, texts: list[str]) -> np.ndarray:
        """Unit-length text-tower embeddings, comparable with the sound view's vectors."""
        torch = import_torch()
        processor, model = self.model()
        with torch.inference_mode():
            inputs = processor.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
            emb = _pooled(model.get_text_features(**inputs))
            return torch.nn.functional.normalize(emb, dim=-1).numpy().astype(np.float32)
