"""Generate the parity references for the numpy ports of musicnn and aiSFX.

Run ONCE in a throwaway environment that has the original frameworks (never in tonearm's):

    python3 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install tensorflow-cpu tf-keras librosa==0.11.0 soundfile tqdm torch==2.13.0
    /tmp/refenv/bin/pip install --no-deps musicnn==0.1.0 aisfx==0.1.2
    TF_USE_LEGACY_KERAS=1 /tmp/refenv/bin/python tests/parity/make_references.py

It writes ``tests/parity/references.npz`` (a few hundred KB). The clips are the deterministic
signals of ``clips()``, one of them loud enough that the original musicnn extractor's float16
cast overflows; like tonearm, this script keeps the spectrogram in float32 (the fix), so the
comparison is of the networks, not of that bug.
"""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np


def clips(sr: int) -> dict[str, np.ndarray]:
    """Deterministic 7-second test signals at ``sr`` (shared with the parity test)."""
    t = np.arange(int(7.0 * sr)) / sr
    rng = np.random.default_rng(1234)
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    drums = rng.standard_normal(t.size) * np.exp(-((t % 0.5) * 25))
    sweep = np.sin(2 * np.pi * (200 + 300 * t) * t)
    return {
        "chord": (0.5 * chord).astype(np.float32),
        "drums": (0.5 * drums / np.abs(drums).max()).astype(np.float32),
        "loud_mix": np.clip(40.0 * (chord + 0.3 * drums + 0.2 * sweep), -30, 30).astype(np.float32),
    }


def musicnn_patches(y: np.ndarray) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=y, sr=16000, hop_length=256, n_fft=512, n_mels=96).T
    mel = np.log10(10000 * mel.astype(np.float32) + 1)  # float32: the overflow fix
    return np.stack([mel[s : s + 187] for s in range(0, mel.shape[0] - 187 + 1, 187)])


def aisfx_blocks(y: np.ndarray) -> np.ndarray:
    y = y / np.max(np.abs(y))
    mel = librosa.feature.melspectrogram(y=y, sr=44100, n_mels=96, norm=1.0, fmin=0.0, fmax=22050.0, htk=True,
                                         power=2.0, hop_length=1024, win_length=2048)  # fmt: skip
    spec = (np.log10(mel * 10000.0 + 1) / 9.457798957824707).T  # time first (the wheel forgets the .T)
    return np.stack([spec[s : s + 100] for s in range(0, spec.shape[0] - 100 + 1, 50)]).astype(np.float32)


def musicnn_reference(model: str, batch: np.ndarray) -> dict[str, np.ndarray]:
    import os

    import tensorflow as tf
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, 187, 96])
        is_training = tf.compat.v1.placeholder(tf.bool)
        y, _t, _tm, _c1, _c2, _c3, mean_pool, max_pool, penultimate = models.define_model(x, is_training, model, 50)
        tags = tf.nn.sigmoid(y)
    with tf.compat.v1.Session() as sess:
        import musicnn

        tf.compat.v1.train.Saver().restore(sess, os.path.dirname(musicnn.__file__) + f"/{model}/")
        out = sess.run([tags, penultimate, mean_pool, max_pool], feed_dict={x: batch, is_training: False})
    return dict(zip(("taggram", "penultimate", "mean_pool", "max_pool"), out, strict=True))


def aisfx_reference(batch: np.ndarray) -> np.ndarray:
    import torch
    from aisfx.inference import get_path_modelWeights, load_bestModel

    # The wheel's own load_weights() fails on torch >= 2.6 (weights_only default); this is a
    # one-off script in a throwaway environment, loading the authors' file, so allow pickle.
    weights, ds = torch.load(get_path_modelWeights(), map_location="cpu", weights_only=False)
    model = load_bestModel(weights, ds, "cpu")
    with torch.no_grad():
        return model.get_embedding(torch.from_numpy(batch)).numpy()


def main() -> None:
    out: dict[str, np.ndarray] = {}
    for name, y in clips(16000).items():
        batch = musicnn_patches(y)
        for model in ("MSD_musicnn", "MTT_musicnn"):
            for key, val in musicnn_reference(model, batch).items():
                out[f"musicnn/{model}/{name}/{key}"] = np.asarray(val, np.float32)
    for name, y in clips(44100).items():
        out[f"aisfx/{name}/embedding"] = aisfx_reference(aisfx_blocks(y))
    np.savez_compressed(Path(__file__).with_name("references.npz"), **out)
    print(f"wrote {len(out)} reference arrays")


if __name__ == "__main__":
    main()
