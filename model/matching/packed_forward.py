"""The packed BERT forward pass as one TorchScript function (`model.matching.packed_bert`).

Why TorchScript: a pass written in Python dispatches ~100 small torch ops, and each one releases
the GIL and has to take it back. Beside a thread that runs Python without pause (another
micro-batch being featurised, HTTP parsing), Python hands the GIL back only every
`sys.getswitchinterval()` (5 ms). Scripted, the pass is one call from Python; inside, the ops
run in C++. `benchmarks/encoder_pass.py`, one torch thread, reference Xeon, the Python pass (git
history, before this module) against this one in the same session: 256-title calls beside a
busy Python thread 1,718 -> 833 ms (alone 382 / 459 ms: within this machine's run-to-run
spread); one title alone 9.8 -> 5.9 ms. It is not free of the other thread: even beside a busy
*process* an 8-title call slowed 17.9 -> 25.6 ms (the two cores share the machine), and beside
a Python thread it still slows 2-4x, so the pipeline does not overlap the encoder with its own
Python on a worker thread (measured: no gain).

The feed-forward's GELU runs as a oneDNN post-op of its up-projection when the weights are
prepacked (bf16): the activation is computed on the fp32 accumulator before the one rounding to
bf16, instead of on a rounded bf16 tensor in a separate pass (2.5 instead of 4.6 ms per 1,024
tokens for that projection, one core). That moves embeddings by at most 2e-5 in cosine; with
the unfused feed-forward the scripted pass gives the Python pass's numbers exactly. The
agreement tests with fp32 (`tests/test_fast_encoder.py`) hold it to decisions, and the 121
real-listing dev cases kept every decision (largest probability change 0.004).

No `from __future__ import annotations` here: TorchScript reads the annotations as types.
"""

from typing import TYPE_CHECKING, Optional

import torch
import torch.nn.functional as F

if TYPE_CHECKING:  # TorchScript's own `number` (a C++ Scalar), unknown to Python
    number = float


@torch.jit.script
def packed_forward(
    ids: torch.Tensor,
    lengths: torch.Tensor,
    segment: int,
    rows_multiple: int,
    embeddings: list[torch.Tensor],
    weights: list[torch.Tensor],
    biases: list[torch.Tensor],
    norms: list[torch.Tensor],
    eps: float,
    heads: int,
    low: torch.dtype,
    prepacked: bool,
) -> torch.Tensor:
    """Mean-pooled, L2-normalised fp32 embeddings (n, hidden).

    `ids`: every title's token ids concatenated, (tokens,) int64; `lengths`: (n,) int64, all
    > 0; `segment`: token slots per attention row; `rows_multiple`: the row count of the
    matrix products is rounded up to a multiple of it; `embeddings`: [word, position, segment-0
    row, LayerNorm weight, LayerNorm bias] (fp32); per layer, four `weights`/`biases` (fused QKV,
    attention output, up, down; in `low`, prepacked for oneDNN when `prepacked`) and four
    `norms` (LayerNorm weight and bias after attention, after the feed-forward; fp32).
    """
    # oneDNN post-op arguments: none (typed as the op wants them).
    scalars: list[Optional[number]] = []  # noqa: UP045
    n = lengths.shape[0]
    total = int(lengths.sum())
    longest = int(lengths.max())
    hidden = embeddings[0].shape[1]
    head_dim = hidden // heads
    title = torch.repeat_interleave(torch.arange(n), lengths)
    starts = torch.cumsum(lengths, 0) - lengths
    position = torch.arange(total) - starts[title]
    # Attention layout: `per_row` titles per row of `width` slots, title i at slot i % per_row.
    per_row = max(1, segment // longest)
    n_rows = (n + per_row - 1) // per_row
    width = per_row * longest
    where = title * longest + position  # each token's place in the (n_rows * width) layout
    valid = torch.zeros(n_rows * per_row, longest, dtype=torch.bool)
    valid[:n] = torch.arange(longest)[None, :] < lengths[:, None]
    slot = torch.arange(width) // longest
    mask = ((slot[:, None] == slot[None, :])[None] & valid.view(n_rows, 1, width))[:, None]
    layout = torch.zeros(n_rows * width, 3 * hidden, dtype=low)

    # The matrix products see a row count rounded up to `rows_multiple` (zero rows after the
    # real tokens, never read back): oneDNN builds a kernel per shape, and a shape it has not
    # seen costs more than the product itself.
    padded = (total + rows_multiple - 1) // rows_multiple * rows_multiple
    picked = torch.cat([where, torch.zeros(padded - total, dtype=where.dtype)])
    x = embeddings[0][ids] + embeddings[1][position] + embeddings[2]
    x = F.layer_norm(x, [hidden], embeddings[3], embeddings[4], eps)
    x = torch.cat([x, torch.zeros(padded - total, hidden)])
    for i in range(len(weights) // 4):
        w, b, g = weights[4 * i : 4 * i + 4], biases[4 * i : 4 * i + 4], norms[4 * i : 4 * i + 4]
        if prepacked:
            qkv = torch.ops.mkldnn._linear_pointwise(x.to(low), w[0], b[0], "none", scalars, "")
        else:
            qkv = F.linear(x.to(low), w[0], b[0])
        layout.index_copy_(0, where, qkv[:total])
        parts = layout.view(n_rows, width, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(parts[0], parts[1], parts[2], attn_mask=mask)
        att = att.permute(0, 2, 1, 3).reshape(n_rows * width, hidden).index_select(0, picked)
        if prepacked:
            out = torch.ops.mkldnn._linear_pointwise(att, w[1], b[1], "none", scalars, "")
        else:
            out = F.linear(att, w[1], b[1])
        x = F.layer_norm(out + x, [hidden], g[0], g[1], eps)
        if prepacked:
            up = torch.ops.mkldnn._linear_pointwise(x.to(low), w[2], b[2], "gelu", scalars, "none")
            down = torch.ops.mkldnn._linear_pointwise(up, w[3], b[3], "none", scalars, "")
        else:
            down = F.linear(F.gelu(F.linear(x.to(low), w[2], b[2])), w[3], b[3])
        x = F.layer_norm(down + x, [hidden], g[2], g[3], eps)
    pooled = torch.zeros(n, hidden).index_add_(0, title, x[:total])
    return F.normalize(pooled / lengths[:, None], dim=-1)
