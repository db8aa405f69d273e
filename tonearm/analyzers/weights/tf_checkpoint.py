"""Read TensorFlow 1.x checkpoints (``.index`` + ``.data-*``) without TensorFlow.

The ``.index`` file is a LevelDB-format table: data blocks of prefix-compressed key/value
entries, an index block pointing at them, and a 48-byte footer. Each key is a tensor name;
each value is a ``BundleEntryProto`` (dtype, shape, shard, offset, size) locating the raw
little-endian tensor bytes in a ``.data-NNNNN-of-NNNNN`` shard. The empty key holds the
bundle header. Only uncompressed tables (what TensorFlow writes) are supported.
"""

from __future__ import annotations

import glob
import struct
from pathlib import Path

import numpy as np

_MAGIC = 0xDB4775248B80FB57
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 10: np.bool_, 14: np.float16}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """Decode a protobuf message into (field number, wire type, value) triples."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
        elif wire == 1:
            val, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            val, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            val, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((num, wire, val))
    return out


def _block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    block = data[offset : offset + size]
    if data[offset + size] != 0:
        raise ValueError("compressed checkpoint index blocks are not supported")
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        vlen, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        entries.append((key, block[pos : pos + vlen]))
        pos += vlen
    return entries


def read_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """All tensors of the checkpoint at ``prefix`` (the path without ``.index``)."""
    prefix = str(prefix)
    index = Path(prefix + ".index").read_bytes()
    footer = index[-48:]
    if struct.unpack_from("<Q", footer, 40)[0] != _MAGIC:
        raise ValueError(f"{prefix}.index is not a TensorFlow checkpoint index")
    pos = 0
    _meta_off, pos = _varint(footer, pos)
    _meta_size, pos = _varint(footer, pos)
    idx_off, pos = _varint(footer, pos)
    idx_size, pos = _varint(footer, pos)
    shards: dict[int, bytes] = {}
    tensors: dict[str, np.ndarray] = {}
    for _, handle in _block(index, idx_off, idx_size):
        off, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        for key, value in _block(index, off, size):
            if not key:
                continue  # bundle header
            f = {num: val for num, _, val in _fields(value)}
            dtype = _DTYPES.get(int(f.get(1, 1)))
            if dtype is None:
                continue  # strings and other types are not weights
            shape = []
            if 2 in f:
                for num, _, dim in _fields(f[2]):
                    if num == 2:
                        shape.append(int(next((v for n, _, v in _fields(dim) if n == 1), 0)))
            shard = int(f.get(3, 0))
            if shard not in shards:
                n_shards = len(glob.glob(glob.escape(prefix) + ".data-*"))
                shards[shard] = Path(f"{prefix}.data-{shard:05d}-of-{n_shards:05d}").read_bytes()
            start, nbytes = int(f.get(4, 0)), int(f.get(5, 0))
            arr = np.frombuffer(shards[shard][start : start + nbytes], dtype=dtype)
            tensors[key.decode()] = arr.reshape(shape) if shape else arr.reshape(())
    return tensors
