"""musicnn (Pons & Serra) without TensorFlow: music-trained embeddings and 50 tags.

The weights are the TensorFlow-1 checkpoints shipped in the ``musicnn==0.1.0`` wheel (ISC;
``pip install --no-deps musicnn==0.1.0``); they are read with our own checkpoint reader and the
network is rebuilt layer by layer as an onnxruntime graph (``tests/test_model_parity.py`` checks
it against TensorFlow's outputs). One deliberate difference from the original extractor: the mel
spectrogram stays float32 — the original casts it to float16, which overflows to ``inf`` on
loud input and makes every loud clip look the same.

Architecture (MSD_musicnn / MTT_musicnn): batch-normalised log-mel input (187 frames x 96
bands, 3 s at 16 kHz) -> front-end of two timbral convolutions (7x38, 7x67; 204 filters) and
three temporal ones (128x1, 64x1, 32x1; 51 filters), each max-pooled over frequency -> mid-end
of three 7-frame convolutions (64 filters) with residual connections -> back-end: max and mean
over time, dense 200 ("penultimate", the embedding) and dense 50 + sigmoid (tag probabilities).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import librosa
import numpy as np

from tonearm.analyzers.base import Analysis, Analyzer
from tonearm.audio import spectrum
from tonearm.audio.segments import DecodedAudio
from tonearm.errors import TonearmError

SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
N_FRAMES = 187  # 3 s patches, as trained
_BN_EPS = 1e-3
_CHANNEL_BLOCK = 16  # onnxruntime's NCHWc block with AVX-512 (8 with AVX2: 16 suits both)

MSD_LABELS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
    "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
    "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient",
    "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening",
    "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad",
    "House", "happy",
)  # fmt: skip
MTT_LABELS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano", "ambient",
    "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals", "no vocals",
    "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man",
    "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello",
    "no voice", "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip


def weights_dir(model: str = "MSD_musicnn") -> Path:
    """Folder of a musicnn checkpoint inside the installed ``musicnn`` wheel (never imported)."""
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise TonearmError(
            "the musicnn weights are not installed: pip install --no-deps musicnn==0.1.0 "
            "(tonearm reads the checkpoint itself; TensorFlow is not needed)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / model
    if not (folder / ".index").is_file():
        raise TonearmError(f"musicnn checkpoint {model} missing from {folder.parent}")
    return folder


@cache
def _mel_basis() -> np.ndarray:
    return librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS)


def log_mel(y: np.ndarray) -> np.ndarray:
    """(frames, 96) log-compressed mel spectrogram at 16 kHz, float32 throughout."""
    mel = (_mel_basis() @ spectrum.power(y, N_FFT, HOP)).T
    return np.log10(10000.0 * mel.astype(np.float32) + 1.0).astype(np.float32)


def patches(mel: np.ndarray, hop: int = N_FRAMES) -> np.ndarray:
    """Cut (frames, 96) into (n, 187, 96) patches; a short input is repeat-padded to one patch."""
    if mel.shape[0] < N_FRAMES:
        reps = int(np.ceil(N_FRAMES / max(1, mel.shape[0])))
        mel = np.tile(mel, (reps, 1))[:N_FRAMES] if mel.shape[0] else np.zeros((N_FRAMES, N_MELS), np.float32)
    starts = range(0, mel.shape[0] - N_FRAMES + 1, hop)
    return np.stack([mel[s : s + N_FRAMES] for s in starts])


class MusicnnNet:
    """The forward pass of a musicnn checkpoint (inference mode), as an onnxruntime graph."""

    def __init__(self, model: str = "MSD_musicnn") -> None:
        from tonearm.analyzers.weights import tf_checkpoint
        from tonearm.analyzers.weights.onnx_graph import cached_session

        self.model = model
        self.labels = MSD_LABELS if model.startswith("MSD") else MTT_LABELS
        sources = (Path(__file__), Path(tf_checkpoint.__file__))
        self._session = cached_session(model, weights_dir(model), sources, lambda: build_graph(model))
        self._outputs = [o.name for o in self._session.get_outputs()]  # taggram, penultimate, mean_pool, max_pool

    def forward(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """(B, 187, 96) log-mel patches -> taggram (B, 50), penultimate (B, 200), pools (B, 753)."""
        values = self._session.run(self._outputs, {"patches": np.ascontiguousarray(batch, dtype=np.float32)})
        return dict(zip(self._outputs, values, strict=True))


def build_graph(model: str) -> bytes:
    """A musicnn checkpoint's forward pass (inference mode) as a serialized ONNX graph."""
    from tonearm.analyzers.weights.onnx_graph import GraphBuilder
    from tonearm.analyzers.weights.tf_checkpoint import read_checkpoint

    w = read_checkpoint(str(weights_dir(model)) + "/")
    g = GraphBuilder(model)

    def suffix(i: int) -> str:
        return "" if i == 0 else f"_{i}"

    def scale_shift(i: int) -> tuple[np.ndarray, np.ndarray]:
        """Inference batch norm ``i`` as a scale and a shift."""
        name = "batch_normalization" + suffix(i)
        scale = w[f"{name}/gamma"] / np.sqrt(w[f"{name}/moving_variance"] + _BN_EPS)
        return scale, w[f"{name}/beta"] - w[f"{name}/moving_mean"] * scale

    def bn(x: str, i: int, shape: tuple[int, ...]) -> str:
        scale, shift = scale_shift(i)
        return g.op("Add", g.op("Mul", x, g.const(scale.reshape(shape))), g.const(shift.reshape(shape)))

    def conv_bn_max_over_freq(x: str, i: int, pads: list[int]) -> str:
        """max_f BN(ReLU(conv_i(x))) of (B, 1, T, 96) -> (B, C, T), never materialising the max input.

        Batch norm is monotonic per channel: the max of the normalised values is the normalised
        max where the scale is positive, the normalised min where it is not; and ReLU commutes
        with both (min_f ReLU(c) = ReLU(-max_f(-c))). So the positive-scale filters run as
        Conv + ReLU + a (1 x F) MaxPool, the others with negated weights and bias as Conv + MaxPool,
        then ReLU(-m): the same numbers, and onnxruntime keeps each convolution and its pooling in
        its channel-blocked layout, so the largest tensors of the network (filters x frames x
        bands) are neither reordered nor reduced in a second pass (a quarter of the time).
        """
        scale, shift = scale_shift(i + 1)
        kernel, bias = kernel_of(i).transpose(3, 2, 0, 1), w["conv2d" + suffix(i) + "/bias"]
        bands = N_MELS - kernel.shape[3] + 1
        pooled, order = [], []
        for sign in (1.0, -1.0):
            chosen = np.flatnonzero((scale > 0) if sign > 0 else ~(scale > 0))
            if not chosen.size:
                continue
            # zero filters up to a multiple of 16 channels, or the pooling leaves the blocked layout
            spare = -chosen.size % _CHANNEL_BLOCK
            k = np.concatenate([sign * kernel[chosen], np.zeros((spare, *kernel.shape[1:]), kernel.dtype)])
            b = np.concatenate([sign * bias[chosen], np.zeros(spare, bias.dtype)])
            y = g.op("Conv", x, g.const(k), g.const(b), pads=pads)
            y = g.op("Relu", y) if sign > 0 else y
            y = g.op("MaxPool", y, kernel_shape=[1, bands], strides=[1, bands])
            pooled.append(g.op("Relu", g.op("Neg", y)) if sign < 0 else y)
            order.extend(chosen)
            order.extend([-1] * spare)
        kept = g.op("Squeeze", g.op("Concat", *pooled, axis=1) if len(pooled) > 1 else pooled[0], g.ints([3]))
        position = {int(filt): at for at, filt in enumerate(order) if filt >= 0}
        kept = g.op("Gather", kept, g.ints([position[f] for f in range(len(scale))]), axis=1)  # checkpoint order
        return g.op("Add", g.op("Mul", kept, g.const(scale.reshape(1, -1, 1))), g.const(shift.reshape(1, -1, 1)))

    def kernel_of(i: int) -> np.ndarray:
        return w["conv2d" + suffix(i) + "/kernel"]  # time x freq x in x out

    def conv(x: str, i: int, pads: list[int]) -> str:
        """TensorFlow conv ``i`` as an ONNX Conv, then ReLU."""
        kernel, bias = kernel_of(i), w["conv2d" + suffix(i) + "/bias"]
        return g.op("Relu", g.op("Conv", x, g.const(kernel.transpose(3, 2, 0, 1)), g.const(bias), pads=pads))

    x = g.op("Unsqueeze", bn("patches", 0, (1, 1, 1)), g.ints([1]))  # (B, 1, 187 frames, 96 bands)
    front = []
    for i in range(5):
        kt = kernel_of(i).shape[0]
        # timbral (7 frames, padded 3+3) and temporal ("same" in time, as TensorFlow pads) filters,
        # each followed by batch norm and a max over all frequencies -> (B, filters, T)
        pads = [3, 0, 3, 0] if i < 2 else [(kt - 1) // 2, 0, kt // 2, 0]
        front.append(conv_bn_max_over_freq(x, i, pads))
    front_out = g.op("Concat", *front, axis=1)  # (B, 561, T)
    mid = [front_out]
    for i, norm in ((5, 6), (6, 7), (7, 8)):
        # mid-end: 7-frame convolutions spanning all channels, residual after the first
        # as TensorFlow sees it: a one-channel image (T x C) and a 7 x C kernel -> (B, 64, T, 1)
        y = g.op("Unsqueeze", g.op("Transpose", mid[-1], perm=[0, 2, 1]), g.ints([1]))
        y = g.op("Squeeze", bn(conv(y, i, [3, 0, 3, 0]), norm, (1, -1, 1, 1)), g.ints([3]))
        mid.append(y if i == 5 else g.op("Add", y, mid[-1]))
    feats = g.op("Concat", *mid, axis=1)  # (B, 753, T)
    max_pool = g.op("ReduceMax", feats, axes=[2], keepdims=1, out="max_pool_kept")
    mean_pool = g.op("ReduceMean", feats, axes=[2], keepdims=1, out="mean_pool_kept")
    flat = g.op("Reshape", g.op("Concat", max_pool, mean_pool, axis=2), g.ints([0, -1]))  # interleaved, as TF
    (k1, b1), (k2, b2) = (w["dense/kernel"], w["dense/bias"]), (w["dense_1/kernel"], w["dense_1/bias"])
    hidden = g.op("Relu", g.op("Add", g.op("MatMul", bn(flat, 9, (1, -1)), g.const(k1)), g.const(b1)))
    penultimate = bn(hidden, 10, (1, -1))
    g.op("Identity", penultimate, out="penultimate")
    g.op("Sigmoid", g.op("Add", g.op("MatMul", penultimate, g.const(k2)), g.const(b2)), out="taggram")
    g.op("Squeeze", max_pool, g.ints([2]), out="max_pool")
    g.op("Squeeze", mean_pool, g.ints([2]), out="mean_pool")
    outputs = {"taggram": [None, 50], "penultimate": [None, 200], "mean_pool": [None, 753], "max_pool": [None, 753]}
    return g.serialize({"patches": [None, N_FRAMES, N_MELS]}, outputs)


@cache
def load_net(model: str = "MSD_musicnn") -> MusicnnNet:
    return MusicnnNet(model)


def tag_field(label: str) -> str:
    """Column name of a tag probability: ``tag_female_vocalists``, ``tag_hip_hop``."""
    return "tag_" + "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")


