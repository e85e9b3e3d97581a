"""Labelled pairs through the production path: candidates, features, classifier.

A pair is scored the way the screener would score it: the listing is searched against the
blocklist, and the pair's probability is the classifier's probability for that entry among the
listing's candidates. Three cases, all counted:

* retrieved: the entry is among the candidates (the normal case);
* missed: the entry is in the blocklist but search did not propose it; production would never
  match it, so the pair scores 0 (a retrieval failure counts against recall);
* direct: the entry is not in this bundle's blocklist at all (a pairs file that defines its own
  entries, evaluated on another bundle); it is scored as an extra candidate of the listing,
  exactly as an identifier hit outside the top k is.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model.matching.candidates import CandidateSearch, CandidateSet, candidate_probabilities
from model.matching.classifier import MatchClassifier
from model.matching.features import FEATURE_NAMES, candidate_features
from model.matching.index import entry_identifiers, entry_texts
from model.matching.normalise import normalise
from model.matching.views import EntryView
from model.schema import Listing
from training.build import BuildConfig, find_all, make_examples, pair_labels
from training.pairs import LabelledPair

RETRIEVED, MISSED, DIRECT = "retrieved", "missed", "direct"


@dataclass(frozen=True)
class ScoredPairs:
    """One probability per pair (0 for a miss), the labels and how each pair was reached."""

    labels: np.ndarray
    proba: np.ndarray
    status: np.ndarray

    def counts(self) -> dict[str, int]:
        return {s: int(np.sum(self.status == s)) for s in (RETRIEVED, MISSED, DIRECT)}


@dataclass(frozen=True)
class TrainingRows:
    """Classifier rows from labelled pairs: features, labels, and the listing each row is from."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    stats: dict[str, int]


def _group(pairs: Sequence[LabelledPair]) -> tuple[list[LabelledPair], list[int]]:
    """Unique listings (first pair of each) and, per pair, the index of its listing."""
    first: dict[str, int] = {}
    which: list[int] = []
    heads: list[LabelledPair] = []
    for pair in pairs:
        key = pair.listing_key()
        if key not in first:
            first[key] = len(heads)
            heads.append(pair)
        which.append(first[key])
    return heads, which


def find_listings(
    search: CandidateSearch, pairs: Sequence[LabelledPair], batch: int = 256, desc: str = "pairs"
) -> tuple[list[CandidateSet], list[int]]:
    heads, which = _group(pairs)
    return find_all(search, [p.listing for p in heads], batch, desc), which


def training_rows(
    search: CandidateSearch, pairs: Sequence[LabelledPair], implied_negatives: bool = True
) -> TrainingRows:
    """Feature rows for every candidate whose label the pairs decide.

    A labelled entry gets its label. With `implied_negatives`, a listing known to be product E
    also says it is none of its other candidates (as the bundle build assumes). Candidates of a
    listing that has only negative labels are left out: nothing says what they are. Pairs that
    search never reached, and pairs labelled both ways, give no row; both are counted.
    """
    found, which = find_listings(search, pairs, desc="training pairs")
    position = {e.entry_id: i for i, e in enumerate(search.index.entries)}
    labels: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    for pair, w in zip(pairs, which, strict=True):
        if pair.entry.entry_id not in position:
            raise ValueError(f"line {pair.line}: entry {pair.entry.entry_id!r} is not indexed")
        labels[w][position[pair.entry.entry_id]].add(pair.label)
    rows, ys, groups = [], [], []
    stats = {"labelled_pairs": len(pairs), "unreached_pairs": 0, "conflicting_pairs": 0}
    stats["implied_negative_rows"] = 0
    for w, f in enumerate(found):
        given = labels[w]
        stats["conflicting_pairs"] += sum(1 for v in given.values() if len(v) > 1)
        stats["unreached_pairs"] += sum(1 for e in given if e not in f.entries)
        has_positive = any(v == {1} for v in given.values())
        for i, e in enumerate(f.entries):
            if e in given:
                if len(given[e]) > 1:
                    continue
                y = next(iter(given[e]))
            elif has_positive and implied_negatives:
                y = 0
                stats["implied_negative_rows"] += 1
            else:
                continue
            rows.append(f.features[i])
            ys.append(y)
            groups.append(w)
    X = np.vstack(rows) if rows else np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    stats["rows"] = len(ys)
    stats["positive_rows"] = int(sum(ys))
    return TrainingRows(X, np.asarray(ys, dtype=int), np.asarray(groups, dtype=int), stats)


