"""The contract every analyzer (one per view/model) fulfils.

An analyzer turns decoded audio into one fixed-length vector for one *view* ("sound",
"melody", "words"). Its ``name``, ``version`` and ``dim`` are declared up front: the
library records ``name@version`` per view on every row, so bumping a version (or choosing
another analyzer for a view) re-analyses that view only, and the store can create the
vector column before the first row arrives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from tonearm.analyzers.normalize import Discriminant
from tonearm.analyzers.numba_cache import ensure_kernels
from tonearm.audio.segments import DecodedAudio

Normalization = Literal["none", "standardize"]


@dataclass
class Analysis:
    """An analyzer's output when it has more to store than the vector.

    ``fields`` go into the row as columns the analyzer declares in ``extra_fields``: text or
    numbers. Names starting with ``ana_`` are internal (the melody view's note list, used for
    alignment at query time) and not offered to ``--where``; others, like musicnn's
    ``tag_*`` probabilities, are filterable.
    """

    vector: np.ndarray
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrackContext:
    """What an analyzer may know about the file besides its audio.

    Most analyzers look at sound only. Those that declare ``reads_metadata`` (the words view
    reads lyrics and titles) get the file's path and its merged tag + sidecar metadata, and are
    re-run when a sidecar changes. ``previous`` holds this view's own fields from the last
    analysis of the same bytes, so expensive steps (a transcript) can be reused.
    """

    path: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    previous: dict[str, Any] = field(default_factory=dict)


class Analyzer(ABC):
    """Base class: subclass it and register it (built-in table or ``tonearm.analyzers`` entry point)."""

    name: ClassVar[str]
    version: ClassVar[int]
    view: ClassVar[str]
    dim: ClassVar[int]  # 0: the view has no vector, only the analyzer's fields (landmark peaks)
    sample_rate: ClassVar[int]
    # "standardize": raw vectors are z-scored with statistics fitted over the whole library,
    # then L2-normalised. Hand-made features on different scales need it; embeddings do not.
    normalization: ClassVar[Normalization] = "none"
    extra_fields: ClassVar[tuple[str, ...]] = ()
    reads_metadata: ClassVar[bool] = False
    # The metadata keys its output depends on (None: any of them), so that a tag it does not read
    # (ReplayGain, say) changing on an unchanged file does not re-run it.
    metadata_keys: ClassVar[frozenset[str] | None] = None
    # Types of extra fields that may be None (so their column can be created before a value arrives).
    field_types: ClassVar[dict[str, Literal["string", "number"]]] = {}
    # The extra field holding the track's stretches (``similar --match sets``), if the analyzer keeps them.
    segments_field: ClassVar[str | None] = None

    @property
    def key(self) -> str:
        """Identity recorded per row: changing it invalidates this view's vectors only."""
        return f"{self.name}@{self.version}"

    def ensure_ready(self) -> None:  # noqa: B027 - optional hook; most analyzers need nothing
        """Raise TonearmError naming what to install when weights or tools are missing."""

    def dim_weights(self) -> np.ndarray | None:
        """Per-dimension weights applied after z-scoring (fusions weight their blocks); None: equal."""
        return None

    def discriminant(self) -> Discriminant | None:
        """A standardised view's discriminant projection recipe (see ``normalize.Discriminant``); None: none."""
        return None

    @abstractmethod
    def analyze(self, audio: DecodedAudio) -> np.ndarray | Analysis:
        """Return a finite float32 vector of length ``dim`` (optionally with extra fields)."""

    def segment_raws(self, raws: np.ndarray, encoded: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
        """Raw outputs of many tracks' stretches from their raw vectors and ``segments_field`` values:
        (M, dim) stretch after stretch, and each track's count (0 where its field is missing or damaged).

        Only analyzers that declare ``segments_field`` implement it."""
        raise NotImplementedError(f"{self.key} keeps no stretches")

    def analyze_track(self, audio: DecodedAudio, context: TrackContext) -> np.ndarray | Analysis:
        """Analyse with the file's context; analyzers that declare ``reads_metadata`` override this."""
        return self.analyze(audio)

    def run(self, audio: DecodedAudio, context: TrackContext | None = None) -> Analysis:
        """``analyze_track`` with its result always wrapped as an Analysis (callers need not check)."""
        ensure_kernels()  # librosa's cached kernels: never compiled by two processes at once
        out = self.analyze_track(audio, context or TrackContext())
        return out if isinstance(out, Analysis) else Analysis(out)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key} view={self.view} dim={self.dim}>"
