"""The fuzzy string scores of many (listing, candidate entry) pairs in one call per scorer.

Three of the pair features (`features.FEATURE_NAMES`: token_set_ratio, partial_ratio, wratio)
are rapidfuzz scores of the listing's normalised text against the entry's name. Scored pair by
pair they hold the GIL, so a second screening thread waits; `rapidfuzz.process.cpdist` scores
all pairs of a batch in C++ without it, split over `workers` threads. With ``dtype=float64`` the
values are the per-pair calls' exactly (tested), so the classifier sees the same features.

Measured (default bundle, 21,856 candidate pairs of 2,048 Amazon listings in batches of 256,
reference 2-core Xeon): per-pair calls 12.8-19.7 us a pair; `cpdist` on one thread 13.4-20.1 (the
same, within the machine's drift), on two 9.8-10.5. On one thread (the service's setting) the
gain is the GIL: another screening thread runs Python meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.process import cpdist

# Columns of `fuzzy_scores`, in FEATURE_NAMES order.
FUZZY_SCORES = ("token_set_ratio", "partial_ratio", "wratio")
# Pairs per thread before `cpdist` splits the work: each call starts its own threads, which
# costs more than it saves on a small batch (measured, 2-core box: 10 pairs 7.5 us a pair on one
# thread, 21.5 on two; 2,000 pairs 16.9 per-pair calls against 14.3 on two threads).
PAIRS_PER_WORKER = 1_000


def fuzzy_scores(texts: Sequence[str], names: Sequence[str], workers: int = 1) -> np.ndarray:
    """(n, 3) float64 scores in [0, 100] of pair i = (`texts[i]`, `names[i]`), `FUZZY_SCORES`.

    token_set_ratio(text, name), partial_ratio(name, text) (the name's best match inside the
    listing) and WRatio(text, name). At most `workers` threads, one per `PAIRS_PER_WORKER` pairs.

    :raises ValueError: `texts` and `names` differ in length, or `workers` < 1.
    """
    if len(texts) != len(names):
        raise ValueError(f"one name per text expected, got {len(texts)} texts, {len(names)} names")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if not texts:
        return np.zeros((0, len(FUZZY_SCORES)))
    workers = max(1, min(workers, len(texts) // PAIRS_PER_WORKER))
    return np.stack(
        [
            cpdist(texts, names, scorer=fuzz.token_set_ratio, dtype=np.float64, workers=workers),
            cpdist(names, texts, scorer=fuzz.partial_ratio, dtype=np.float64, workers=workers),
            cpdist(texts, names, scorer=fuzz.WRatio, dtype=np.float64, workers=workers),
        ],
        axis=1,
    )