def score_pairs(
    search: CandidateSearch,
    classifier: MatchClassifier,
    pairs: Sequence[LabelledPair],
    desc: str = "scoring pairs",
) -> ScoredPairs:
    """P(match) for each pair as production would compute it (see the module docstring)."""
    found, which = find_listings(search, pairs, desc=desc)
    per = candidate_probabilities(classifier, found)
    position = {e.entry_id: i for i, e in enumerate(search.index.entries)}
    out = np.zeros(len(pairs))
    status = np.empty(len(pairs), dtype=object)
    direct: list[int] = []
    for k, (pair, w) in enumerate(zip(pairs, which, strict=True)):
        e = position.get(pair.entry.entry_id)
        if e is None:
            direct.append(k)
            status[k] = DIRECT
        elif e in found[w].entries:
            out[k] = per[w][found[w].entries.index(e)]
            status[k] = RETRIEVED
        else:
            status[k] = MISSED
    if direct:
        out[direct] = _direct_scores(
            search, classifier, [pairs[k] for k in direct], [found[which[k]] for k in direct]
        )
    labels = np.asarray([p.label for p in pairs], dtype=int)
    return ScoredPairs(labels, out, status.astype(str))


def _direct_scores(
    search: CandidateSearch,
    classifier: MatchClassifier,
    pairs: Sequence[LabelledPair],
    found: Sequence[CandidateSet],
) -> np.ndarray:
    """Score entries outside the index as one more candidate of their listing."""
    listing_vecs = search.encoder.encode([f.view.text for f in found])
    rows = []
    for pair, f, vec in zip(pairs, found, listing_vecs, strict=True):
        texts = entry_texts(pair.entry) or [normalise(pair.entry.product_name)]
        cosine = float(np.max(search.encoder.encode(texts) @ vec))
        views = [search.entry_views[e] for e in f.entries]
        views.append(EntryView.of(pair.entry, entry_identifiers(pair.entry), search.terms))
        feats = candidate_features(f.view, views, [*f.cosines.tolist(), cosine], search.terms)
        rows.append(feats[-1])
    return np.asarray(classifier.predict_proba(np.vstack(rows))[:, 1])


def synthetic_rows(
    search: CandidateSearch,
    benign: Sequence[Listing],
    n: int,
    seed: int,
    group_offset: int,
) -> TrainingRows:
    """Up to `n` of the bundle build's synthetic examples (clean and attacked variants of the
    indexed entries, real benign listings), as classifier rows through the same search.

    A sample, chosen by a stable hash, keeps what the base bundle learnt from the whole attack
    suite in the retrained classifier at a fraction of a full build's cost.
    """
    config = BuildConfig(seed=seed, variants_per_entry=2)
    examples = make_examples(search.index.entries, benign, config)
    examples = sorted(
        examples,
        key=lambda ex: hashlib.sha256(
            f"{seed}:{ex.tactic}:{ex.listing.to_dict()}".encode()
        ).digest(),
    )[:n]
    found = find_all(search, [ex.listing for ex in examples], 256, "synthetic examples")
    kept = [(f, ex) for f, ex in zip(found, examples, strict=True) if len(f.entries)]
    if not kept:
        empty = np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
        return TrainingRows(empty, np.zeros(0, dtype=int), np.zeros(0, dtype=int), {})
    X = CandidateSearch.stack([f for f, _ in kept])
    y = np.concatenate([pair_labels(f, search.index.entries, ex.entry_id) for f, ex in kept])
    groups = np.concatenate(
        [np.full(len(f.entries), group_offset + i) for i, (f, _) in enumerate(kept)]
    )
    stats = {
        "synthetic_listings": len(kept),
        "synthetic_rows": len(y),
        "synthetic_positive_rows": int(y.sum()),
    }
    return TrainingRows(X, y, groups, stats)


def combine(a: TrainingRows, b: TrainingRows) -> TrainingRows:
    return TrainingRows(
        np.vstack([a.X, b.X]),
        np.concatenate([a.y, b.y]),
        np.concatenate([a.groups, b.groups]),
        {**a.stats, **b.stats},
    )
