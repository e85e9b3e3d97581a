"""Text normalisation applied before anything is embedded, fuzzy-matched or compared.

Sellers of recalled toys evade matching with look-alike Unicode, invisible characters, leetspeak,
letter spacing and masking. Every listing and every blocklist text goes through the same functions
here, so whatever a rule does (even when it is lossy) it does to both sides alike.

Two forms:

* ``fold`` -- identifier-safe: keeps case, digits and in-word punctuation, so ``AJ0192-Y-3`` or
  ``TB-MZWJ`` survive byte for byte. Use it for model numbers / GTINs.
* ``normalise`` -- the lossy matching form (lower-case ASCII, leetspeak undone, letter spacing
  rejoined, emoji and punctuation runs gone). Never match identifiers on it: ``a1b`` -> ``aib``.

Libraries (both evaluated, both used, for different jobs):

* ``confusable_homoglyphs`` ships the Unicode confusables data (UTS #39) as a *visual* map:
  Cyrillic ``р`` -> ``p``, Greek ``Η`` -> ``H``. That is what a homoglyph attack needs.
* ``unidecode`` is *phonetic* transliteration: Cyrillic ``р`` -> ``r``, ``Н`` -> ``N``, Greek
  ``ν`` -> ``n`` -- wrong for spoofs, right for genuine foreign text and accents (``é`` -> ``e``,
  ``ß`` -> ``ss``, ``Ж`` -> ``Zh``) and it maps emoji to nothing. ``normalise`` applies it after
  ``fold`` has undone the spoofs.

Confusable folding follows UTS #39's mixed-script idea so that genuine Greek/Cyrillic text is not
turned into Latin garbage: inside a word, letters are folded only when the word also contains
ASCII letters (``LЕGО`` with Cyrillic Е/О) or when *every* letter of it has a Latin look-alike
(whole-word spoofs such as Cyrillic ``ВОХ``). Non-letter confusables (``×`` ``‐`` ``’`` ``∗``) are
always folded. Where the data maps a capital I-like letter to ``l`` we use ``I`` to keep case.

Leetspeak has no maintained library, so it is the one small hand table (``_LEET``).

Units (issue 10: sellers write "14-Ounce", notices "14 oz"; "10,000mAh" and "10000 mAh"): in
the matching form a number's thousands commas are dropped and a unit after a number is split
off and spelled one way (``_UNITS``: ounce/ounces/oz → oz, inch/inches → in, pieces/pcs → pcs,
…), so ``14-Ounce`` and ``14 oz`` both read ``14 oz``. Sizes glued to a dimension (``7x7x7cm``)
are left alone. ``pint``/``quart`` and other rare units are left as written.

Speed: translation tables are lazily-filled dicts (``str.translate`` runs in C and each distinct
code point is classified once), regexes are precompiled and linear (single-character alternations,
possessive quantifiers, fixed-width lookarounds), and pure-ASCII input skips the Unicode work.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

from unidecode import unidecode

__all__ = ["fold", "normalise", "normalise_folded", "tokens", "word_tokens"]

_CACHE_LIMIT = 200_000  # bounds memory of the lazy tables under adversarial input
# Removing a character can enable one more NFKC composition, so fold loops to a fixpoint.
_FOLD_MAX_PASSES = 6

TranslateValue = str | int | None


class _LazyTable(dict[int, TranslateValue]):
    """A ``str.translate`` table that classifies a code point on first sight, then caches it."""

    def __init__(self, compute: Callable[[int], TranslateValue], seed: dict[int, TranslateValue]):
        super().__init__(seed)
        self._compute = compute

    def __missing__(self, cp: int) -> TranslateValue:
        value = self._compute(cp)
        if len(self) < _CACHE_LIMIT:
            self[cp] = value
        return value


# Invisible characters that are not in the Cf/Cc/Cs/Co categories (so the category test misses
# them): combining grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian free variation
# selectors, variation selectors. Braille blank renders as a space, so it becomes one.
_INVISIBLE = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0, *range(0x180B, 0x1810),
     *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]
)  # fmt: skip
_BLANK = frozenset([0x2800])
# NFKC would turn these into letters glued to the word ("LEGO™" -> "LEGOTM"); make them a gap.
_PRE_NFKC = {0x2122: " ", 0x2120: " ", 0x00AE: " ", 0x00A9: " ", 0x2117: " "}
# Combining marks left on an ASCII letter after NFKC composed everything composable are
# strike-through / zalgo decoration, not accents.
_MARKS_AFTER_ASCII = re.compile(
    "(?<=[\x00-\x7f])[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+"
)
_WORD = re.compile(r"\w+")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_ASCII_CTRL = {i: None for i in [*range(32), 127] if not chr(i).isspace()}


@functools.cache
def _confusables() -> tuple[dict[int, TranslateValue], dict[int, str]]:
    """(always-folded non-letter confusables, word-level letter confusables), built on first use."""
    from confusable_homoglyphs.confusables import confusables_data

    symbols: dict[int, TranslateValue] = {}
    letters: dict[int, str] = {}
    for key, entries in confusables_data.items():
        if len(key) != 1 or key.isascii() or unicodedata.normalize("NFKC", key) != key:
            continue  # NFKC runs first, so keys it rewrites can never be seen
        if unicodedata.category(key)[0] == "M":
            continue  # Indic vowel signs etc.; mapping them would break those scripts
        targets = [e["c"] for e in entries if e["c"].isascii() and e["c"].isprintable()]
        if not targets:
            continue
        target = targets[0]
        if key.isalnum():
            letters[ord(key)] = "I" if key.isupper() and target == "l" else target
        else:
            symbols[ord(key)] = target
    return symbols, letters


def _classify(cp: int) -> TranslateValue:
    if cp in _INVISIBLE:
        return None
    ch = chr(cp)
    if cp in _BLANK or ch.isspace():
        return " "
    cat = unicodedata.category(ch)
    if cat in ("Cf", "Cs", "Co", "Cc"):
        return None  # format/bidi/zero-width/tags, lone surrogates, private use, controls
    if cat in ("Zs", "Zl", "Zp"):
        return " "
    if cat == "Nd":
        return str(unicodedata.digit(ch))  # Arabic-Indic, Devanagari... digits: "٧٥١٩٢" = 75192
    return _confusables()[0].get(cp, cp)


@functools.cache
def _always_table() -> _LazyTable:
    return _LazyTable(_classify, {i: _classify(i) for i in range(128)})


def _fold_word(m: re.Match[str]) -> str:
    word = m.group()
    if word.isascii():
        return word
    folded = word.translate(_confusables()[1])
    if folded == word:
        return word
    if folded.isascii() or _ASCII_LETTER.search(word):
        return folded  # whole-word spoof, or Latin word with foreign look-alikes mixed in
    return word  # genuine foreign-script word: leave it to transliteration


def _fold_step(s: str) -> str:
    s = unicodedata.normalize("NFKC", s.translate(_PRE_NFKC)).translate(_always_table())
    s = _MARKS_AFTER_ASCII.sub("", s)
    if not s.isascii():
        s = _WORD.sub(_fold_word, s)
    return " ".join(s.split())


def fold(text: str) -> str:
    """Identifier-safe folding: NFKC, homoglyphs -> ASCII, invisibles dropped, spaces collapsed."""
    if text.isascii():
        return " ".join(text.translate(_ASCII_CTRL).split())
    s = text
    for _ in range(_FOLD_MAX_PASSES):
        t = _fold_step(s)
        # A step's output is stable unless it can still compose (not NFKC) or gained a mark on a
        # freshly folded ASCII letter; checking that is cheaper than running a confirming step.
        if t == s or t.isascii():
            return t
        if unicodedata.is_normalized("NFKC", t) and not _MARKS_AFTER_ASCII.search(t):
            return t
        s = t
    return s


def _transliterate(cp: int) -> TranslateValue:
    ch = chr(cp)
    out = unidecode(ch)
    if out:
        return out
    # Nothing to transliterate to: a mark vanishes; an emoji / pictograph / unknown letter
    # becomes a gap so the words either side of it do not fuse.
    return None if unicodedata.category(ch)[0] == "M" else " "


@functools.cache
def _translit_table() -> _LazyTable:
    return _LazyTable(_transliterate, {i: i for i in range(128)})


# --- leetspeak ---------------------------------------------------------------------------------
# Hand table: no maintained library covers leetspeak. 1 -> i (not l): "m1n1", "barb1e", "f1sher"
# are the common evasions; for l-words the fuzzy matcher absorbs the one-letter difference.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
                       "@": "a", "$": "s", "!": "i", "|": "l"})  # fmt: skip
_LEET_CHARS = "013457@$!|"
_LEET_INTERIOR = re.compile(r"[a-z][013457@$!|]++[a-z]")  # leet run inside a letter run
_LEET_TOKEN = re.compile(r"[a-z0-9@$!|]+")
_LEET_SYMBOL_SPLIT = re.compile(r"([@$!|]+)")
_NON_LEET_DIGIT = re.compile(r"[2689]")
_DIFFERENT_ADJACENT_DIGITS = re.compile(r"(\d)(?!\1)\d")
_DIMENSION = re.compile(r"\d+(?:x\d+)+[a-z]{0,4}")


def _is_leet(core: str) -> bool:
    """Whether the token `core` is leetspeak.

    The documented rule: a token is leetspeak iff it has >= 2 letters, a leet run sits between
    two letters ("falc0n", "w4rs", "l3g0"), it has no other digit (2 6 8 9) and no two different
    adjacent digits ("0192", "49", "12" mark codes and quantities; "b00k" is fine), and it is not a
    dimension ("7x7x7", "5x5cm"). Then every leet character in it is substituted. Known cost:
    letter-digit-letter codes ("a1b", "c3po") are read as leet -- harmless because both sides of a
    comparison are normalised alike, and identifiers should be matched on ``fold`` anyway.
    """
    return (
        sum(c.isalpha() for c in core) >= 2
        and _LEET_INTERIOR.search(core) is not None
        and _NON_LEET_DIGIT.search(core) is None
        and _DIFFERENT_ADJACENT_DIGITS.search(core) is None
        and _DIMENSION.fullmatch(core) is None
    )


def _leet_token(m: re.Match[str]) -> str:
    tok = m.group()
    if not _LEET_INTERIOR.search(tok):
        return tok
    core = tok.strip("!|")  # a trailing "!" or a "|" separator is punctuation, not a letter
    start = len(tok) - len(tok.lstrip("!|"))
    lead, trail = tok[:start], tok[start + len(core) :]
    if _is_leet(core):
        return lead + core.translate(_LEET) + trail
    # Not leet as a whole: its symbols will become spaces, so judge each piece on its own now,
    # exactly as a second pass would (keeps normalise idempotent).
    parts = _LEET_SYMBOL_SPLIT.split(core)
    return lead + "".join(p.translate(_LEET) if i % 2 == 0 and _is_leet(p) else p
                          for i, p in enumerate(parts)) + trail  # fmt: skip


# --- punctuation, masking, letter spacing ------------------------------------------------------
# "*" touching a letter is a mask ("l*go", "fisher-pr*ce"): dropped, so the fuzzy matcher still
# scores the word highly against the unmasked name. Apostrophes are dropped ("children's").
_MASK_OR_APOSTROPHE = re.compile(r"(?<=[a-z])\*+|\*+(?=[a-z])|['`]+")
# Keep one "-", "." or "/" between two alphanumerics (model numbers, "1.5", "3/4"); every other
# non-alphanumeric, and every run, becomes a space.
_PUNCT = re.compile(r"(?:[^a-z0-9\s\-./]|(?<![a-z0-9])[\-./]|[\-./](?![a-z0-9]))+")
# >= 3 single letters separated by one space / "." / "-" / "/": "l e g o", "l.e.g.o", "l-e-g-o".
_SPACED = re.compile(r"(?<![a-z0-9])[a-z](?:[ ./\-][a-z](?![a-z0-9])){2,}")
_SPACED_SEPARATORS = str.maketrans("", "", " ./-")


def _join_spaced(m: re.Match[str]) -> str:
    return m.group().translate(_SPACED_SEPARATORS)


# --- units -------------------------------------------------------------------------------------
_UNITS = {
    **dict.fromkeys(("oz", "ounce", "ounces", "onzas"), "oz"),
    **dict.fromkeys(("lb", "lbs", "pound", "pounds"), "lb"),
    **dict.fromkeys(("inch", "inches", "in"), "in"),
    **dict.fromkeys(("ft", "foot", "feet"), "ft"),
    **dict.fromkeys(("mah",), "mah"),
    **dict.fromkeys(("wh",), "wh"),
    **dict.fromkeys(("mm", "millimeter", "millimeters", "millimetre", "millimetres"), "mm"),
    **dict.fromkeys(("cm", "centimeter", "centimeters", "centimetre", "centimetres"), "cm"),
    **dict.fromkeys(("ml", "milliliter", "milliliters", "millilitre", "millilitres"), "ml"),
    **dict.fromkeys(("kg", "kgs", "kilogram", "kilograms", "kilo", "kilos"), "kg"),
    **dict.fromkeys(("v", "volt", "volts"), "volt"),  # never one letter: see _SPACED
    **dict.fromkeys(("w", "watt", "watts"), "watt"),
    **dict.fromkeys(("pc", "pcs", "piece", "pieces"), "pcs"),
    **dict.fromkeys(("pk", "pack", "packs"), "pack"),
}
# A number (not glued to a letter, digit or dimension "x" before it), an optional "-" or space,
# then a unit word that ends there: "14-ounce", "10000mah", "3 pieces", "1.5 oz".
_UNIT_AFTER_NUMBER = re.compile(
    r"(?<![a-z0-9.])(\d+(?:\.\d+)?) ?-? ?("
    + "|".join(sorted(_UNITS, key=len, reverse=True))
    + r")(?![a-z0-9])"
)
_THOUSANDS = re.compile(r"(?<![\d,.])\d{1,3}(?:,\d{3})+(?![\d,])")


def _unit(m: re.Match[str]) -> str:
    return f"{m.group(1)} {_UNITS[m.group(2)]}"


def _thousands(s: str) -> str:
    return _THOUSANDS.sub(lambda m: m.group().replace(",", ""), s) if "," in s else s


def _units(s: str) -> str:
    """Units spelled one way; runs last, on the final spacing, so normalise stays idempotent."""
    return _UNIT_AFTER_NUMBER.sub(_unit, s) if any(c.isdigit() for c in s) else s


def normalise(text: str) -> str:
    """The matching form of a text.

    Fold, transliterate, lower-case, undo leet/masks/spacing, strip noise, one spelling per unit.
    """
    return normalise_folded(fold(text))


def normalise_folded(s: str) -> str:
    """Normalise a text already passed through `fold`, so a caller needing both folds once.

    ``normalise(t) == normalise_folded(fold(t))``.
    """
    if not s.isascii():
        s = s.translate(_translit_table())
    s = _MASK_OR_APOSTROPHE.sub("", s.lower())
    if _LEET_INTERIOR.search(s):
        s = _LEET_TOKEN.sub(_leet_token, s)
    s = " ".join(_PUNCT.sub(" ", _thousands(s)).split())
    return _units(_SPACED.sub(_join_spaced, s))


_ALNUM_RUN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Word tokens of the normalised text, for fuzzy / token-overlap features."""
    return word_tokens(normalise(text))


def word_tokens(normalised: str) -> list[str]:
    """Word tokens of an already-normalised text.

    Equivalent to ``tokens`` on the raw text: ``tokens(t) == word_tokens(normalise(t))``.
    """
    return _ALNUM_RUN.findall(normalised)
