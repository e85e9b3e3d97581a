"""One function per evasion tactic: (entry, rng) -> an evasive Listing for that entry.

Each tactic attacks only what a real seller would disguise (the brand first, then the longest,
most distinctive words) and leaves model numbers out of the title -- except `identifier_only`,
whose whole point is a bare model number -- so the text attacks are not trivially caught by the
identifier match and the classifier has to learn them.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable

from model.matching.normalise import fold, normalise
from model.schema import BlocklistEntry, Listing
from training.attacks._text import (
    NotApplicable,
    brand_free_name,
    branded_title,
    clean_brand,
    identifiers,
    make,
    name_without_brand,
    pick_words,
    strip_brand,
    wording,
)
from training.attacks._vocab import (
    INVISIBLES,
    KEYBOARD,
    LEET_OUT,
    OTHER,
    PACK_SIZES,
    PACK_TEMPLATES,
    SELLER_BRANDS,
    SYNONYMS,
)

Tactic = Callable[[BlocklistEntry, random.Random], Listing]


def _brand_words(entry: BlocklistEntry) -> int:
    return len(clean_brand(entry).split())


def brand_removed(entry: BlocklistEntry, rng: random.Random) -> Listing:
    suffix = rng.choice(("", "", "", "(Unbranded)", "- New", *wording(entry).suffixes[:2]))
    return make(entry, "brand_removed", f"{brand_free_name(entry)} {suffix}")


def brand_replaced(entry: BlocklistEntry, rng: random.Random) -> Listing:
    real = clean_brand(entry).lower()
    fake = rng.choice([b for b in SELLER_BRANDS if b.lower() != real])
    return make(entry, "brand_replaced", f"{fake} {brand_free_name(entry)}", brand=fake)


def _rewrite(words: list[str], rng: random.Random) -> tuple[list[str], int]:
    """Swap product-type phrases for synonyms (two-word phrases before single words)."""
    out: list[str] = []
    changed, i = 0, 0
    while i < len(words):
        for size in (2, 1):
            key = " ".join(words[i : i + size]).lower().strip(",.;:()")
            if len(words[i : i + size]) == size and key in SYNONYMS and rng.random() < 0.8:
                alt = rng.choice(SYNONYMS[key])
                alt = alt.capitalize() if words[i].lstrip("(")[:1].isupper() else alt
                lead = words[i][: len(words[i]) - len(words[i].lstrip("("))]
                trail = words[i + size - 1][len(words[i + size - 1].rstrip(",.;:)")) :]
                out.append(f"{lead}{alt}{trail}")  # keep "(" ... ")," around the phrase
                changed, i = changed + 1, i + size
                break
        else:
            out.append(words[i])
            i += 1
    return out, changed


def generic_rewrite(entry: BlocklistEntry, rng: random.Random) -> Listing:
    name = brand_free_name(entry)
    for ident in identifiers(entry):
        name = name.replace(ident, " ")
    words = name.split()
    out, changed = _rewrite(words, rng)
    if (not changed or rng.random() < 0.3) and len(out) >= 2:
        out.pop(rng.randrange(len(out) - 1))  # drop a modifier, keep the head noun
    if rng.random() < 0.5:
        out.insert(0, rng.choice(wording(entry).qualifiers))
    title = " ".join(out)
    if not out or normalise(name) in normalise(title):
        raise NotApplicable(f"{entry.entry_id}: nothing to rewrite in {name!r}")
    return make(entry, "generic_rewrite", title)


def _typo(word: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    for _ in range(10):
        i = rng.choice(letters)
        op = rng.choice(("swap", "drop", "double", "neighbour"))
        if op == "swap" and i + 1 < len(word) and word[i + 1].isalpha():
            out = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        elif op == "drop" and len(letters) > 3:
            out = word[:i] + word[i + 1 :]
        elif op == "neighbour" and word[i].lower() in KEYBOARD:
            c = rng.choice(KEYBOARD[word[i].lower()])
            out = word[:i] + (c.upper() if word[i].isupper() else c) + word[i + 1 :]
        else:
            out = word[:i] + word[i] + word[i:]
        if out.lower() != word.lower():
            return out
    return word[: letters[0] + 1] + word[letters[0] :]


def typos(entry: BlocklistEntry, rng: random.Random) -> Listing:
    words = branded_title(entry).split()
    k = 1 + (len(words) > 3) + (rng.random() < 0.3)
    picked = pick_words(words, rng, k, _brand_words(entry), 4) or pick_words(words, rng, k)
    if not picked:
        raise NotApplicable(f"{entry.entry_id}: no word long enough to misspell")
    for i in picked:
        words[i] = _typo(words[i], rng)
    return make(entry, "typos", " ".join(words))


def _leet(word: str, rng: random.Random) -> str:
    """Leet a word the way normalise can undo it: one substitution is forced strictly inside the
    word with letters kept on both sides of it, a digit never lands next to a different digit,
    and "!" never at an edge (there it reads as punctuation)."""
    chars = list(word)
    interior = [i for i in range(1, len(chars) - 1) if chars[i].lower() in LEET_OUT]
    if not interior:
        return word
    forced = rng.choice(interior)
    for i in [forced, *range(len(chars))]:
        c = chars[i]
        if c.lower() not in LEET_OUT or abs(i - forced) == 1:
            continue
        if i != forced and rng.random() < 0.5:
            continue
        options = [o for o in LEET_OUT[c.lower()] if o != "!" or 0 < i < len(chars) - 1]
        sub = rng.choice(options)
        near = (chars[i - 1] if i else "") + (chars[i + 1] if i + 1 < len(chars) else "")
        if sub.isdigit() and any(d.isdigit() and d != sub for d in near):
            continue
        chars[i] = sub
    return "".join(chars)


def leetspeak(entry: BlocklistEntry, rng: random.Random) -> Listing:
    words = branded_title(entry).split()
    alpha = [w if w.isalpha() else "" for w in words]
    picked = pick_words(alpha, rng, 1 + rng.randrange(3), _brand_words(entry))
    for i in picked:
        words[i] = _leet(words[i], rng)
    title = " ".join(words)
    if title == branded_title(entry):
        raise NotApplicable(f"{entry.entry_id}: no word to write in leetspeak")
    return make(entry, "leetspeak", title)


# Listed as confusable but not what sellers use: they look wrong next to Latin letters.
_WEAK_LOOKALIKES = ("ABKHASIAN", "SIGMA", "GAMMA", "IOTA", "OMEGA")


@functools.cache
def _homoglyph_table() -> dict[str, tuple[str, ...]]:
    """Latin letter -> Cyrillic/Greek look-alikes, from the Unicode confusables data, keeping
    only those that `fold` maps straight back (so the attack is exactly undoable)."""
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[str, tuple[str, ...]] = {}
    for letter in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
        found = dict.fromkeys(
            h["c"]
            for h in confusables_data.get(letter, [])
            if len(h["c"]) == 1
            and re.match(r"(CYRILLIC|GREEK) (SMALL|CAPITAL) LETTER ", h["n"])
            and not any(weak in h["n"] for weak in _WEAK_LOOKALIKES)
            and fold(h["c"]) == letter
        )
        if found:
            table[letter] = tuple(found)
    return table


def homoglyphs(entry: BlocklistEntry, rng: random.Random) -> Listing:
    table = _homoglyph_table()
    words = branded_title(entry).split()
    swappable = [w if any(c in table for c in w) else "" for w in words]
    picked = pick_words(swappable, rng, 1 + rng.randrange(2), _brand_words(entry), 1)
    for i in picked:
        chars = list(words[i])
        spots = [j for j, c in enumerate(chars) if c in table]
        forced = rng.choice(spots)
        for j in spots:
            if j == forced or rng.random() < 0.4:
                chars[j] = rng.choice(table[chars[j]])
        words[i] = "".join(chars)
    if not picked:
        raise NotApplicable(f"{entry.entry_id}: no letter has a look-alike")
    return make(entry, "homoglyphs", " ".join(words))


def zero_width(entry: BlocklistEntry, rng: random.Random) -> Listing:
    words = branded_title(entry).split()
    inside = [[j for j in range(1, len(w)) if w[j - 1].isalnum() and w[j].isalnum()] for w in words]
    hideable = [w if inside[i] else "" for i, w in enumerate(words)]
    picked = pick_words(hideable, rng, 1 + rng.randrange(3), _brand_words(entry), 2)
    if not picked:
        raise NotApplicable(f"{entry.entry_id}: no word to hide characters in")
    for i in picked:
        w = words[i]
        cuts = sorted(rng.sample(inside[i], min(len(inside[i]), 1 + rng.randrange(2))))
        for cut in reversed(cuts):
            w = w[:cut] + rng.choice(INVISIBLES) + w[cut:]
        words[i] = w
    return make(entry, "zero_width", " ".join(words))


def letter_spacing(entry: BlocklistEntry, rng: random.Random) -> Listing:
    words = branded_title(entry).split()
    n_brand = _brand_words(entry)
    alpha = [w if w.isalpha() and len(w) >= 3 else "" for w in words]
    brand_ids = [i for i in range(n_brand) if alpha[i]]
    name_ids = [i for i in range(n_brand, len(words)) if len(alpha[i]) >= 4]
    if not brand_ids and not name_ids:
        raise NotApplicable(f"{entry.entry_id}: no word to space out")
    i = max(brand_ids or name_ids, key=lambda j: len(words[j]))
    sep = rng.choice((" ", " ", " ", ".", "-", " . "))
    word = words[i].upper() if rng.random() < 0.5 else words[i]
    words[i] = sep.join(word)
    return make(entry, "letter_spacing", " ".join(words))


def keyword_stuffing(entry: BlocklistEntry, rng: random.Random) -> Listing:
    spam_words = wording(entry).spam
    spam = rng.sample(spam_words, rng.randint(5, 12))
    sep = rng.choice((" ", ", ", " | "))
    title = f"{branded_title(entry)} {sep.join(spam)}"
    description = " ".join(rng.sample(spam_words, 10))
    return make(entry, "keyword_stuffing", title, description=description)


def identifier_only(entry: BlocklistEntry, rng: random.Random) -> Listing:
    ids = identifiers(entry)
    if not ids:
        raise NotApplicable(f"{entry.entry_id}: no model number or GTIN to list")
    ident = rng.choice(ids)
    last = name_without_brand(entry).split()[-1].lower().strip(",.;:()")
    words = wording(entry)
    head = last in SYNONYMS or (words is OTHER and last.isalpha() and len(last) > 2)
    kinds = words.types + ((last,) if head else ())
    kind = strip_brand(rng.choice(kinds), clean_brand(entry)) or words.types[0]
    template = rng.choice(("{k} {i}", "{i} {k}", "{k} model {i}", "{k} - {i}"))
    return make(entry, "identifier_only", template.format(k=kind.capitalize(), i=ident))


def word_reorder(entry: BlocklistEntry, rng: random.Random) -> Listing:
    words = branded_title(entry).split()
    if len({w.lower() for w in words}) < 2:
        raise NotApplicable(f"{entry.entry_id}: a single word cannot be reordered")
    shuffled = list(words)
    while [w.lower() for w in shuffled] == [w.lower() for w in words]:
        rng.shuffle(shuffled)
    return make(entry, "word_reorder", " ".join(shuffled))


def multipack(entry: BlocklistEntry, rng: random.Random) -> Listing:
    base = branded_title(entry) if rng.random() < 0.7 else name_without_brand(entry)
    title = rng.choice(PACK_TEMPLATES).format(n=rng.choice(PACK_SIZES), t=base)
    return make(entry, "multipack", title)


TACTICS: dict[str, Tactic] = {
    "brand_removed": brand_removed,
    "brand_replaced": brand_replaced,
    "generic_rewrite": generic_rewrite,
    "typos": typos,
    "leetspeak": leetspeak,
    "homoglyphs": homoglyphs,
    "zero_width": zero_width,
    "letter_spacing": letter_spacing,
    "keyword_stuffing": keyword_stuffing,
    "identifier_only": identifier_only,
    "word_reorder": word_reorder,
    "multipack": multipack,
}
