"""Analyzers for weights the user supplies: PANNs CNN14, VGGish, CLAP, Hugging Face audio encoders.

Without torch (CI: ``make test`` installs neither torch nor TensorFlow) the tests check what a
user sees when something is missing: the option to use, the file that is absent, the extra to
install, and that a failed run leaves the library as it was. Where torch and transformers are
installed, each analyzer runs end to end (CLI index, similar, text-to-audio for CLAP) on a
checkpoint written in the published layout with random weights; the layer names and shapes are
checked against the published checkpoints' (listed here from the models' documentation).
Set ``TONEARM_TEST_WEIGHTS`` to a folder holding real weights (``Cnn14_mAP=0.431.pth``,
``vggish-10086976.pth``, ``clap-htsat-unfused/``, ``wav2vec2-base/``) to run them on those too.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import run_cli, serve_library, synth, write_audio

from tonearm.errors import TonearmError

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_TRANSFORMERS = HAS_TORCH and importlib.util.find_spec("transformers") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed (the tonearm[torch] extra)")
needs_transformers = pytest.mark.skipif(not HAS_TRANSFORMERS, reason="torch + transformers not installed")
REAL = Path(os.environ.get("TONEARM_TEST_WEIGHTS", "/nonexistent"))
FAST_VIEWS = "melody=melody,words=words,fingerprint=chromaprint"


@pytest.fixture(scope="module")
def small_music(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ext-music")
    for i, kind in enumerate(("tonal", "tonal", "percussive", "noise")):
        write_audio(root / f"{kind}_{i}.flac", synth(kind, 4.0, seed=i, f0=200 + 30 * i))
    return root


def _index(music: Path, lib: Path, view: str, *paths: str) -> object:
    args = ["index", str(music), "--library", str(lib), "--views", f"sound={view},{FAST_VIEWS}", "--workers", "1"]
    for p in paths:
        args += ["--model-path", p]
    return run_cli(*args)


# ---- what a user sees when something is missing (runs everywhere) ---------------------------
@pytest.mark.parametrize("name", ["panns", "vggish", "clap", "hf"])
def test_no_model_path_names_the_option(small_music, tmp_path, name):
    res = _index(small_music, tmp_path / "lib", name)
    assert res.returncode != 0
    assert f"--model-path {name}=PATH" in res.stderr + res.stdout


@pytest.mark.parametrize(("name", "missing"), [("panns", "Cnn14.pth"), ("vggish", "vggish.pth"), ("clap", "clap-dir")])
def test_missing_weights_name_the_file(small_music, tmp_path, name, missing):
    res = _index(small_music, tmp_path / "lib", name, f"{name}={tmp_path / missing}")
    assert res.returncode != 0
    out = res.stderr + res.stdout
    assert "not found" in out and missing in out


@pytest.mark.skipif(HAS_TORCH, reason="checks the message shown when torch is absent")
def test_without_torch_the_extra_is_named(small_music, tmp_path):
    ckpt = tmp_path / "Cnn14.pth"
    ckpt.write_bytes(b"not really")
    res = _index(small_music, tmp_path / "lib", "panns", f"panns={ckpt}")
    assert res.returncode != 0
    assert "tonearm[torch]" in res.stderr + res.stdout


def test_failed_model_run_keeps_the_library(small_music, tmp_path):
    lib = tmp_path / "lib"
    assert _index(small_music, lib, "dsp").returncode == 0
    before = json.loads(run_cli("stats", "--library", str(lib), "--json").stdout)
    res = _index(small_music, lib, "panns", f"panns={tmp_path / 'absent.pth'}")
    assert res.returncode != 0
    after = json.loads(run_cli("stats", "--library", str(lib), "--json").stdout)
    assert after == before
    sim = run_cli("similar", str(small_music / "tonal_0.flac"), "--library", str(lib), "--json")
    assert sim.returncode == 0 and json.loads(sim.stdout)["results"]


def test_model_path_parsing():
    from tonearm.analyzers.external import parse_model_paths

    assert parse_model_paths(["panns=/a.pth", "clap=/b"], ["panns", "clap"]) == {"panns": "/a.pth", "clap": "/b"}
    assert parse_model_paths(["/a.pth"], ["panns"]) == {"panns": "/a.pth"}
    with pytest.raises(TonearmError, match="NAME=PATH"):
        parse_model_paths(["/a.pth"], ["panns", "clap"])
    with pytest.raises(TonearmError, match="empty path"):
        parse_model_paths(["panns="], ["panns"])


def test_audio_search_needs_a_clap_view(small_music, tmp_path):
    lib = tmp_path / "lib"
    assert _index(small_music, lib, "dsp").returncode == 0
    res = run_cli("search", "rain on a roof", "--mode", "audio", "--library", str(lib))
    assert res.returncode != 0 and "--views sound=clap" in res.stderr + res.stdout
    proc, base = serve_library(lib, small_music)
    try:
        r = httpx.get(f"{base}/api/search", params={"q": "rain on a roof", "mode": "audio"}, timeout=30)
        assert r.status_code == 400 and "--views sound=clap" in r.text
        auto = httpx.get(f"{base}/api/search", params={"q": "calm piano"}, timeout=30).json()
        assert "audio" not in auto["query"]["modes"]  # no CLAP view: the mode is simply not fused
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_vggish_front_end():
    """The mel bands sit where their centre frequencies say; examples are 0.96 s of 96 frames."""
    from tonearm.analyzers import vggish

    mel = vggish.mel_matrix()
    assert mel.shape == (257, 64) and not mel[0].any()
    centres_hz = 700 * (np.exp(np.linspace(vggish._hz_to_mel(125.0), vggish._hz_to_mel(7500.0), 66)[1:-1] / 1127) - 1)
    t = np.arange(2 * vggish.SR) / vggish.SR
    for band in (5, 30, 60):
        ex = vggish.examples(np.sin(2 * np.pi * centres_hz[band] * t).astype(np.float32))
        assert ex.shape == (2, 96, 64)
        assert abs(int(np.argmax(ex[0].mean(axis=0))) - band) <= 1
    assert vggish.examples(np.zeros(100, np.float32)).shape == (1, 96, 64)


def test_panns_front_end():
    from tonearm.analyzers import panns

    t = np.arange(panns.SR) / panns.SR
    spec = panns.log_mel(np.sin(2 * np.pi * 1000 * t).astype(np.float32))
    assert spec.shape == (101, 64)  # centred frames every 10 ms
    import librosa

    centres = librosa.mel_frequencies(n_mels=66, fmin=50.0, fmax=14000.0)[1:-1]  # Slaney mel scale
    assert abs(centres[int(np.argmax(spec.mean(axis=0)))] - 1000) < 60


# ---- end to end on published layouts (torch where installed) --------------------------------
def _state_shapes(net) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


@needs_torch
def test_panns_layout_and_run(small_music, tmp_path):
    import torch

    from tonearm.analyzers.panns import build_cnn14

    shapes = _state_shapes(build_cnn14(torch))
    published = {
        "bn0.weight": (64,),
        "conv_block1.conv1.weight": (64, 1, 3, 3),
        "conv_block1.bn1.running_var": (64,),
        "conv_block4.conv2.weight": (512, 512, 3, 3),
        "conv_block6.conv2.weight": (2048, 2048, 3, 3),
        "fc1.weight": (2048, 2048),
        "fc_audioset.weight": (527, 2048),
    }
    assert {k: shapes[k] for k in published} == published
    torch.manual_seed(0)
    net = build_cnn14(torch)
    state = dict(net.state_dict())
    state["logmel_extractor.melW"] = torch.zeros(513, 64)  # the published file holds its front end too
    ckpt = tmp_path / "Cnn14_random.pth"
    torch.save({"model": state, "iteration": 0}, ckpt)
    lib = tmp_path / "lib"
    _run_view(small_music, lib, "panns", ckpt, 2048)

    def reindex(weights: Path) -> dict:
        args = ["index", str(small_music), "--library", str(lib), "--json", "--model-path", f"panns={weights}"]
        res = run_cli(*args)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    assert reindex(ckpt)["unchanged"] == 4  # same weights: nothing to do
    torch.manual_seed(1)
    other = tmp_path / "Cnn14_other.pth"
    torch.save({"model": build_cnn14(torch).state_dict()}, other)
    before = {r["id"]: r for r in json.loads(run_cli("tracks", "--library", str(lib), "--json").stdout)}
    assert reindex(other)["updated"] == 4  # other weights: the sound view is analysed again
    rows = json.loads(run_cli("tracks", "--library", str(lib), "--json").stdout)
    assert {r["id"] for r in rows} == set(before)

    bad = tmp_path / "wrong.pth"
    torch.save({"model": {"fc1.weight": torch.zeros(3, 3)}}, bad)
    res = _index(small_music, tmp_path / "lib2", "panns", f"panns={bad}")
    assert res.returncode != 0 and "not a CNN14 checkpoint" in res.stderr + res.stdout


@needs_torch
def test_vggish_layout_and_run(small_music, tmp_path):
    import torch

    from tonearm.analyzers.vggish import build_vggish

    shapes = _state_shapes(build_vggish(torch))
    assert shapes == {
        "features.0.weight": (64, 1, 3, 3), "features.0.bias": (64,),
        "features.3.weight": (128, 64, 3, 3), "features.3.bias": (128,),
        "features.6.weight": (256, 128, 3, 3), "features.6.bias": (256,),
        "features.8.weight": (256, 256, 3, 3), "features.8.bias": (256,),
        "features.11.weight": (512, 256, 3, 3), "features.11.bias": (512,),
        "features.13.weight": (512, 512, 3, 3), "features.13.bias": (512,),
        "embeddings.0.weight": (4096, 12288), "embeddings.0.bias": (4096,),
        "embeddings.2.weight": (4096, 4096), "embeddings.2.bias": (4096,),
        "embeddings.4.weight": (128, 4096), "embeddings.4.bias": (128,),
    }  # fmt: skip
    torch.manual_seed(0)
    folder = tmp_path / "vggish"
    folder.mkdir()
    torch.save(build_vggish(torch).state_dict(), folder / "vggish-random.pth")
    rng = np.random.default_rng(0)
    np.savez(folder / "vggish_pca_params.npz", pca_eigen_vectors=rng.standard_normal((128, 128)),
             pca_means=rng.standard_normal((128, 1)))  # fmt: skip
    _run_view(small_music, tmp_path / "lib", "vggish", folder / "vggish-random.pth", 128)


def _tiny_wav2vec2(folder: Path) -> None:
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(0)
    cfg = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2), num_conv_pos_embeddings=16,
                         num_conv_pos_embedding_groups=2)  # fmt: skip
    Wav2Vec2Model(cfg).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(folder)


@needs_transformers
def test_hf_audio_folder(small_music, tmp_path):
    folder = tmp_path / "w2v"
    _tiny_wav2vec2(folder)
    _run_view(small_music, tmp_path / "lib", "hf", folder, 32)
    (folder / "preprocessor_config.json").unlink()
    res = _index(small_music, tmp_path / "lib2", "hf", f"hf={folder}")
    assert res.returncode != 0 and "preprocessor_config.json is missing" in res.stderr + res.stdout


def _tiny_clap(folder: Path) -> None:
    import torch
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        ClapTextConfig,
        RobertaTokenizer,
    )  # fmt: skip

    folder.mkdir(parents=True)
    words = ["rain", "on", "a", "roof", "piano", "noise", "drums", "tone"]
    vocab = {t: i for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>", "<mask>", *words, *("Ġ" + w for w in words)])}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    torch.manual_seed(0)
    text = ClapTextConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=80, projection_dim=16)  # fmt: skip
    audio = ClapAudioConfig(depths=[1, 1], num_attention_heads=[2, 2], patch_embeds_hidden_size=16, hidden_size=32,
                            enable_fusion=False, projection_dim=16)  # fmt: skip
    ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=16)).save_pretrained(
        folder
    )
    ClapProcessor(feature_extractor=ClapFeatureExtractor(), tokenizer=tokenizer).save_pretrained(folder)


@needs_transformers
def test_clap_audio_and_text(small_music, tmp_path):
    folder = tmp_path / "clap"
    _tiny_clap(folder)
    lib = tmp_path / "lib"
    _run_view(small_music, lib, "clap", folder, 16)
    res = run_cli("search", "rain on a roof", "--mode", "audio", "--library", str(lib), "--json", "-k", "3")
    assert res.returncode == 0, res.stderr
    payload = json.loads(res.stdout)
    assert len(payload["results"]) == 3 and payload["query"]["mode"] == "audio"
    auto = json.loads(run_cli("search", "rain on a roof", "--library", str(lib), "--json").stdout)
    assert "audio" in auto["query"]["modes"]
    # The text tower's vector is the one the sound view is searched with: same ranking in-process.
    from tonearm.analyzers import external, get_analyzer
    from tonearm.store import open_store

    store = open_store(str(lib), create=False)
    external.use_library_paths(store)
    vec = get_analyzer("clap").embed_text(["rain on a roof"])[0]
    direct = [h.row["id"] for h in store.knn("sound", vec, 3)]
    assert [r["id"] for r in payload["results"]] == direct


def _run_view(music: Path, lib: Path, name: str, weights: Path, dim: int) -> None:
    """Index with the analyzer, then query by file without repeating the path (the library remembers it)."""
    res = _index(music, lib, name, f"{name}={weights}")
    assert res.returncode == 0, res.stderr + res.stdout
    info = json.loads(run_cli("stats", "--library", str(lib), "--json").stdout)
    assert info["views"]["sound"] == dim and info["analyzers"]["sound"] == name, info
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONEARM_MODEL_")}
    query = music / "tonal_0.flac"
    rows = json.loads(run_cli("tracks", "--library", str(lib), "--json").stdout)
    track_id = next(r["id"] for r in rows if r["path"].endswith("tonal_0.flac"))
    by_file = run_cli("similar", str(query), "--library", str(lib), "--json", env=env)
    assert by_file.returncode == 0, by_file.stderr
    by_id = json.loads(run_cli("similar", track_id, "--library", str(lib), "--json", env=env).stdout)["results"]
    by_file = json.loads(by_file.stdout)["results"]
    assert len(by_file) == 3 and all(np.isfinite(r["score"]) for r in by_file)
    # The outside file is analysed exactly as the library analysed the same bytes.
    assert [r["id"] for r in by_file] == [r["id"] for r in by_id]
    assert np.allclose([r["score"] for r in by_file], [r["score"] for r in by_id], atol=1e-4)


# ---- real weights, where the user has them -----------------------------------------------------
REAL_FILES = {
    "panns": ("Cnn14_mAP=0.431.pth", 2048),
    "vggish": ("vggish-10086976.pth", 128),
    "clap": ("clap-htsat-unfused", 512),
    "hf": ("wav2vec2-base", 768),
}


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_real_weights(small_music, tmp_path, name):
    path = REAL / REAL_FILES[name][0]
    if not HAS_TORCH or not path.exists():
        pytest.skip(f"real {name} weights not present ({path}); set TONEARM_TEST_WEIGHTS to a folder holding them")
    _run_view(small_music, tmp_path / "lib", name, path, REAL_FILES[name][1])
