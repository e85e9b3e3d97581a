"""Evidence beyond the name (issue 10): specificity weights, identifier relations, the evidence
rules, brand candidates against padding, same-product groups. Fast: fakes, no model."""

from __future__ import annotations

import hashlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from model.matching.candidates import CandidateSearch, candidate_probabilities
from model.matching.features import FEATURE_NAMES, candidate_features, pair_features
from model.matching.index import BlocklistIndex, entry_identifiers
from model.matching.rules import BLOCK_CAP, REVIEW_FLOOR, RULE_EVIDENCE, apply_rules, evidence
from model.matching.specificity import (
    INDEX_MIN_CODES,
    CodeIndex,
    TermWeights,
    brand_words,
    distinctive,
    family,
    family_match,
    sibling,
)
from model.matching.thresholds import choose_thresholds
from model.matching.verdict import Thresholds
from model.matching.views import EntryView, ListingView
from model.schema import BlocklistEntry, Listing
from training.same_product import same_product_groups

BED_RAIL = BlocklistEntry(
    "cpsc-10615",
    "cpsc",
    "Beloems Adult Portable Bed Rails",
    brand="Beloems",
    model_numbers=("BLBR201",),
    description="Beloems bed rails, model BLBR201, black steel.",
)
TOOYBING = BlocklistEntry(
    "cpsc-10917",
    "cpsc",
    "TooyBing Wooden Bead Stacking Toys",
    brand="TooyBing",
    model_numbers=("TB-MZWJ",),
    description="Wooden stacking toy with beads, model TB-MZWJ.",
)
PLASTIC = BlocklistEntry("eu-A12/1", "eu", "Beauty horse (Plastic toy)", description="Plastic toy")
PEDALS = BlocklistEntry(
    "cpsc-8919",
    "cpsc",
    "PR70P Clip-In Pedals fitted on Peloton bikes (sold between July 2013 and May 2016)",
    brand="Peloton",
    model_numbers=("PR70P",),
    description="The pedals being recalled are the PR70P or first-generation pedal.",
)
DIVE_STICKS = BlocklistEntry(
    "cpsc-10806",
    "cpsc",
    "Sloosh Dive Sticks",
    brand="Joyin",
    model_numbers=("40041",),
    description="Sloosh dive sticks in packages of Sloosh water toys, model 40041.",
)
BOTTLE = BlocklistEntry(
    "cpsc-10803",
    "cpsc",
    "Boon NURSH 8 oz Reusable Baby Bottles",
    brand="TOMY",
    description="Boon NURSH reusable silicone pouch baby bottles, 8 oz.",
)
FILLER = [
    BlocklistEntry(f"eu-{i}", "eu", f"{w} toy for children", description=f"{w} plastic toy")
    for i, w in enumerate(["Doll", "Car", "Ball", "Slime", "Puzzle", "Kite", "Drum", "Robot"])
]
FILLER += [
    BlocklistEntry(f"cpsc-{i}", "cpsc", name, description=f"This recall involves {name.lower()}.")
    for i, name in enumerate(
        [
            "Reusable water bottle 8 oz",
            "Baby bottle warmer",
            "Reusable baby food pouch",
            "Portable baby bottle 10 oz",
            "Reusable lunch bottle",
            "Plastic baby bottles",
        ]
    )
]
ENTRIES = [BED_RAIL, TOOYBING, PLASTIC, BOTTLE, *FILLER]
COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


class HashEncoder:
    """Bag of hashed words: similar word sets give similar vectors, no model needed."""

    dim = 64

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.full((len(texts), self.dim), 1e-3, dtype=np.float32)
        for i, text in enumerate(texts):
            for w in text.split():
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class ConstantClassifier:
    """Says `p` for every pair: isolates the rules from anything learnt."""

    def __init__(self, p: float) -> None:
        self.p = p

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([np.full(len(X), 1 - self.p), np.full(len(X), self.p)])