TAG_FIELDS = tuple(dict.fromkeys(tag_field(label) for label in MSD_LABELS))
# MagnaTagATune tags the MSD model lacks: instruments (flute, violin, piano, harpsichord, choir,
# strings...), tempo and loudness (fast, slow, quiet, loud), voice (no vocals, male voice...).
MTT_ONLY = tuple(label for label in MTT_LABELS if tag_field(label) not in TAG_FIELDS)
MTT_TAG_FIELDS = tuple(dict.fromkeys(tag_field(label) for label in MTT_ONLY))
ALL_TAG_LABELS = MSD_LABELS + MTT_ONLY


def mel_patches(segments: list[np.ndarray]) -> np.ndarray:
    """The 3-s log-mel patches of 16 kHz segments, batched (shared by the MSD and MTT models)."""
    return np.concatenate([patches(log_mel(y)) for y in segments])


def embed(segments: list[np.ndarray], model: str = "MSD_musicnn", stride: int = 1) -> dict[str, np.ndarray]:
    """Per-patch outputs for 16 kHz segments (every ``stride``-th 3-s patch), batched together."""
    return load_net(model).forward(mel_patches(segments)[::stride])


class MusicnnAnalyzer(Analyzer):
    """musicnn (MSD) embedding, mean over 3-s patches; its 50 tag probabilities become ``tag_*`` fields."""

    name = "musicnn"
    version = 1
    view = "sound"
    dim = 200
    sample_rate = SR
    normalization = "standardize"
    extra_fields = TAG_FIELDS

    def ensure_ready(self) -> None:
        weights_dir("MSD_musicnn")

    def analyze(self, audio: DecodedAudio) -> Analysis:
        out = embed(audio.at(SR))
        return Analysis(out["penultimate"].mean(axis=0), tag_fields(out["taggram"]))


def tag_fields(taggram: np.ndarray, mtt_taggram: np.ndarray | None = None) -> dict[str, float]:
    """Mean tag probabilities over patches, rounded, keyed by column name (MSD, plus MTT-only tags if given)."""
    probs = taggram.mean(axis=0)
    out = {tag_field(label): round(float(p), 4) for label, p in zip(MSD_LABELS, probs, strict=True)}
    if mtt_taggram is not None:
        mtt = dict(zip(MTT_LABELS, mtt_taggram.mean(axis=0), strict=True))
        out.update({tag_field(label): round(float(mtt[label]), 4) for label in MTT_ONLY})
    return out
