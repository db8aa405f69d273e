"""Analyzer registry: built-in analyzers plus any registered by other packages.

Like beets' plugins, third-party analyzers are discovered by name: a package declares an
entry point in the ``tonearm.analyzers`` group (``myname = "pkg.module:MyAnalyzer"``), and
``tonearm index --views sound=myname`` uses it. Classes are imported only when requested,
so a broken optional analyzer never breaks the others.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points

from tonearm.analyzers.base import Analysis, Analyzer, TrackContext
from tonearm.errors import TonearmError

_BUILTIN: dict[str, str] = {
    "dsp": "tonearm.analyzers.dsp:DspSoundAnalyzer",
    "melody": "tonearm.analyzers.melody:MelodyAnalyzer",
    "musicnn": "tonearm.analyzers.musicnn:MusicnnAnalyzer",
    "aisfx": "tonearm.analyzers.aisfx:AisfxAnalyzer",
    "fused": "tonearm.analyzers.fused:FusedSoundAnalyzer",
    "basicpitch": "tonearm.analyzers.basicpitch:BasicPitchMelodyAnalyzer",
    "words": "tonearm.analyzers.words:WordsAnalyzer",
    "chromaprint": "tonearm.analyzers.chromaprint:ChromaprintAnalyzer",
    "landmarks": "tonearm.analyzers.landmarks:LandmarkAnalyzer",
    # Weights the user supplies (--model-path NAME=PATH; the torch extra): see analyzers/external.py.
    "panns": "tonearm.analyzers.panns:PannsAnalyzer",
    "vggish": "tonearm.analyzers.vggish:VggishAnalyzer",
    "clap": "tonearm.analyzers.clap:ClapAnalyzer",
    "hf": "tonearm.analyzers.hf_audio:HfAudioAnalyzer",
}

# The analyzer each view uses unless the user picks another.
DEFAULT_VIEWS: dict[str, str] = {
    "sound": "fused", "melody": "melody", "words": "words", "fingerprint": "chromaprint", "landmarks": "landmarks",
}  # fmt: skip


def available() -> dict[str, str]:
    """Analyzer names mapped to their ``module:Class`` import path."""
    found = dict(_BUILTIN)
    for ep in entry_points(group="tonearm.analyzers"):
        found.setdefault(ep.name, ep.value)
    return found


@cache
def get_analyzer(name: str) -> Analyzer:
    """Instantiate (once per process) the analyzer registered under ``name``."""
    target = available().get(name)
    if target is None:
        raise TonearmError(f"unknown analyzer {name!r}; available: {', '.join(sorted(available()))}")
    module_name, _, cls_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError) as exc:
        raise TonearmError(f"analyzer {name!r} could not be loaded: {exc}") from exc
    analyzer = cls()
    if not isinstance(analyzer, Analyzer):
        raise TonearmError(f"{target} is not a tonearm Analyzer")
    return analyzer


def parse_views(spec: str | None, configured: dict[str, str] | None = None) -> dict[str, str]:
    """Parse ``"sound=dsp,melody=pitch"`` into a view→analyzer map.

    Layers, last wins: the defaults, the views the library was configured with (so a plain
    ``tonearm index`` keeps a library's choices), then ``spec``.
    """
    views = dict(DEFAULT_VIEWS)
    views.update({v: n for v, n in (configured or {}).items() if n in available()})
    if not spec:
        return views
    for part in spec.split(","):
        view, sep, name = part.strip().partition("=")
        if not sep or not view or not name:
            raise TonearmError(f"bad --views entry {part!r}; expected VIEW=ANALYZER, e.g. sound=dsp")
        analyzer = get_analyzer(name.strip())
        if analyzer.view != view.strip():
            raise TonearmError(f"analyzer {name!r} produces the {analyzer.view!r} view, not {view!r}")
        views[view.strip()] = name.strip()
    return views


__all__ = ["DEFAULT_VIEWS", "Analysis", "Analyzer", "TrackContext", "available", "get_analyzer", "parse_views"]
