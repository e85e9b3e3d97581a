"""The fast inference path of a sentence-transformers model on CPU.

`SentenceTransformer.encode` is written for every model on every device; screening short
listing titles on a couple of CPU cores pays for that generality. This path keeps the model's
own tokenizer and modules (so the vectors mean the same thing) and changes only how the work is
done:

- bf16 weights for the transformer when the CPU multiplies bf16 natively (AVX-512 BF16 or AMX):
  oneDNN then runs the matrix products at about twice the fp32 rate, while pooling and
  normalisation stay in fp32 so the result is within cosine 0.9999 of fp32 (tested);
- for BERT with mean pooling (the default all-MiniLM-L6-v2) no padding at all: one tokenizer call,
  then batches of similar length whose real tokens are packed into one matrix
  (`model.matching.packed_bert`, 1.4x the padded pass on 256-title requests, with the residual
  stream kept in fp32);
- for any other model, batches of similar length (sorted), each padded only to its own longest
  row, rounded up to a multiple of 8 so oneDNN sees few distinct shapes and reuses its kernels;
- preallocated input buffers (one set per calling thread), `torch.inference_mode`, and at most
  cores / torch-threads forward passes at once: with torch on one thread per pass, two callers
  use two cores in parallel; with torch on every core, passes queue instead of oversubscribing
  (on a loaded machine an OpenMP team that loses a core waits at every barrier).

Dynamic int8 quantisation of the linear layers (`torch.ao.quantization.quantize_dynamic`) was
measured and rejected, twice: on all-MiniLM-L6-v2 it is faster than bf16 at equal batch sizes
but its embeddings fall to cosine 0.88-0.90 of fp32 on real listing titles (worst of 512 Amazon
titles: 0.902; bf16: 0.9999), which would move decisions.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from model.matching.packed_bert import MAX_PACKED_TOKENS, PackedBert, token_batches

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

Precision = Literal["auto", "bf16", "fp32"]
PRECISIONS: tuple[str, ...] = ("auto", "bf16", "fp32")
PAD_MULTIPLE = 8
# Up to this many rows, and this many padded tokens, per forward pass: large enough to keep the
# matrix units busy and pay the per-pass overhead (op dispatch, OpenMP barriers) rarely, small
# enough that a long outlier title does not pad a whole batch. Measured on 512 Amazon titles,
# bf16, 2 threads (a loaded machine, interleaved rounds): 256/8192 ran 2.45x the speed of
# 64/2048, 128/4096 1.52x; all within cosine 0.9999 of fp32 (worst 0.99991 for each).
MAX_ROWS = 256
MAX_TOKENS = 8192
# The most tokens of one text the transformer reads (the model's own limit may be higher: 256
# for all-MiniLM-L6-v2). The longest of the 10,000 bundled Amazon UK titles is 116 tokens
# (median 14), so real titles are read whole, while a pathological one costs at most this many.
MAX_SEQ_TOKENS = 128
# Characters handed to the tokenizer: a word-piece is at least one character, and a real word
# rarely more than a dozen, so this keeps >= MAX_SEQ_TOKENS tokens while bounding tokenizer work.
MAX_SEQ_CHARS = 16 * MAX_SEQ_TOKENS


@cache
def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware; without it bf16 is emulated and slower."""
    import torch

    if not torch.backends.mkldnn.is_available() or not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str) -> Literal["bf16", "fp32"]:
    """`auto` becomes bf16 where the hardware has it, fp32 elsewhere."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return "bf16" if precision == "bf16" else "fp32"


def length_batches(
    lengths: np.ndarray, max_rows: int = MAX_ROWS, max_tokens: int = MAX_TOKENS
) -> Iterator[np.ndarray]:
    """Positions grouped by similar length: sorted, cut when rows or padded tokens run out."""
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and end - start < max_rows:
            width = padded(int(lengths[order[end]]))
            if (end - start + 1) * width > max_tokens:
                break
            end += 1
        yield order[start:end]
        start = end


def padded(length: int) -> int:
    """`length` (tokens) rounded up to a multiple of PAD_MULTIPLE (8): 0 -> 0, 1 -> 8, 9 -> 16."""
    return -(-length // PAD_MULTIPLE) * PAD_MULTIPLE


class FastPath:
    """Inference-only copy of a SentenceTransformer's modules, in the chosen precision."""

    def __init__(
        self,
        model: SentenceTransformer,
        precision: Literal["bf16", "fp32"],
        max_rows: int = MAX_ROWS,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        import torch

        modules: list[Any] = list(model)
        first = modules[0]
        self.tokenizer: Any = first.tokenizer
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError("the fast path needs a fast (Rust) tokenizer")
        model_max = int(model.max_seq_length or self.tokenizer.model_max_length)
        self.max_length = min(model_max, MAX_SEQ_TOKENS)
        self.precision = precision
        self.max_rows, self.max_tokens = max(1, max_rows), max(1, max_tokens)
        self.dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        # BERT with mean pooling (all-MiniLM-L6-v2) runs packed, without padding; anything else
        # runs padded through its own modules. Either way the weights are copied for inference
        # (bf16) and the fp32 model stays untouched for training and saving.
        self.packed = PackedBert.of(modules, self.dtype)
        self.transformer: Any = None
        self.rest: list[Any] = []
        if self.packed is None:
            # The small modules after the transformer (pooling, normalise) run in fp32.
            transformer = copy.deepcopy(first).to(self.dtype) if precision == "bf16" else first
            self.transformer = transformer.eval()
            self.rest = [m.eval() for m in modules[1:]]
        self.wants_token_types = "token_type_ids" in self.tokenizer.model_input_names
        self.pad_id = int(self.tokenizer.pad_token_id or 0)
        # torch's OpenMP thread count is per calling thread (a web server's worker threads start
        # from the OMP_NUM_THREADS default), so the count in force here is re-applied per call.
        self.threads = torch.get_num_threads()
        self.parallel = max(1, len(os.sched_getaffinity(0)) // self.threads)
        self._slots = threading.BoundedSemaphore(self.parallel)
        self._local = threading.local()
        # A Rust tokenizer sets its truncation state per call; concurrent calls would race on it
        # ("Already borrowed"), so tokenising is serialised (it is a small share of the time).
        self._tokenizer_lock = threading.Lock()

    def _buffers(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        import torch

        buffers = getattr(self._local, "buffers", None)
        if buffers is None:
            ids = torch.full(
                (self.max_rows, padded(self.max_length)), self.pad_id, dtype=torch.long
            )
            buffers = (ids, torch.zeros_like(ids), torch.zeros_like(ids))
            self._local.buffers = buffers
        return buffers

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, unpadded, special tokens included, at most `max_length` each.

        Each text is cut to MAX_SEQ_CHARS characters before tokenising (bounds the tokenizer's
        work on a pathological title), then truncated to `max_length` tokens. Serialised by a
        lock: the Rust tokenizer's truncation state is per call and races across threads.
        """
        with self._tokenizer_lock:
            enc = self.tokenizer(
                [t[:MAX_SEQ_CHARS] for t in texts],
                truncation=True,
                max_length=self.max_length,
                padding=False,
                return_attention_mask=False,
                return_token_type_ids=False,
            )
        return list(enc["input_ids"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 rows, shape (len(texts), dim), one per text, in input order.

        `texts` must be non-empty (`SentenceTransformerEncoder.encode` handles the empty case).
        Blocks while `parallel` other forward passes are running (see the module docstring).
        """
        import torch

        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        ids = self.tokenize(texts)
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        out: np.ndarray | None = None
        with self._slots, torch.inference_mode():
            for batch in self._batches(lengths):
                rows = [ids[i] for i in batch]
                vectors = self._forward(rows) if self.packed is None else self._packed(rows)
                if out is None:
                    out = np.empty((len(ids), vectors.shape[1]), dtype=np.float32)
                out[batch] = vectors
        assert out is not None
        return out

    def _batches(self, lengths: np.ndarray) -> Iterator[np.ndarray]:
        if self.packed is None:
            return length_batches(lengths, self.max_rows, self.max_tokens)
        return token_batches(lengths, min(self.max_tokens, MAX_PACKED_TOKENS), self.max_rows)

    def _packed(self, rows: list[list[int]]) -> np.ndarray:
        assert self.packed is not None
        return self.packed.forward(rows)

    def _forward(self, rows: list[list[int]]) -> np.ndarray:
        import torch

        n, width = len(rows), padded(max(len(r) for r in rows))
        all_ids, all_mask, all_types = self._buffers()
        ids, mask = all_ids[:n, :width], all_mask[:n, :width]
        ids.fill_(self.pad_id)
        mask.zero_()
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
            mask[i, : len(row)] = 1
        features: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if self.wants_token_types:
            features["token_type_ids"] = all_types[:n, :width]
        features = self.transformer(features)
        features["token_embeddings"] = features["token_embeddings"].float()
        for module in self.rest:
            features = module(features)
        vectors: torch.Tensor = features["sentence_embedding"].float()
        vectors = torch.nn.functional.normalize(vectors, dim=-1)
        return vectors.numpy()
