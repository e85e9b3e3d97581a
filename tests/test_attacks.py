"""Each evasion tactic does what it claims, on real-looking recall entries, reproducibly."""

from __future__ import annotations

import random
import re

import pytest
from rapidfuzz.distance import Levenshtein

from model.matching.normalise import normalise
from model.schema import MAX_TITLE_CHARS, BlocklistEntry
from training.attacks import TACTICS, AttackedListing, NotApplicable, generate, plain_variants
from training.attacks._vocab import INVISIBLES, SELLER_BRANDS

STACKER = BlocklistEntry(
    entry_id="eu-A12-01234-24", source="eu_safety_gate", product_name="Wooden Stacking Toy",
    brand="Tender Leaf", model_numbers=("TB-MZWJ",), category="Toys",
)  # fmt: skip
FALCON = BlocklistEntry(
    entry_id="cpsc-10917", source="cpsc", product_name="LEGO Star Wars Millennium Falcon",
    brand="LEGO", model_numbers=("75192",), gtins=("5702015869935",),
)  # fmt: skip
SLEEPER = BlocklistEntry(
    entry_id="cpsc-10041", source="cpsc", product_name="Fisher-Price Rock n Play Sleeper",
    brand="Fisher-Price",
)  # fmt: skip
SLIME = BlocklistEntry(entry_id="eu-slime", source="eu", product_name="Slime", brand="None")
GTIN_ONLY = BlocklistEntry(
    entry_id="eu-gtin", source="eu", product_name="Magnetic toy", gtins=("4006592012345",)
)
ENTRIES = [STACKER, FALCON, SLEEPER, SLIME, GTIN_ONLY]
SEEDS = range(8)


def attack(tactic: str, entry: BlocklistEntry, seed: int = 0) -> str:
    return TACTICS[tactic](entry, random.Random(seed)).title


def original(entry: BlocklistEntry) -> str:
    return (
        entry.product_name
        if entry.brand.lower() in entry.product_name.lower()
        else (f"{entry.brand} {entry.product_name}")
    )


def test_all_required_tactics_exist() -> None:
    assert set(TACTICS) >= {
        "brand_removed", "brand_replaced", "generic_rewrite", "typos", "leetspeak", "homoglyphs",
        "zero_width", "letter_spacing", "keyword_stuffing", "identifier_only", "word_reorder",
        "multipack",
    }  # fmt: skip


@pytest.mark.parametrize("tactic", list(TACTICS))
def test_every_tactic_yields_a_valid_listing(tactic: str) -> None:
    listing = TACTICS[tactic](FALCON, random.Random(3))
    assert listing.listing_id == f"attack-{tactic}-{FALCON.entry_id}-0"
    assert 0 < len(listing.title) <= MAX_TITLE_CHARS
    assert listing.title != original(FALCON)


@pytest.mark.parametrize("seed", SEEDS)
def test_brand_removed_and_replaced(seed: int) -> None:
    removed = attack("brand_removed", SLEEPER, seed)
    assert "fisher" not in removed.lower() and "Rock n Play Sleeper" in removed
    replaced = TACTICS["brand_replaced"](STACKER, random.Random(seed))
    assert "tender" not in replaced.title.lower()
    assert replaced.brand in SELLER_BRANDS and replaced.title.startswith(replaced.brand)
    assert attack("brand_removed", SLIME, seed).startswith("Slime")  # "None" is no brand


@pytest.mark.parametrize("seed", SEEDS)
def test_generic_rewrite_drops_brand_and_exact_name(seed: int) -> None:
    title = attack("generic_rewrite", STACKER, seed)
    assert "tender" not in title.lower()
    assert "wooden stacking toy" not in normalise(title)


@pytest.mark.parametrize("seed", SEEDS)
def test_typos_are_small_edits(seed: int) -> None:
    title = attack("typos", STACKER, seed)
    assert 1 <= Levenshtein.distance(title.lower(), original(STACKER).lower()) <= 6
    assert len(title.split()) == len(original(STACKER).split())


@pytest.mark.parametrize("seed", SEEDS)
def test_leetspeak_substitutes_and_normalise_mostly_recovers(seed: int) -> None:
    title = attack("leetspeak", FALCON, seed)
    assert re.search(r"[013457@$!]", title.replace("75192", ""))
    assert Levenshtein.normalized_similarity(normalise(title), normalise(original(FALCON))) > 0.9


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("entry", [STACKER, FALCON, SLEEPER, SLIME], ids=lambda e: e.entry_id)
def test_homoglyphs_look_alike_and_normalise_back(seed: int, entry: BlocklistEntry) -> None:
    title = attack("homoglyphs", entry, seed)
    assert not title.isascii()
    assert normalise(title) == normalise(original(entry).replace("None ", ""))


@pytest.mark.parametrize("seed", SEEDS)
def test_zero_width_hides_characters_inside_words(seed: int) -> None:
    title = attack("zero_width", FALCON, seed)
    assert any(ch in title for ch in INVISIBLES)
    assert not any(title.startswith(ch) or f" {ch}" in title for ch in INVISIBLES)
    assert normalise(title) == normalise(original(FALCON))