def pair(
    title: str,
    entry: BlocklistEntry,
    brand: str = "",
    ids: tuple[str, ...] = (),
    entries: list[BlocklistEntry] = ENTRIES,
) -> tuple[np.ndarray, np.ndarray]:
    """(pair-feature row, rule-evidence row) of a listing against `entry`, IDF over `entries`."""
    terms = TermWeights.from_entries(entries)
    index_ids = {i: [0] for e in entries for i in entry_identifiers(e)}
    view = ListingView.of(Listing(title=title, brand=brand, identifiers=list(ids)), index_ids)
    entry_view = [EntryView.of(entry, entry_identifiers(entry), terms)]
    return candidate_features(view, entry_view, [0.8], terms), evidence(view, entry_view)


def features(title: str, entry: BlocklistEntry, brand: str = "") -> np.ndarray:
    return pair(title, entry, brand)[0]


def test_identifier_relations() -> None:
    assert sibling("BLBR202", "BLBR201")
    assert not sibling("BLBR201", "BLBR201")
    assert not sibling("BLBR201", "XQ77201")
    assert family("KYE008", "E008") and family("SL712", "SL712202201")
    assert not family("E008", "E008")
    assert distinctive("TBMZWJ") and distinctive("E008") and not distinctive("X12")


def test_brand_words_drop_importer_noise() -> None:
    assert brand_words("Ouwoer Direct (Recall Alert)") == {"ouwoer"}
    assert brand_words("Ecnup Exclusively on Amazon.com") == {"ecnup"}
    assert brand_words("", ["Pottery Barn Kids"]) == {"pottery", "barn", "kids"}


def test_rare_words_weigh_more_than_common_ones() -> None:
    terms = TermWeights.from_entries(ENTRIES)
    assert terms.weight("tooybing") > terms.weight("toy")


def test_sibling_model_is_review_at_most() -> None:
    row = features("Beloems Adult Portable Bed Rail, Model: BLBR202", BED_RAIL, "Beloems")
    assert row[0, COL["id_sibling"]] == 1.0
    assert row[0, COL["distinctive_id_match"]] == 0.0
    p = apply_rules(np.array([0.999]), row)
    assert p[0] <= BLOCK_CAP < 0.5
    assert Thresholds(block=0.5, review=0.2).decide(float(p[0])) == "review"


def test_a_colour_the_notice_does_not_give_is_review_at_most() -> None:
    # The real tune-half look-alike dev-119: INIU's red power bank against the black/blue recall.
    row = features("INIU Portable Charger 10000mAh Slim Power Bank, Red", POWER_BANK, "INIU")
    assert row[0, COL["colour_conflict"]] == 1.0
    p = apply_rules(np.array([0.95]), row)
    assert p[0] <= BLOCK_CAP
    assert Thresholds(block=0.5, review=0.2).decide(float(p[0])) == "review"
    # A colour the notice gives is no conflict, and the recalled code outweighs a colour.
    blue = features("INIU Portable Charger 10000mAh Slim Power Bank, Blue", POWER_BANK, "INIU")
    assert apply_rules(np.array([0.95]), blue)[0] == 0.95
    coded = features("INIU Power Bank BI-B41, Red", POWER_BANK, "INIU")
    assert coded[0, COL["distinctive_id_match"]] == 1.0
    assert apply_rules(np.array([0.95]), coded)[0] == 0.95


def rule_evidence(title: str, entry: BlocklistEntry, brand: str = "") -> np.ndarray:
    return pair(title, entry, brand)[1]


