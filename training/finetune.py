"""Fine-tune the sentence-transformer on labelled pairs so evasive listings land near their entry.

The loss is MultipleNegativesRankingLoss over (anchor, positive, negative) triplets with the
no-duplicates batch sampler (a text twice in a batch would be its own false negative):

* listing -> its entry, against a labelled wrong entry of that listing when there is one (a
  reviewer's "not this recall" is the hardest negative there is), otherwise against the nearest
  other entry mined from the blocklist with `mine_hard_negatives` (a 5% relative margin keeps
  near-duplicates of the true entry out);
* entry -> a listing known to be it, against a listing labelled as *not* it (a benign listing
  judged against its nearest entry), so negatives without a positive still teach something.

Texts are normalised exactly as the index and the screener normalise them. Training is seeded
and runs with deterministic torch algorithms: same pairs + seed -> same weights on one machine.
"""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.matching.encoder import SentenceTransformerEncoder, resolve_model, training_encoder
from model.matching.normalise import normalise
from model.schema import BlocklistEntry, Listing
from training.pairs import LabelledPair


@dataclass(frozen=True)
class FinetuneConfig:
    """CPU-sized defaults: 10,000 pairs in well under 15 minutes on 2 cores."""

    epochs: float = 1.0
    batch_size: int = 32
    max_seq_length: int = 64
    learning_rate: float = 5e-5
    warmup: float = 0.1
    mining_range: int = 20
    relative_margin: float = 0.05
    max_negatives_per_listing: int = 3
    max_triplets: int = 2048  # per epoch: 64 steps of 32; 0 = no cap
    seed: int = 0
    progress: bool = True


@dataclass(frozen=True)
class FinetuneReport:
    """What the fine-tuning saw and did, stored in the bundle's metrics."""

    triplets: int
    labelled_negative_rows: int
    mined_negative_rows: int
    random_negative_rows: int
    entry_anchor_rows: int
    unused_negative_pairs: int
    capped_triplets: int
    steps: int
    train_loss: float
    seconds: float


def listing_text(listing: Listing) -> str:
    """The text the screener embeds for a listing (`ListingView.text`)."""
    return normalise(listing.text())


def entry_text(entry: BlocklistEntry) -> str:
    """The entry's branded name: the richest of the texts the index holds for it."""
    name = entry.product_name.strip()
    if entry.brand and entry.brand.lower() not in name.lower():
        name = f"{entry.brand} {name}"
    return normalise(name)


@dataclass
class _Triplets:
    rows: list[tuple[str, str, str]]
    to_mine: list[tuple[str, str]]
    labelled: int = 0
    entry_anchor: int = 0
    unused: int = 0
    capped: int = 0


def _triplets(pairs: Sequence[LabelledPair], cap: int) -> _Triplets:
    positives: dict[str, set[str]] = defaultdict(set)  # listing text -> entry texts
    negatives: dict[str, set[str]] = defaultdict(set)
    listings_of: dict[str, set[str]] = defaultdict(set)  # entry text -> positive listing texts
    for pair in pairs:
        a, e = listing_text(pair.listing), entry_text(pair.entry)
        if not a or not e:
            continue
        (positives if pair.label else negatives)[a].add(e)
        if pair.label:
            listings_of[e].add(a)
    out = _Triplets([], [])
    for a in sorted(positives):
        wrong = sorted(negatives.get(a, set()) - positives[a])[:cap]
        for p in sorted(positives[a]):
            if wrong:
                out.rows.extend((a, p, n) for n in wrong)
                out.labelled += len(wrong)
            else:
                out.to_mine.append((a, p))
    for a in sorted(set(negatives) - set(positives)):
        for e in sorted(negatives[a]):
            known = sorted(listings_of.get(e, set()) - {a})
            if known:
                out.rows.append((e, known[0], a))
                out.entry_anchor += 1
            else:
                out.unused += 1
    return out


def _cap(plan: _Triplets, config: FinetuneConfig) -> _Triplets:
    """Keep at most `max_triplets` (a seeded hash sample, mined ones counted before mining):
    what bounds CPU time, since one step costs the same whatever the data set's size."""
    total = len(plan.rows) + len(plan.to_mine)
    if not config.max_triplets or total <= config.max_triplets:
        return plan

    def rank(item: tuple[str, ...]) -> bytes:
        return hashlib.sha256(f"{config.seed}:{item}".encode()).digest()

    keep = set(sorted([*plan.rows, *plan.to_mine], key=rank)[: config.max_triplets])
    rows = [r for r in plan.rows if r in keep]
    from_labels = set(plan.rows[: plan.labelled])
    labelled = sum(1 for r in rows if r in from_labels)
    return _Triplets(
        rows=rows,
        to_mine=[p for p in plan.to_mine if p in keep],
        labelled=labelled,
        entry_anchor=len(rows) - labelled,
        unused=plan.unused,
        capped=total - config.max_triplets,
    )


