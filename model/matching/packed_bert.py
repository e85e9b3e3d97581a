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
residual LayerNorm; then mean pooling over each title's tokens. `PackedBert.of` returns None for
any other architecture or pooling, and the caller keeps the padded pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Token slots per attention row: titles of length L share a row `SEGMENT // L` at a time.
SEGMENT = 32
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

    def __call__(self, x: Any) -> Any:
        import torch

        if self.packed is None:
            return torch.nn.functional.linear(x, self.weight, self.bias)
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")


@dataclass(frozen=True)
class _Layer:
    qkv: _Linear
    out: _Linear
    norm1: tuple[Any, Any, float]
    up: _Linear
    down: _Linear
    norm2: tuple[Any, Any, float]


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
        self.hidden = int(config.hidden_size)
        self.head_dim = self.hidden // self.heads

        def own(t: torch.Tensor) -> torch.Tensor:
            return t.detach().to(dtype).contiguous()

        def norm(m: Any) -> tuple[Any, Any, float]:
            # LayerNorm and the residual stream stay in fp32 (see `forward`).
            return (m.weight.detach().float(), m.bias.detach().float(), float(m.eps))

        emb = bert.embeddings
        self.word = emb.word_embeddings.weight.detach().float()
        self.position = emb.position_embeddings.weight.detach().float()
        self.segment0 = emb.token_type_embeddings.weight[0].detach().float()
        self.norm0 = norm(emb.LayerNorm)
        self.layers = []
        for layer in bert.encoder.layer:
            att = layer.attention
            q, k, v = att.self.query, att.self.key, att.self.value
            self.layers.append(
                _Layer(
                    qkv=_Linear(
                        own(torch.cat([q.weight, k.weight, v.weight])),
                        own(torch.cat([q.bias, k.bias, v.bias])),
                    ),
                    out=_Linear(own(att.output.dense.weight), own(att.output.dense.bias)),
                    norm1=norm(att.output.LayerNorm),
                    up=_Linear(
                        own(layer.intermediate.dense.weight), own(layer.intermediate.dense.bias)
                    ),
                    down=_Linear(own(layer.output.dense.weight), own(layer.output.dense.bias)),
                    norm2=norm(layer.output.LayerNorm),
                )
            )

    @classmethod
    def of(cls, modules: Sequence[Any], dtype: Any) -> PackedBert | None:
        """The packed pass for a sentence-transformers module list, or None if unsupported.

        Supported: a BERT transformer with absolute positions and GELU, mean pooling (prompt
        included), then optionally `Normalize` (the caller normalises in any case).
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
        return cls(bert, dtype)

    def forward(self, rows: Sequence[Sequence[int]]) -> np.ndarray:
        """Mean-pooled float32 embeddings (len(rows), hidden) of non-empty token-id rows.

        Not normalised. Call under `torch.inference_mode()`.
        """
        import torch
        import torch.nn.functional as F

        n = len(rows)
        lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
        total, longest = int(lengths.sum()), int(lengths.max())
        ids = torch.tensor([t for r in rows for t in r], dtype=torch.long)
        title = torch.repeat_interleave(torch.arange(n), lengths)
        starts = torch.cumsum(lengths, 0) - lengths
        position = torch.arange(total) - starts[title]
        # Attention layout: `per_row` titles per row of `width` slots, title i at slot i % per_row.
        per_row = max(1, SEGMENT // longest)
        n_rows = -(-n // per_row)
        width = per_row * longest
        where = title * longest + position  # each token's place in the (n_rows * width) layout
        valid = torch.zeros(n_rows * per_row, longest, dtype=torch.bool)
        valid[:n] = torch.arange(longest)[None, :] < lengths[:, None]
        slot = torch.arange(width) // longest
        mask = ((slot[:, None] == slot[None, :])[None] & valid.view(n_rows, 1, width))[:, None]
        layout = torch.zeros(n_rows * width, 3 * self.hidden, dtype=self.dtype)

        low = self.dtype
        x = self.word[ids] + self.position[position] + self.segment0
        x = F.layer_norm(x, (self.hidden,), *self.norm0)
        for p in self.layers:
            layout.index_copy_(0, where, p.qkv(x.to(low)))
            q, k, v = layout.view(n_rows, width, 3, self.heads, self.head_dim).permute(
                2, 0, 3, 1, 4
            )
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            att = att.permute(0, 2, 1, 3).reshape(n_rows * width, self.hidden)
            att = att.index_select(0, where)
            x = F.layer_norm(p.out(att) + x, (self.hidden,), *p.norm1)
            up = F.gelu(p.up(x.to(low)))
            x = F.layer_norm(p.down(up) + x, (self.hidden,), *p.norm2)
        pooled = torch.zeros(n, self.hidden).index_add_(0, title, x)
        out: np.ndarray = (pooled / lengths[:, None]).numpy()
        return out
