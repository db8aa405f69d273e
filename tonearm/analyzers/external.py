"""Analyzers for model weights the user supplies: where the file is, and what it is.

No registry package ships PANNs, CLAP, VGGish or wav2vec2 weights, and model hubs are out of
reach offline, so these analyzers never download anything: the user points tonearm at a file
or folder (``tonearm index --views sound=panns --model-path panns=~/models/Cnn14.pth``). The
path travels in the environment (``TONEARM_MODEL_PANNS``) so worker processes and Ray actors
see it, and is recorded in the library so later runs and queries analyse the same way.

The analyzer's key (recorded per row) includes a fingerprint of the weights' name, size and
modification time: pointing the view at another checkpoint re-analyses that view only.
"""

from __future__ import annotations

import hashlib
import json
import os
from abc import abstractmethod
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tonearm.analyzers.base import Analyzer
from tonearm.errors import TonearmError

META_KEY = "model_paths"
_ENV_PREFIX = "TONEARM_MODEL_"


def env_var(name: str) -> str:
    """The environment variable holding analyzer ``name``'s weights path."""
    return _ENV_PREFIX + name.upper()


def set_model_paths(paths: Mapping[str, str]) -> None:
    """Make ``{analyzer: path}`` visible to this process and the workers it starts."""
    for name, path in paths.items():
        os.environ[env_var(name)] = str(Path(path).expanduser().resolve())


def use_library_paths(store: Any) -> None:
    """Adopt the paths a library was indexed with, unless this process was given others."""
    for name, path in (store.get_meta(META_KEY) or {}).items():
        os.environ.setdefault(env_var(name), path)


def parse_model_paths(specs: list[str], external: list[str]) -> dict[str, str]:
    """``["panns=/p.pth"]`` (or a bare path when exactly one external analyzer is in use) → map."""
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            if len(external) != 1:
                raise TonearmError(
                    "--model-path needs NAME=PATH (e.g. panns=~/Cnn14.pth) unless exactly one of "
                    f"the chosen analyzers takes a model path (chosen: {', '.join(external) or 'none'})"
                )
            name, path = external[0], spec
        if not path:
            raise TonearmError(f"--model-path {spec!r}: empty path")
        out[name.strip()] = path
    return out


@cache
def import_torch() -> Any:
    """torch (threads set once per process), or an error naming the extra that installs it."""
    try:
        import torch
    except ImportError as exc:
        raise TonearmError(
            "this analyzer runs on torch, which the core install leaves out: pip install 'tonearm[torch]'"
        ) from exc
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    return torch


class ExternalModelAnalyzer(Analyzer):
    """Base for analyzers whose weights come from ``--model-path``; subclasses load and run them."""

    # What the user should point at, for error messages ("a PANNs CNN14 .pth checkpoint").
    expects: ClassVar[str]
    # True: the path is a folder (Hugging Face style); False: a single file.
    is_folder: ClassVar[bool] = False

    def __init__(self) -> None:
        self._loaded: dict[str, Any] = {}
        self._keys: dict[str, str] = {}
        self._configs: dict[str, dict[str, Any]] = {}

    # -- where the weights are ---------------------------------------------------------------
    def model_path(self) -> Path:
        """The configured weights, checked to exist (errors name the option and the file)."""
        raw = os.environ.get(env_var(self.name))
        if not raw:
            raise TonearmError(
                f"analyzer {self.name!r} needs weights you supply ({self.expects}): "
                f"tonearm index --views {self.view}={self.name} --model-path {self.name}=PATH"
            )
        path = Path(raw)
        if not path.exists():
            raise TonearmError(f"{self.name} weights not found: {path} is missing ({self.expects})")
        if self.is_folder and not path.is_dir():
            raise TonearmError(f"{self.name} weights: {path} should be a folder ({self.expects})")
        if not self.is_folder and not path.is_file():
            raise TonearmError(f"{self.name} weights: {path} should be a file ({self.expects})")
        return path

    def model(self) -> Any:
        """The loaded model for the configured path (loaded once per process and path)."""
        path = self.model_path()
        key = str(path)
        if key not in self._loaded:
            self._loaded[key] = self.load(path)
        return self._loaded[key]

    @abstractmethod
    def load(self, path: Path) -> Any:
        """Read the weights at ``path``; raise TonearmError naming what is wrong with them."""

    # -- identity ----------------------------------------------------------------------------
    @property
    def key(self) -> str:
        path = self.model_path()
        if str(path) not in self._keys:  # asked once per row when an index run plans: stat the files once
            self._keys[str(path)] = self._fingerprint(path)
        return self._keys[str(path)]

    def _fingerprint(self, path: Path) -> str:
        parts = [path.name]
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            st = f.stat()
            parts.append(f"{f.relative_to(path) if path.is_dir() else f.name}:{st.st_size}:{int(st.st_mtime)}")
        digest = hashlib.sha1("|".join(parts).encode()).hexdigest()[:10]
        return f"{self.name}@{self.version}:{digest}"

    def ensure_ready(self) -> None:
        self.model()

    def folder_config(self) -> dict[str, Any]:
        """The model folder's ``config.json`` (read once per path: ``dim`` is asked for every track)."""
        path = self.model_path() / "config.json"
        if str(path) not in self._configs:
            try:
                self._configs[str(path)] = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise TonearmError(f"{path} is missing or unreadable ({self.expects}): {exc}") from exc
        return self._configs[str(path)]

    def load_state_into(self, path: Path, net: Any, what: str) -> Any:
        """Read a torch checkpoint into ``net`` (eval mode); every weight must be there with its shape.

        Accepts a bare state dict or the ``{"model": state_dict, ...}`` wrapper training scripts write;
        extra entries (a stored front end, optimiser state) are ignored.
        """
        torch = import_torch()
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise TonearmError(f"{path} is not a readable torch checkpoint ({self.expects}): {exc}") from exc
        if isinstance(state, dict) and isinstance(state.get("model"), dict):
            state = state["model"]
        wanted = net.state_dict()
        bad = [k for k in wanted if k not in state or tuple(state[k].shape) != tuple(wanted[k].shape)]
        if bad:
            raise TonearmError(
                f"{path} is not a {what} ({len(bad)} of {len(wanted)} weights missing or misshapen, e.g. {bad[0]!r})"
            )
        net.load_state_dict({k: state[k] for k in wanted})
        return net.eval()

    @staticmethod
    def finite(vector: np.ndarray) -> np.ndarray:
        """float32, with NaN/inf from a degenerate input turned into zeros (the row is still valid)."""
        return np.nan_to_num(np.asarray(vector, np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def chunks(y: np.ndarray, sr: int, seconds: float, min_seconds: float = 1.0) -> list[np.ndarray]:
    """Split a window into model-sized pieces; a short tail is dropped unless it is all there is."""
    size = int(seconds * sr)
    pieces = [y[i : i + size] for i in range(0, max(len(y), 1), size)]
    kept = [p for p in pieces if len(p) >= min_seconds * sr]
    return kept or [y]
