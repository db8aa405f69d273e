"""Check tonearm's PANNs CNN14 and VGGish against the reference implementations (not run in CI).

The optional analyzers rebuild both networks; this compares them with the authors' PyTorch code
on random weights (with non-trivial batch-norm statistics) and a test signal. Needs torch and
the reference sources, fetched without their dependencies (they download weights at import or
need torchaudio, so they are only read, never installed):

    pip download --no-deps panns-inference==0.1.1 torchlibrosa==0.1.0 torchvggish==0.2 -d REF
    (unzip the wheels and untar torchvggish into REF)
    python tests/parity/external_parity.py REF

Last run (2026-11-21, torch 2.13.0 CPU): CNN14 embedding max abs diff 1.0e-06 (values up to
3.6); VGGish log-mel examples 1.2e-07, network 0.0 (compared after the port's final ReLU,
which tonearm leaves out as the TensorFlow original does).
"""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
import torch

from tonearm.analyzers import panns, vggish


def _module(name: str, path: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _signal(sr: int, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    noise = 0.05 * np.random.default_rng(0).standard_normal(t.size)
    return (0.3 * np.sin(2 * np.pi * 440 * t) + noise).astype(np.float32)


def check_panns(ref: str) -> float:
    pkg = types.ModuleType("panns_inference")
    pkg.__path__ = [f"{ref}/panns_inference"]  # skip its __init__, which fetches label files
    sys.modules["panns_inference"] = pkg
    sys.path.insert(0, ref)
    import panns_inference.models as reference

    torch.manual_seed(0)
    theirs = reference.Cnn14(panns.SR, panns.N_FFT, panns.HOP, panns.N_MELS, panns.FMIN, panns.FMAX, 527)
    for mod in theirs.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-1, 1)
            mod.running_var.uniform_(0.5, 2)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    ours = panns.build_cnn14(torch)
    ours.load_state_dict({k: v for k, v in theirs.state_dict().items() if k in ours.state_dict()})
    y = _signal(panns.SR, 5.0)
    with torch.no_grad():
        a = theirs.eval()(torch.from_numpy(y)[None])["embedding"][0].numpy()
        b = ours.eval()(torch.from_numpy(panns.log_mel(y))[None])[0].numpy()
    return float(np.abs(a - b).max())


def check_vggish(ref: str) -> tuple[float, float]:
    sys.modules["resampy"] = types.ModuleType("resampy")  # only used for resampling, not here
    sys.path.insert(0, f"{ref}/torchvggish-0.2")
    from torchvggish import mel_features
    from torchvggish import vggish_params as p

    port = _module("torchvggish_port", f"{ref}/torchvggish-0.2/torchvggish/torchvggish.py")
    y = _signal(vggish.SR, 3.0)
    logmel = mel_features.log_mel_spectrogram(
        y.astype(np.float64), audio_sample_rate=vggish.SR, log_offset=p.LOG_OFFSET,
        window_length_secs=p.STFT_WINDOW_LENGTH_SECONDS, hop_length_secs=p.STFT_HOP_LENGTH_SECONDS,
        num_mel_bins=p.NUM_MEL_BINS, lower_edge_hertz=p.MEL_MIN_HZ, upper_edge_hertz=p.MEL_MAX_HZ,
    )  # fmt: skip
    theirs_ex = mel_features.frame(logmel, window_length=96, hop_length=96)
    ours_ex = vggish.examples(y)
    torch.manual_seed(0)
    theirs = port.VGG(port.make_layers(), postprocess=False).eval()
    ours = vggish.build_vggish(torch)
    ours.load_state_dict({k: v for k, v in theirs.state_dict().items() if k in ours.state_dict()})
    x = torch.from_numpy(ours_ex)
    with torch.no_grad():
        a = theirs.features(x[:, None])
        a = theirs.embeddings(torch.transpose(torch.transpose(a, 1, 3), 1, 2).reshape(len(x), -1)).numpy()
        b = torch.relu(ours.eval()(x)).numpy()
    return float(np.abs(theirs_ex - ours_ex).max()), float(np.abs(a - b).max())


if __name__ == "__main__":
    ref_dir = sys.argv[1]
    print(f"CNN14 embedding max abs diff: {check_panns(ref_dir):.2e}")
    front, net = check_vggish(ref_dir)
    print(f"VGGish examples max abs diff: {front:.2e}; network: {net:.2e}")