def test_a_recall_named_by_its_code_needs_the_code_to_block() -> None:
    # The real test-half look-alike dev-118, and the real positive dev-057 beside it.
    honest = "Peloton clip-in pedals, white logo (no orange) - Look Delta compatible, pair"
    flags = rule_evidence(honest, PEDALS, "Peloton")
    assert flags.shape == (1, len(RULE_EVIDENCE)) and flags[0, 0] == 1.0
    p = apply_rules(np.array([0.95]), features(honest, PEDALS, "Peloton"), flags)
    assert p[0] <= BLOCK_CAP
    assert Thresholds(block=0.5, review=0.2).decide(float(p[0])) == "review"
    assert apply_rules(np.array([0.95]), features(honest, PEDALS, "Peloton"))[0] == 0.95
    recalled = "Clip-in bike pedals pair PR70P, orange logo on binding"
    assert rule_evidence(recalled, PEDALS)[0, 0] == 0.0
    # A notice that names no code in its name asks for none.
    assert rule_evidence("INIU power bank blue", POWER_BANK)[0, 0] == 0.0


def test_candidate_sets_carry_the_rule_evidence_to_the_probabilities() -> None:
    index = BlocklistIndex.from_entries([PEDALS, *FILLER], HashEncoder())
    search = CandidateSearch(HashEncoder(), index, k=3)
    honest = Listing(title="Peloton clip-in pedals, white logo", brand="Peloton")
    coded = Listing(title="Peloton clip-in pedals PR70P", brand="Peloton")
    found = search.find([honest, coded])
    first = [f.entries.index(0) for f in found]
    assert [f.rule_evidence[i, 0] for f, i in zip(found, first, strict=True)] == [1.0, 0.0]
    p = candidate_probabilities(ConstantClassifier(0.95), found)
    assert p[0][first[0]] <= BLOCK_CAP and p[1][first[1]] == 0.95


