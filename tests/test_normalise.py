"""Normalisation rules on concrete evasions, plus properties that must hold for any string."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.matching.normalise import fold, normalise, tokens

# Quantities ("12v", "3-pack") are not here: their units get one spelling (test_units_...).
IDENTIFIERS = ["75192", "TB-MZWJ", "5x5", "AJ0192-Y-3", "gjd49"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff", "\u202e", "\ufe0f",
             "\U000e0041", "\x00", "\x7f"]  # fmt: skip

# Every code point class, surrogates and controls included.
ANY_TEXT = st.text(alphabet=st.characters(codec=None, categories=None), max_size=60)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_leetspeak_is_undone_inside_words() -> None:
    assert "lego star wars millenium falcon" in normalise("L3G0 Star W4rs Millenium Falc0n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("b00k", "book"),
        ("m1n1 f1gure", "mini figure"),
        ("$t4r", "star"),
        ("w!ld", "wild"),
        ("Bu!ld3r!", "builder"),
        ("5tar", "5tar"),
        ("c00l 12@b3c", "cool 12 bec"),
    ],
)
def test_leet_rule_examples(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize("text", ["LЕGО", "ＬＥＧＯ", "L\u0415G\u039f", "ⓁⒺⒼⓄ", "𝐋𝐄𝐆𝐎"])
def test_homoglyphs_and_full_width_fold_to_ascii(text: str) -> None:
    assert fold(text) == "LEGO"
    assert normalise(text) == "lego"


def test_whole_word_cyrillic_spoof_folds_but_real_cyrillic_is_transliterated() -> None:
    assert normalise("ВОХ") == "box"  # every letter has a Latin look-alike: a spoof
    assert normalise("Звезда") == "zvezda"  # genuine Russian: phonetic, not visual


@pytest.mark.parametrize("ch", INVISIBLE)
def test_invisible_characters_inside_a_word_are_removed(ch: str) -> None:
    assert fold(f"LE{ch}GO Duplo") == "LEGO Duplo"
    assert normalise(f"LE{ch}GO") == "lego"


def test_strike_through_marks_on_latin_letters_are_removed() -> None:
    assert fold("L\u0336E\u0336G\u0336O\u0336") == "LEGO"


def test_accents_survive_fold_and_transliterate_in_normalise() -> None:
    assert fold("Poupée") == "Poupée"
    assert normalise("Poupée Spielzeug für Kinder") == "poupee spielzeug fur kinder"


@pytest.mark.parametrize("text", ["L E G O", "L.E.G.O", "L-E-G-O", "l . e . g . o", "L. E. G. O."])
def test_letter_spacing_is_rejoined(text: str) -> None:
    assert normalise(f"{text} Duplo") == "lego duplo"


def test_two_single_letters_are_not_rejoined() -> None:
    assert normalise("Plan B a toy") == "plan b a toy"


@pytest.mark.parametrize("ident", IDENTIFIERS)
def test_identifiers_survive(ident: str) -> None:
    assert fold(ident) == ident
    assert normalise(ident) == ident.lower()
    assert normalise(f"L3G0 set {ident} W4rs") == f"lego set {ident.lower()} wars"


def test_other_script_digits_become_ascii_digits() -> None:
    assert fold("LEGO ٧٥١٩٢ AJ٠١٩٢-Y-3") == "LEGO 75192 AJ0192-Y-3"


def test_dimensions_and_quantities_keep_digits() -> None:
    assert (
        normalise("7x7x7cm cube 5×5 puzzle 3pcs 4wd ps5") == "7x7x7cm cube 5x5 puzzle 3 pcs 4wd ps5"
    )


def test_masked_brand_drops_the_mask() -> None:
    assert normalise("L*GO Fisher-Pr*ce") == "lgo fisher-prce"


def test_emoji_trademarks_and_punctuation_runs_are_stripped() -> None:
    assert normalise("🔥🔥 LEGO™ Duplo®!!! 🎁 *** SALE ***") == "lego duplo sale"
    assert fold("LEGO™") == "LEGO"


def test_whitespace_is_collapsed_and_case_kept_by_fold() -> None:
    assert fold("  Lego\t\n  Duplo\u00a0\u3000Set ") == "Lego Duplo Set"


def test_tokens_are_alnum_runs_of_the_normalised_text() -> None:
    assert tokens("L3G0 Star-W4rs AJ0192-Y-3!!") == ["lego", "star", "wars", "aj0192", "y", "3"]


def test_lone_surrogates_and_controls_do_not_raise() -> None:
    assert fold("\ud800LE\udfffGO\x00") == "LEGO"
    assert normalise("\udbff\x1bL3G0\x07") == "lego"


def test_long_input_completes_linearly() -> None:
    chunk = "L3G0 \u200bЅtar W4rs 75192 L E G O 🔥 a1 " * 2_500
    out = normalise(chunk * 2)
    assert len(chunk) * 2 >= 100_000
    assert out.startswith("lego star wars 75192 lego")
    assert normalise("a" * 100_000) == "a" * 100_000
    assert fold("\u0301" * 100_000) == "\u0301" * 100_000


@FAST
@given(ANY_TEXT)
def test_never_raises_and_is_idempotent(text: str) -> None:
    folded, norm = fold(text), normalise(text)
    assert fold(folded) == folded
    assert normalise(norm) == norm
    assert norm.isascii() and norm == norm.lower()
    assert tokens(text) == [t for t in tokens(norm)]


@FAST
@given(st.text(alphabet="aeilostLEGO0134579@$!|*.-/ '\u200bЕОеоа×", max_size=40))
def test_idempotent_on_evasion_alphabet(text: str) -> None:
    norm = normalise(text)
    assert normalise(norm) == norm


def test_units_have_one_spelling() -> None:
    """Issue 10: "14 oz" = "14-Ounce", "10,000mAh" = "10000 mAh" in the matching form."""
    assert normalise("14 oz") == normalise("14-Ounce") == "14 oz"
    assert normalise("10,000mAh") == normalise("10000 mAh") == "10000 mah"
    assert normalise("Reusable 8oz baby bottle") == "reusable 8 oz baby bottle"
    assert normalise("1.5-inch 3 Pieces 2-Pack 5V") == "1.5 in 3 pcs 2 pack 5 volt"
    # Not a unit: "5 in 1", a dimension, a model code, a price's cents.
    assert normalise("5 in 1 set 7x7x7cm BI-B41 $1,299.99") == "5 in 1 set 7x7x7cm bi-b41 1299.99"
