"""A padding-free forward pass of a BERT sentence encoder (all-MiniLM-L6-v2) on CPU.

A batch of listing titles padded to its longest row spends most of its matrix work on padding:
the titles of a 256-listing request run from 5 to 40 tokens (median 15 of the bundled Amazon UK
titles). This pass packs every real token of a batch into one (tokens, hidden) matrix, so the
linear layers (about 85% of the model's FLOPs) touch no padding at all; only attention, which
mixes tokens within one title, needs the titles apart. For attention, titles of similar length
(batches are sorted by length) are laid out `g` to a row of about `SEGMENT` token slots with a
block-diagonal mask: one short title per attention call costs a fixed overhead per (title, head)
block that dwarfs its arithmetic, while `g` titles in one 32-slot row share it.

Precision: the matrix products (linears, attention) run in `dtype` (bf16 where the CPU has it),
while the embeddings, the residual stream, LayerNorm and pooling stay in fp32. That halves the
error of an all-bf16 pass (worst cosine to fp32 on 2,000 Amazon UK titles 0.99997 instead of
0.99991; mean error of a candidate cosine 3.0e-4 instead of 5.3e-4): with a tree classifier a
cosine that moves by 1e-4 can cross a split, and issue 12 asks for no decision to change against
fp32. In fp32 the result is sentence-transformers' own to float rounding (tested).

Measured on those 2,000 titles in 256-title requests, one core of the reference Xeon (AMX),
interleaved rounds: the padded bf16 pass 454 titles/s; packed all-bf16 736/s; packed with the
fp32 residual stream 650/s; with the weights prepacked for oneDNN (`_Linear`) 845-904/s. Then
attention is the largest part (39%: CPU flash attention pays per (row, head) block), and rows of
32 slots with 1,024 tokens per pass measured best (904/s; 16 slots 814-821, 64 845-889, 128
656-791; 2,048 tokens within noise of 1,024). One title alone: 8.0 ms before prepacking, 4.2 ms
after (one core).

The weights are the model's own (copied once into `dtype`), the arithmetic is BERT's: token +
absolute position + segment-0 embeddings, LayerNorm, then per layer fused QKV projection,
scaled dot-product attention, output projection, residual LayerNorm, GELU feed-forward,
residual LayerNorm; then mean pooling over each title's tokens, L2-normalised. `PackedBert.of`
returns None for any other architecture or pooling, and the caller keeps the padded pass. The
pass itself is one TorchScript function (`model.matching.packed_forward`: one call from Python,
the GELU fused into its projection, token rows padded to a multiple of `ROWS_MULTIPLE`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Token slots per attention row: titles of length L share a row `SEGMENT // L` at a time.
SEGMENT = 32
# Token rows of a pass are rounded up to a multiple of this (`packed_forward`): oneDNN keeps
# one kernel per shape, and creating one cost 0.5 ms at 150 rows, 5.4 ms at 2,000 (one core,
# reference Xeon), more than the product itself. With 1 to 11 titles per call (a /screen
# micro-batch) that took a call from 21-25 to 13-20 ms; multiples of 64 measured alike.
ROWS_MULTIPLE = 32
# Real tokens per forward pass (module docstring: 1,024-2,048 measured fastest).
MAX_PACKED_TOKENS = 1024


class _Linear:
    """y = x W^T + b, with W prepacked for oneDNN when it runs in bf16.

    `torch.nn.functional.linear` on a bf16 CPU tensor has oneDNN reorder the weight into its
    blocked layout on every call; packing it once (what torch.compile's CPU backend does) halves
    a feed-forward projection: 3.9 -> 1.7-2.1 ms at 2,048 tokens and 153 -> 86 us for one
    title (1,536 x 384, one core, reference Xeon), with bit-identical output (checked here at
    construction; any difference or a torch without the op keeps the plain call).
    """

    def __init__(self, weight: Any, bias: Any) -> None:
        import torch

        self.weight, self.bias = weight, bias
        self.packed: Any = None
        if weight.dtype != torch.bfloat16:
            return
        try:
            packed = torch.ops.mkldnn._reorder_linear_weight(weight)
            probe = torch.randn(8, weight.shape[1]).to(weight.dtype)
            fast = torch.ops.mkldnn._linear_pointwise(probe, packed, bias, "none", [], "")
            if torch.equal(fast, torch.nn.functional.linear(probe, weight, bias)):
                self.packed = packed
        except (AttributeError, RuntimeError):
            pass


def token_batches(
    lengths: np.ndarray, max_tokens: int = MAX_PACKED_TOKENS, max_rows: int = 256
) -> Iterator[np.ndarray]:
    """Positions grouped by similar length (sorted), cut at `max_tokens` real tokens or rows.

    A text longer than `max_tokens` gets a batch of its own.
    """
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        end, total = start, 0
        while end < len(order) and end - start < max_rows:
            length = int(lengths[order[end]])
            if end > start and total + length > max_tokens:
                break
            total += length
            end += 1
        yield order[start:end]
        start = end


class PackedBert:
    """Inference-only BERT encoder + mean pooling over packed (unpadded) token rows."""

    def __init__(self, bert: Any, dtype: Any) -> None:
        """`bert`: a `transformers` BertModel in eval mode; `dtype`: torch.bfloat16 or float32."""
        import torch

        config = bert.config
        self.dtype = dtype
        self.heads = int(config.num_attention_heads)

        def own(t: torch.Tensor) -> torch.Tensor:
            return t.detach().to(dtype).contiguous()

        def norm(m: Any) -> tuple[Any, Any]:
            # LayerNorm and the residual stream stay in fp32 (see `forward`).
            return (m.weight.detach().float(), m.bias.detach().float())

        emb = bert.embeddings
        self.eps = float(emb.LayerNorm.eps)
        self.embeddings = [
            emb.word_embeddings.weight.detach().float(),
            emb.position_embeddings.weight.detach().float(),
            emb.token_type_embeddings.weight[0].detach().float(),
            *norm(emb.LayerNorm),
        ]
        linears: list[_Linear] = []
        self.norms: list[torch.Tensor] = []
        for layer in bert.encoder.layer:
            att = layer.attention
            q, k, v = att.self.query, att.self.key, att.self.value
            linears += [
                _Linear(
                    own(torch.cat([q.weight, k.weight, v.weight])),
                    own(torch.cat([q.bias, k.bias, v.bias])),
                ),
                _Linear(own(att.output.dense.weight), own(att.output.dense.bias)),
                _Linear(own(layer.intermediate.dense.weight), own(layer.intermediate.dense.bias)),
                _Linear(own(layer.output.dense.weight), own(layer.output.dense.bias)),
            ]
            self.norms += [*norm(att.output.LayerNorm), *norm(layer.output.LayerNorm)]
            if {float(att.output.LayerNorm.eps), float(layer.output.LayerNorm.eps)} != {self.eps}:
                raise ValueError("the packed pass needs one LayerNorm epsilon throughout")
        # All or nothing: the scripted pass runs every linear one way.
        self.prepacked = all(x.packed is not None for x in linears)
        self.weights = [x.packed if self.prepacked else x.weight for x in linears]
        self.biases = [x.bias for x in linears]
        from model.matching.packed_forward import packed_forward

        self._forward = packed_forward

    @classmethod
    def of(cls, modules: Sequence[Any], dtype: Any) -> PackedBert | None:
        """The packed pass for a sentence-transformers module list, or None if unsupported.

        Supported: a BERT transformer with absolute positions and GELU, mean pooling (prompt
        included), then optionally `Normalize` (the pass always L2-normalises).
        """
        if len(modules) < 2 or len(modules) > 3:
            return None
        bert = getattr(modules[0], "auto_model", None)
        config = getattr(bert, "config", None)
        pooling = modules[1]
        if (
            config is None
            or getattr(config, "model_type", None) != "bert"
            or getattr(config, "position_embedding_type", "absolute") != "absolute"
            or getattr(config, "hidden_act", None) != "gelu"
            or getattr(pooling, "pooling_mode", None) != "mean"
            or not getattr(pooling, "include_prompt", True)
            or (len(modules) == 3 and type(modules[2]).__name__ != "Normalize")
        ):
            return None
        try:
            return cls(bert, dtype)
        except (ValueError, RuntimeError, AttributeError, ImportError):
            # Mixed LayerNorm epsilons, or a torch that cannot script the pass: the padded pass
            # still gives the same vectors, only slower, so say so rather than fail.
            log.warning(
                "the packed encoder pass is unavailable; using the padded pass", exc_info=True
            )
            return None

    def forward(self, rows: Sequence[Sequence[int]]) -> np.ndarray:
        """Mean-pooled, L2-normalised float32 embeddings (len(rows), hidden) of non-empty rows.

        Call under `torch.inference_mode()`.
        """
        import torch

        lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
        ids = torch.tensor([t for r in rows for t in r], dtype=torch.long)
        pooled = self._forward(
            ids,
            lengths,
            SEGMENT,
            ROWS_MULTIPLE,
            self.embeddings,
            self.weights,
            self.biases,
            self.norms,
            self.eps,
            self.heads,
            self.dtype,
            self.prepacked,
        )
        out: np.ndarray = pooled.numpy()
        return out
