"""Which blocklist entries are the same product: repeat notices and the same recall in CPSC and EU.

A listing of such a product is a true match for every one of its notices, so training must not
label the other notices as negatives (the real positive pairs the data already holds). Entries
are joined when they share a distinctive identifier that names at most `max_entries` entries, or
when their brand and product name are the same once normalised.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from model.matching.identifiers import canonical_id
from model.matching.normalise import normalise, tokens
from model.matching.specificity import brand_words, distinctive
from model.schema import BlocklistEntry

_COMMON = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "for",
        "with",
        "in",
        "on",
        "to",
        "by",
        "inc",
        "llc",
        "ltd",
        "co",
    ]
)


def same_product_groups(
    entries: Sequence[BlocklistEntry], max_entries: int = 4
) -> dict[str, frozenset[str]]:
    """entry_id → the ids of every entry that is the same product (itself included)."""
    parent = {e.entry_id: e.entry_id for e in entries}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    keys: dict[str, list[str]] = defaultdict(list)
    for e in entries:
        for code in {canonical_id(c) for c in (*e.model_numbers, *e.gtins)}:
            if distinctive(code):
                keys[f"id:{code}"].append(e.entry_id)
        brand = " ".join(sorted(brand_words(e.brand)))
        if brand:
            keys[f"name:{brand}|{normalise(e.product_name)}"].append(e.entry_id)
    words = {e.entry_id: set(tokens(f"{e.brand} {e.product_name}")) - _COMMON for e in entries}
    for key, ids in keys.items():
        if 1 < len(ids) <= max_entries:
            for other in ids[1:]:
                # A shared code joins two notices only if they also share a word (codes collide).
                if key.startswith("name:") or words[other] & words[ids[0]]:
                    parent[find(other)] = find(ids[0])
    groups: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        groups[find(e.entry_id)].add(e.entry_id)
    return {e.entry_id: frozenset(groups[find(e.entry_id)]) for e in entries}