def test_a_short_code_with_the_names_rare_word_never_allows() -> None:
    # The real tune-half case dev-033: the store brand and the notice's short model number.
    # A blocklist of realistic size, where one notice's store brand is rare (IDF share ≥ 0.85).
    more = [BlocklistEntry(f"eu-x{i}", "eu", f"Plastic toy model {i}") for i in range(40)]
    entries = [*ENTRIES, *more, DIVE_STICKS]

    def row(title: str, ids: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
        return pair(title, DIVE_STICKS, ids=ids, entries=entries)

    title = "Sloosh 30 Pcs Diving Pool Toys Set with Dive Sticks and Dive Rings"
    feats, flags = row(title, ("40041",))
    assert feats[0, COL["shared_identifiers"]] == 1.0
    assert feats[0, COL["distinctive_id_match"]] == 0.0  # five digits alone are not distinctive
    assert flags[0, RULE_EVIDENCE.index("rare_name_word")] == 1.0
    assert apply_rules(np.array([0.1]), feats, flags)[0] >= REVIEW_FLOOR
    # Either piece alone leaves the classifier's word standing.
    for alone in row(title), row("Pool toys set, 30 pieces", ("40041",)):
        assert apply_rules(np.array([0.1]), *alone)[0] == 0.1


def test_exact_identifier_and_brand_never_allow() -> None:
    row = features("TooyBing 木制串珠叠叠乐玩具 TB-MZWJ", TOOYBING)
    assert row[0, COL["distinctive_id_match"]] == 1.0
    assert row[0, COL["brand_token_match"]] == 1.0
    p = apply_rules(np.array([0.0]), row)
    assert p[0] >= REVIEW_FLOOR
    y = np.array([1, 1, 0, 0])
    report = choose_thresholds(y, np.array([0.9, 0.95, 0.5, 0.6]), max_review=REVIEW_FLOOR)
    assert report.thresholds.review <= REVIEW_FLOOR
    assert report.thresholds.decide(float(p[0])) != "allow"


def test_bare_generic_titles_cannot_block() -> None:
    for title, entry in (("toy", PLASTIC), ("Reusable 8 oz baby bottle", BOTTLE)):
        row = features(title, entry)
        assert row[0, COL["generic_only"]] == 1.0, title
        assert apply_rules(np.array([0.99]), row)[0] < 0.5
    # The same words plus the name's rare word are specific again.
    assert features("Boon NURSH 8 oz baby bottle", BOTTLE)[0, COL["generic_only"]] == 0.0


def test_padding_does_not_push_the_recall_out_of_the_candidates() -> None:
    encoder = HashEncoder()
    search = CandidateSearch(encoder, BlocklistIndex.from_entries(ENTRIES, encoder), k=1)
    pad = "montessori educational gift for boys girls toy doll car ball slime puzzle kite"
    found = search.find([Listing(title=f"{pad} {pad} {pad} TooyBing Wooden Bead Stacking Toys")])
    ids = [ENTRIES[e].entry_id for e in found[0].entries]
    assert "cpsc-10917" in ids
    p = candidate_probabilities(ConstantClassifier(0.9), found)[0]
    assert p[ids.index("cpsc-10917")] == 0.9


def test_same_product_groups_join_repeat_notices_only() -> None:
    eu = BlocklistEntry(
        "eu-A1", "eu", "Wooden bead stacking toy", brand="TooyBing", model_numbers=("TB-MZWJ",)
    )
    other = BlocklistEntry(
        "eu-A2", "eu", "Air purifier", brand="Aroeve", model_numbers=("TB-MZWJ",)
    )
    groups = same_product_groups([TOOYBING, eu, other, BED_RAIL])
    assert groups["cpsc-10917"] == {"cpsc-10917", "eu-A1"}
    assert groups["eu-A2"] == {"eu-A2"}
    assert groups["cpsc-10615"] == {"cpsc-10615"}


THERMOS = BlocklistEntry(
    "cpsc-10741",
    "cpsc",
    "Stainless King Food Jars and Bottles",
    brand="Thermos",
    model_numbers=("SK3000",),
    description="This recall involves Thermos Stainless King Food Jars with model number SK3000.",
)
BURRITO = BlocklistEntry(
    "cpsc-8669",
    "cpsc",
    "Safety Goggles sold with Throw Throw Burrito Extreme Going Pro Edition Dodgeball Card Game",
    brand="Exploding Kittens",
    description="Goggles sold with the Extreme Going Pro Edition outdoor game.",
)
POWER_BANK = BlocklistEntry(
    "cpsc-10516",
    "cpsc",
    "Power Banks",
    brand="INIU",
    model_numbers=("BI-B41",),
    description="INIU 10,000mAh power banks, model BI-B41, with a black or blue case.",
)
HELMETS = BlocklistEntry(
    "cpsc-9505",
    "cpsc",
    "Children's multi-sport helmets",
    brand="Sakar International",
    model_numbers=("AGE251TH",),
    description="Tony Hawk, Credhedz Lizard and Crayola Dry-Erase helmets, model AGE251TH.",
)


def col(title: str, entry: BlocklistEntry, name: str, brand: str = "") -> float:
    return float(features(title, entry, brand)[0, COL[name]])


def test_a_line_name_the_notice_never_uses_is_evidence_against() -> None:
    # issue 10's benign "Thermos FUNtainer" beside the Stainless King recall
    assert col("Thermos FUNtainer Food Jar, 10 oz", THERMOS, "line_word_unexplained") == 1.0
    assert col("Thermos Stainless King Food Jar, 16 oz", THERMOS, "line_word_unexplained") == 0.0
    assert col("Food jar by Acme", THERMOS, "line_word_unexplained") == 0.0  # no brand, no line


def test_a_missing_or_other_edition_is_evidence_against() -> None:
    plain = "Throw Throw Burrito by Exploding Kittens - A Dodgeball Card Game"
    assert col(plain, BURRITO, "variant_missing") == 1.0
    original = "Exploding Kittens Original Edition Card Game"
    assert col(original, BURRITO, "variant_extra") == 1.0
    recalled = "Throw Throw Burrito EXTREME Going Pro Edition with safety goggles"
    assert col(recalled, BURRITO, "variant_missing") == 0.0
    assert col(recalled, BURRITO, "variant_extra") == 0.0


def test_only_colours_the_notice_does_not_list_conflict() -> None:
    assert col("INIU Portable Charger 10000mAh, Red", POWER_BANK, "colour_conflict") == 1.0
    assert col("iniu 10000 power bank blue w paw light", POWER_BANK, "colour_conflict") == 0.0
    assert col("INIU Portable Charger 10000mAh", POWER_BANK, "colour_conflict") == 0.0
    assert col("INIU charger, grey/red", POWER_BANK, "colour_conflict") == 1.0


def test_a_brand_the_notice_never_names_conflicts() -> None:
    jar = "Food Canister 16oz, Vacuum Insulated Stainless Steel"
    assert col(jar, THERMOS, "brand_conflict", brand="MiiR") == 1.0
    assert col(jar, THERMOS, "brand_conflict", brand="Thermos") == 0.0
    assert col(jar, THERMOS, "brand_conflict") == 0.0  # no brand given is no conflict
    # A brand the notice's description names (the Sakar notice lists Crayola) is no conflict.
    helmet = "Crayola Dry Erase Kids Bike Helmet"
    assert col(helmet, HELMETS, "brand_conflict", brand="Crayola") == 0.0


def test_a_family_form_of_the_recalled_code_matches_and_does_not_conflict() -> None:
    title = "Kids multi-sport helmet, matte black - item AGE251TH-BKMT"
    assert col(title, HELMETS, "identifier_conflict") == 0.0
    assert col(title, HELMETS, "distinctive_id_match") == 1.0
    assert col("Kids helmet - item XQ77201", HELMETS, "identifier_conflict") == 1.0


def test_a_short_model_token_the_notice_never_uses_is_a_line_word() -> None:
    scooter = BlocklistEntry(
        "cpsc-10164",
        "cpsc",
        "Swagtron SG-5 Swagger 5 Boost Commuter Electric Scooters",
        brand="Swagtron",
        description="SG-5 Swagger 5 Boost scooters, black or silver.",
    )
    assert col("SWAGTRON T1 Hoverboard, Black", scooter, "line_word_unexplained") == 1.0
    assert col("Swagtron Swagger 5 Boost scooter", scooter, "line_word_unexplained") == 0.0


HOVERBOARD = BlocklistEntry(
    "cpsc-7787",
    "cpsc",
    "Self-balancing scooters/hoverboards",
    brand="Swagway",
    description="This recall involves the Swagway X1 Hands-Free Smartboard brand of hoverboards."
    " They were sold in black.",
)


def test_a_line_name_the_notice_uses_is_known_whatever_the_language() -> None:
    # The notice names the X1 only in its description; the title around it is French.
    french = "Hoverboard Swagway X1 mains libres, rouge - planche auto-équilibrante"
    assert col(french, HOVERBOARD, "line_word_known") == 1.0
    assert col(french, HOVERBOARD, "line_word_unexplained") == 0.0
    assert col("Swagway Zoom hoverboard", HOVERBOARD, "line_word_known") == 0.0
    assert col("hoverboard X1", HOVERBOARD, "line_word_known") == 0.0  # no brand, no line
    # The listing's own brand field is skipped like the entry's brand words.
    assert col("Swagway X1", HOVERBOARD, "line_word_known", brand="Swagway Boards") == 1.0


def test_brand_and_known_line_without_conflict_never_allow() -> None:
    row = features("Swagway X1 hoverboard, pick up only", HOVERBOARD)
    assert apply_rules(np.array([0.01]), row)[0] >= REVIEW_FLOOR
    # Anything that contradicts the notice leaves the classifier's word standing.
    for title in ("Swagway X1 hoverboard Deluxe", "Swagway X1 hoverboard, red"):
        assert apply_rules(np.array([0.01]), features(title, HOVERBOARD))[0] == 0.01, title


def test_a_distinctive_code_alone_never_allows() -> None:
    # No brand in the listing: the family form of the recalled code is enough for review.
    row = features("Kids multi-sport helmet, matte black - item AGE251TH-BKMT", HELMETS)
    assert row[0, COL["brand_token_match"]] == 0.0
    assert row[0, COL["distinctive_id_match"]] == 1.0
    assert apply_rules(np.array([0.0]), row)[0] >= REVIEW_FLOOR
    # A short or unrelated code is not.
    assert apply_rules(np.array([0.0]), features("Kids helmet - item XQ77201", HELMETS))[0] == 0.0


def test_a_compound_of_two_notice_words_is_a_known_line_word() -> None:
    power_bank = BlocklistEntry("eu-A12/2", "eu", "VARMFRONT (Power bank)", brand="Ikea")
    assert col("IKEA powerbank E2037 5200mAh", power_bank, "line_word_known") == 1.0
    assert col("IKEA powerbank E2037 5200mAh", power_bank, "line_word_unexplained") == 0.0


# Codes over a small alphabet, so that prefixes, suffixes and shared stems are common.
_CODES = st.text(alphabet="AB12", min_size=2, max_size=9)


@st.composite
def _related(draw: st.DrawFn, ours: set[str]) -> set[str]:
    """Recalled codes: strangers, and prefixes, suffixes, extensions and siblings of ours."""
    out = set(draw(st.sets(_CODES, max_size=3)))
    for code in draw(st.lists(st.sampled_from(sorted(ours)), max_size=4)) if ours else []:
        k = draw(st.integers(1, len(code)))
        extra = draw(_CODES)
        out |= {
            draw(st.sampled_from([code[:k], code[-k:], code + extra, extra + code])),
            code[:-1] + draw(st.sampled_from("AB12")),
            code[:-2] + draw(st.text(alphabet="AB12", min_size=2, max_size=2)),
        }
    return out


@settings(max_examples=500, deadline=None)
@given(ours=st.sets(_CODES, max_size=14), data=st.data())
def test_code_index_answers_as_trying_every_pair(ours: set[str], data: st.DataObject) -> None:
    recalled = data.draw(_related(ours))
    index = CodeIndex.of(ours)
    subset = data.draw(st.sets(st.sampled_from(sorted(ours)))) if ours else set()
    for codes in (ours, subset):
        for strict in (False, True):
            assert index.family_match(codes, recalled, strict) == family_match(
                codes, recalled, distinctive_only=strict
            )
        assert index.sibling_match(codes, recalled) == any(
            sibling(a, b) for a in codes for b in recalled
        )


def test_a_listing_with_many_codes_gets_the_same_features_through_the_index() -> None:
    # More codes than INDEX_MIN_CODES: family forms, a sibling and strangers of the recalled ones.
    codes = ["AGE251TH", "AGE251", "BLBR202", "BLBR2019", "XBLBR201", "E008", "KYE008"]
    codes += [f"QX{i:04d}ZR" for i in range(INDEX_MIN_CODES)]
    view = ListingView.of(Listing(title="Helmet and bed rail " + " ".join(codes)))
    assert len(view.identifiers) > INDEX_MIN_CODES
    terms = TermWeights.from_entries(ENTRIES)
    entries = [EntryView.of(e, entry_identifiers(e), terms) for e in ENTRIES]
    cosines = [0.5 + i / 100 for i in range(len(entries))]
    fuzzy = np.zeros((len(entries), 3))
    indexed = candidate_features(view, entries, cosines, terms, fuzzy)  # through the index
    best = max(cosines)
    n_close = sum(1 for c in cosines if best - c <= 0.02)
    order = np.argsort(-np.asarray(cosines), kind="stable")
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(len(order))
    every_pair = np.asarray(
        [
            pair_features(view, e, c, best, int(r), n_close, f, terms)  # default codes: every pair
            for e, c, r, f in zip(entries, cosines, rank, fuzzy, strict=True)
        ],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(indexed, every_pair)
    assert indexed[:, FEATURE_NAMES.index("id_family")].any()  # the relations are exercised