@pytest.mark.parametrize("seed", SEEDS)
def test_letter_spacing_spaces_out_the_brand(seed: int) -> None:
    title = attack("letter_spacing", FALCON, seed)
    assert re.match(r"L\W+E\W+G\W+O\b", title, re.IGNORECASE)
    assert normalise(title) == normalise(original(FALCON))


def test_non_toy_entries_get_neutral_wording() -> None:
    car = BlocklistEntry(
        entry_id="eu-car", source="eu", product_name="Range Rover Sport", brand="Land Rover",
        category="Motor vehicles", model_numbers=("L494",),
    )  # fmt: skip
    texts = [attack(t, car, seed) for seed in SEEDS for t in ("keyword_stuffing", "brand_removed")]
    texts += [attack("identifier_only", car, seed) for seed in SEEDS]
    assert not [t for t in texts if re.search(r"kid|toddler|child|bab(y|ies)|toy", t, re.I)]


def test_keyword_stuffing_appends_seo_spam_within_limit() -> None:
    title = attack("keyword_stuffing", STACKER)
    assert title.startswith(original(STACKER)) and len(title) > len(original(STACKER)) + 20
    long_name = BlocklistEntry(entry_id="long", source="x", product_name="Toy " * 120)
    assert len(attack("keyword_stuffing", long_name)) <= MAX_TITLE_CHARS


@pytest.mark.parametrize("seed", SEEDS)
def test_identifier_only_lists_the_identifier_without_brand(seed: int) -> None:
    title = attack("identifier_only", STACKER, seed)
    assert "TB-MZWJ" in title and "tender" not in title.lower() and "leaf" not in title.lower()
    falcon = attack("identifier_only", FALCON, seed)
    assert ("75192" in falcon or "5702015869935" in falcon) and "lego" not in falcon.lower()
    assert "4006592012345" in attack("identifier_only", GTIN_ONLY, seed)


def test_identifier_only_without_identifier_is_not_applicable() -> None:
    with pytest.raises(NotApplicable):
        TACTICS["identifier_only"](SLEEPER, random.Random(0))


def test_brand_free_tactics_skip_a_name_that_is_only_the_brand() -> None:
    only_brand = BlocklistEntry(entry_id="b", source="x", product_name="LEGO", brand="LEGO")
    for tactic in ("brand_removed", "brand_replaced", "generic_rewrite"):
        with pytest.raises(NotApplicable):
            TACTICS[tactic](only_brand, random.Random(0))


def test_word_reorder_shuffles_the_same_words() -> None:
    title = attack("word_reorder", FALCON)
    assert title != original(FALCON) and sorted(title.split()) == sorted(original(FALCON).split())
    with pytest.raises(NotApplicable):
        TACTICS["word_reorder"](SLIME, random.Random(0))


@pytest.mark.parametrize("seed", SEEDS)
def test_multipack_adds_pack_wording(seed: int) -> None:
    title = attack("multipack", STACKER, seed)
    assert re.search(r"pack|set of|bundle|pcs|\d+x ", title, re.IGNORECASE)
    assert "Wooden Stacking Toy" in title


def test_generate_covers_every_tactic_and_is_deterministic() -> None:
    first = generate(ENTRIES, seed=0)
    assert {a.tactic for a in first} == set(TACTICS)
    assert all(isinstance(a, AttackedListing) for a in first)
    assert first == generate(ENTRIES, seed=0)
    assert first != generate(ENTRIES, seed=1)
    assert sorted(first, key=str) == sorted(generate(ENTRIES[::-1], seed=0), key=str)
    # identifier_only is skipped for the entry without identifiers, not faked
    assert not [a for a in first if a.tactic == "identifier_only" and a.entry_id == "cpsc-10041"]


def test_generate_per_tactic_ids_and_tactic_subset() -> None:
    items = generate([FALCON], tactics=["homoglyphs", "typos"], per_tactic=3, seed=5)
    assert {a.tactic for a in items} == {"homoglyphs", "typos"}
    ids = [a.listing.listing_id for a in items]
    assert "attack-homoglyphs-cpsc-10917-0" in ids and len(set(ids)) == len(ids)
    assert len({a.listing.title for a in items}) == len(items)
    with pytest.raises(ValueError, match="unknown attack tactics"):
        generate([FALCON], tactics=["nope"])


def test_plain_variants_are_clean_distinct_and_seeded() -> None:
    variants = plain_variants(FALCON, random.Random(1), n=4)
    assert len(variants) == 4 and variants[0].title == FALCON.product_name
    assert len({normalise(v.title) for v in variants}) == 4
    assert all(v.title.isascii() and v.listing_id.startswith("plain-cpsc-10917-") for v in variants)
    assert [v.title for v in variants] == [
        v.title for v in plain_variants(FALCON, random.Random(1), n=4)
    ]
    everything = plain_variants(STACKER, random.Random(0), n=20)
    assert any("TB-MZWJ" in v.title for v in everything)
    assert any(v.title.startswith("Tender Leaf") for v in everything)
    assert len(plain_variants(SLIME, random.Random(0), n=2)) == 2
