"""Streaming CSV, Parquet and Arrow answers: one long table (user_id, study, metric, t, v, imputed, min, max, count),
written chunk by chunk so a 100 M-point export runs in bounded memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["Chunk", "SCHEMA", "csv_stream", "arrow_stream", "parquet_stream", "MEDIA_TYPES"]

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}

_LABEL = pa.dictionary(pa.int32(), pa.string())
"""user_id/study/metric repeat on every row: dictionary-encoded they cost 4 bytes a row, not a string each."""

SCHEMA = pa.schema(
    [
        ("user_id", _LABEL),
        ("study", _LABEL),
        ("metric", _LABEL),
        ("t", pa.timestamp("us", tz="UTC")),
        ("v", pa.float64()),
        ("imputed", pa.bool_()),
        ("min", pa.float64()),
        ("max", pa.float64()),
        ("count", pa.int64()),
    ]
)


@dataclass
class Chunk:
    user_id: str
    study: str
    metric: str
    t: np.ndarray
    v: np.ndarray
    imputed: np.ndarray | None = None
    min: np.ndarray | None = None
    max: np.ndarray | None = None
    count: np.ndarray | None = None

    def to_batch(self) -> pa.RecordBatch:
        # Arrays are built from the numpy buffers directly: pa.array() would import pandas (~45 MB of
        # memory in the API process) to check whether it was handed a pandas object.
        n = self.t.size
        label = _label_indices(n)
        return pa.RecordBatch.from_arrays(
            [
                pa.DictionaryArray.from_arrays(label, _one_string(self.user_id)),
                pa.DictionaryArray.from_arrays(label, _one_string(self.study)),
                pa.DictionaryArray.from_arrays(label, _one_string(self.metric)),
                _numeric(pa.timestamp("us", tz="UTC"), self.t, np.int64),
                _numeric(pa.float64(), self.v, np.float64),
                _booleans(self.imputed if self.imputed is not None else np.zeros(n, bool)),
                _numeric(pa.float64(), self.min, np.float64)
                if self.min is not None
                else pa.nulls(n, pa.float64()),
                _numeric(pa.float64(), self.max, np.float64)
                if self.max is not None
                else pa.nulls(n, pa.float64()),
                _numeric(pa.int64(), self.count, np.int64)
                if self.count is not None
                else pa.nulls(n, pa.int64()),
            ],
            schema=SCHEMA,
        )


def _numeric(kind: pa.DataType, values: np.ndarray, dtype: type) -> pa.Array:
    data: np.ndarray = np.ascontiguousarray(values, dtype=dtype)
    return pa.Array.from_buffers(kind, data.size, [None, pa.py_buffer(data)])


def _booleans(values: np.ndarray) -> pa.Array:
    bits = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), values.size, [None, pa.py_buffer(bits)])


def _one_string(value: str) -> pa.Array:
    data = value.encode()
    offsets = np.array([0, len(data)], dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _label_indices(n: int) -> pa.Array:
    return pa.Array.from_buffers(pa.int32(), n, [None, pa.py_buffer(np.zeros(n, dtype=np.int32))])


def _fmt_floats(a: np.ndarray | None, n: int) -> list[str]:
    """'%.10g' of each value, '' for NaN and infinities. Whole numbers (most samples: heart rate, steps) are
    formatted in one vectorised cast, which gives the same digits; the rest one by one."""
    if a is None:
        return [""] * n
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(a) & (np.abs(a) < 1e10) & (a == np.trunc(a)) & ~((a == 0) & np.signbit(a))
    if whole.all():
        return a.astype(np.int64).astype(str).tolist()
    out = np.where(whole, a, 0).astype(np.int64).astype(str).astype(object)
    for i in np.flatnonzero(~whole).tolist():
        x = float(a[i])
        out[i] = format(x, ".10g") if np.isfinite(x) else ""
    return out.tolist()


def csv_stream(chunks: Iterable[Chunk]) -> Iterator[bytes]:
    """One line per point; the labels are the same for a whole chunk, so each line is one f-string."""
    yield b"user_id,study,metric,t,v,imputed,min,max,count\n"
    for c in chunks:
        n = c.t.size
        if n == 0:
            continue
        whole_seconds = bool((c.t % 1_000_000 == 0).all())
        stamps = np.datetime_as_string(
            c.t.astype("datetime64[us]"), unit="s" if whole_seconds else "us"
        ).tolist()
        labels = f"{c.user_id},{c.study},{c.metric},"
        v = _fmt_floats(c.v, n)
        imputed = ["false"] * n if c.imputed is None else np.where(c.imputed, "true", "false").tolist()
        if c.min is None and c.max is None and c.count is None:
            lines = [f"{labels}{t}Z,{x},{i},,,\n" for t, x, i in zip(stamps, v, imputed, strict=True)]
        else:
            lo, hi = _fmt_floats(c.min, n), _fmt_floats(c.max, n)
            count = [""] * n if c.count is None else c.count.astype(np.int64).astype(str).tolist()
            lines = [
                f"{labels}{t}Z,{x},{i},{a},{b},{k}\n"
                for t, x, i, a, b, k in zip(stamps, v, imputed, lo, hi, count, strict=True)
            ]
        yield "".join(lines).encode()


class _Sink:
    """A write-only file that hands out what was written since the last drain."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False
        self.position = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


class _BatchWriter(Protocol):
    """What pyarrow's IPC stream writer and ParquetWriter have in common."""

    def write_batch(self, batch: pa.RecordBatch) -> None: ...

    def close(self) -> None: ...


def _writer_stream(chunks: Iterable[Chunk], open_writer: Callable[[_Sink], _BatchWriter]) -> Iterator[bytes]:
    sink = _Sink()
    writer = open_writer(sink)
    pool = pa.default_memory_pool()
    for c in chunks:
        if c.t.size:
            writer.write_batch(c.to_batch())
            pool.release_unused()  # hand freed buffers back to the OS: RSS stays flat over a long export
            data = sink.drain()
            if data:
                yield data
    writer.close()
    yield sink.drain()


def arrow_stream(chunks: Iterable[Chunk]) -> Iterator[bytes]:
    return _writer_stream(chunks, lambda sink: pa.ipc.new_stream(sink, SCHEMA))


def parquet_stream(chunks: Iterable[Chunk]) -> Iterator[bytes]:
    return _writer_stream(chunks, lambda sink: pq.ParquetWriter(sink, SCHEMA, compression="zstd"))