def _mine(
    model: Any,
    to_mine: list[tuple[str, str]],
    corpus: list[str],
    config: FinetuneConfig,
) -> tuple[list[tuple[str, str, str]], int]:
    """Hard negatives from the blocklist; a seeded random entry where none qualifies."""
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    if not to_mine:
        return [], 0
    data = Dataset.from_dict(
        {"anchor": [a for a, _ in to_mine], "positive": [p for _, p in to_mine]}
    )
    mined = mine_hard_negatives(
        data,
        model,
        corpus=corpus,
        range_max=min(config.mining_range, max(len(set(corpus)) - 1, 1)),
        relative_margin=config.relative_margin,
        num_negatives=1,
        sampling_strategy="top",
        output_format="triplet",
        use_faiss=True,
        batch_size=64,
        verbose=config.progress,
    )
    rows = [(r["anchor"], r["positive"], r["negative"]) for r in mined]
    done = {(a, p) for a, p, _ in rows}
    rng = random.Random(f"negatives:{config.seed}")
    pool = sorted(set(corpus))
    fallback = 0
    for a, p in to_mine:
        if (a, p) not in done and len(pool) > 1:
            n = rng.choice(pool)
            while n == p:
                n = rng.choice(pool)
            rows.append((a, p, n))
            fallback += 1
    return rows, fallback


def finetune(
    base_model: str,
    pairs: Sequence[LabelledPair],
    entries: Sequence[BlocklistEntry],
    out_dir: Path,
    config: FinetuneConfig | None = None,
) -> tuple[SentenceTransformerEncoder, FinetuneReport]:
    """Fine-tune `base_model` (a sentence-transformers folder or the packaged default name) and
    save it to `out_dir` in sentence-transformers' own format (safetensors)."""
    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import set_seed

    config = config or FinetuneConfig()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    started = time.perf_counter()
    set_seed(config.seed)
    model = SentenceTransformer(resolve_model(base_model), device="cpu")
    served_length = model.max_seq_length
    model.max_seq_length = config.max_seq_length
    plan = _cap(_triplets(pairs, config.max_negatives_per_listing), config)
    corpus = sorted({entry_text(e) for e in entries} - {""})
    mined, fallback = _mine(model, plan.to_mine, corpus, config)
    rows = plan.rows + mined
    if not rows:
        raise ValueError("no positive pairs to fine-tune on: the training pairs need label-1 rows")
    data = Dataset.from_dict(
        {name: [r[i] for r in rows] for i, name in enumerate(("anchor", "positive", "negative"))}
    )
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with tempfile.TemporaryDirectory(prefix="recallguard-finetune-") as tmp:
            args = SentenceTransformerTrainingArguments(
                output_dir=tmp,
                num_train_epochs=config.epochs,
                per_device_train_batch_size=config.batch_size,
                learning_rate=config.learning_rate,
                warmup_steps=config.warmup,
                seed=config.seed,
                data_seed=config.seed,
                batch_sampler=BatchSamplers.NO_DUPLICATES,
                save_strategy="no",
                logging_steps=10,
                report_to="none",
                disable_tqdm=not config.progress,
                use_cpu=True,
                dataloader_num_workers=0,
            )
            trainer = SentenceTransformerTrainer(
                model=model,
                args=args,
                train_dataset=data,
                loss=MultipleNegativesRankingLoss(model),
            )
            output = trainer.train()
    finally:
        torch.use_deterministic_algorithms(deterministic)
    model.max_seq_length = served_length  # trained short for speed; serve at the base length
    out_dir = Path(out_dir)
    model.save(str(out_dir))
    report = FinetuneReport(
        triplets=len(rows),
        labelled_negative_rows=plan.labelled,
        mined_negative_rows=len(mined) - fallback,
        random_negative_rows=fallback,
        entry_anchor_rows=plan.entry_anchor,
        unused_negative_pairs=plan.unused,
        capped_triplets=plan.capped,
        steps=int(output.global_step),
        train_loss=float(output.training_loss),
        seconds=round(time.perf_counter() - started, 1),
    )
    return training_encoder(str(out_dir)), report
