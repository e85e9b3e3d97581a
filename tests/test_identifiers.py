"""Identifier extraction on real recall and listing text.

Identifiers are the strongest matching evidence, so these tests pin both directions: the real
identifiers regulators print must be found, and the everyday numbers that are *not* identifiers
(years, units, prices, battery sizes) must never be, because a false identifier blocks an honest
seller.
"""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.matching.identifiers import (
    canonical_id,
    code_family,
    extract_asins,
    extract_gtins,
    extract_identifiers,
    extract_model_numbers,
    is_valid_gtin,
    model_numbers_with_families,
)

# Verbatim from data/us-recalls-recallradar/recalls.json.
CPSC_10925 = (
    "This recall involves Shengsen Prank Sound Maker. The toys were sold in sets of three and come "
    'in yellow with a black push button. "SKU: AJ0192-Y-3" and "ASIN: B0CB9WV7XN" are printed on '
    "the product's packaging."
)
CPSC_10917 = (
    "This recall involves the TooyBing Wooden Bead Stacking Toy, model TB-MZWJ. The multicolored "
    "toys consist of 25 pink, blue, red, orange, purple, green, white and yellow wooden beads, two "
    'wood sticks with yellow and red string laces attached. "Model number: TB-MZWJ" is on the back.'
)
CPSC_10926 = (
    "This recall involves CuberShop's Magnetic Stickerless Speed Cubes, model YJ MGC 5×5. The "
    'products are a handheld 5×5 mechanical puzzle cubes. The Speed Cubes come in a box with "MGC" '
    'and "5x5" printed on the sides of the box.'
)
# Verbatim from data/cpsc-recalls-sportsgear-secondlook/recalls.json (recall 1305).
CPSC_1305 = (
    "This involves Sportspower BouncePro 14' Trampolines with model TR-1686-TPR. UPC code "
    "687064045552 or 687064042100 is printed on the product's box."
)
# Old CPSC press-release boilerplate (sportsgear recall 6226): ZIP code, release and phone numbers.
CPSC_BOILERPLATE = (
    "Treadmills Recalled by Pacific Scientific NEWS from CPSC U.S. Consumer Product Safety "
    "Commission Office of Information and Public Affairs Washington, DC 20207 FOR IMMEDIATE "
    "RELEASE November 18, 1998 Release # 99-024 Company Phone Number: (888) 340-4975"
)


def test_canonical_id_defeats_spacing_case_and_lookalike_evasion() -> None:
    forms = [
        "TB-MZWJ",
        "TB MZWJ",
        "tbmzwj",
        "tb_mzwj",
        "ＴＢ－ＭＺＷＪ",
        "ТВ-MZWJ",
    ]  # last: Cyrillic
    assert {canonical_id(f) for f in forms} == {"TBMZWJ"}
    assert canonical_id("YJ MGC 5×5") == canonical_id("yj-mgc-5x5") == "YJMGC5X5"
    assert canonical_id("") == ""


def test_gtin_checksum_accepts_real_barcodes_and_rejects_mutations() -> None:
    assert is_valid_gtin("0887961809596")  # EAN-13, EU alert A12/02685/24
    assert is_valid_gtin("887961809596")  # the same product as UPC-A
    assert is_valid_gtin("00887961809596")  # and as GTIN-14
    assert is_valid_gtin("5902533919246")  # EU alert A12/01879/24
    assert not is_valid_gtin("0887961809597")  # last digit changed
    assert not is_valid_gtin("0887961809569")  # two digits swapped
    assert not is_valid_gtin("75396312292")  # 11-digit "UPC" from sportsgear recall 4387
    assert not is_valid_gtin("0000000000000")
    assert not is_valid_gtin("08879618095X6")
    assert not is_valid_gtin(None)  # type: ignore[arg-type]


def test_gtins_are_zero_padded_so_upc_and_ean_compare_equal() -> None:
    assert extract_gtins("barcode 0887961809596") == ["00887961809596"]
    assert extract_gtins("UPC 887961809596") == ["00887961809596"]
    assert extract_gtins("printed as 8 87961 80959 6 on the box") == ["00887961809596"]
    assert extract_gtins("barcode 0887961809597") == []  # mutated: checksum fails
    assert extract_gtins(CPSC_1305) == ["00687064045552", "00687064042100"]
    assert extract_gtins("5902533919246\n5902533919253\n5902533919246") == [
        "05902533919246",
        "05902533919253",
    ]


def test_short_and_ambiguous_digit_runs_are_not_gtins() -> None:
    assert extract_gtins("KATO 70148015 N Portram") == []  # passes the checksum by chance
    assert extract_gtins("EAN 70148015") == ["00000070148015"]  # 8 digits need a barcode word
    assert extract_gtins("RUBIK'S SNAKE 40TH YEAR 1974-2014") == []
    assert extract_gtins("EAN 20240401") == []  # a YYYYMMDD date
    assert extract_gtins("call +44 7700 900123") == []
    assert extract_gtins(CPSC_BOILERPLATE) == []


def test_asins() -> None:
    assert extract_asins(CPSC_10925) == ["B0CB9WV7XN"]
    assert extract_asins("ASIN b0cb9wv7xn") == ["B0CB9WV7XN"]
    assert extract_asins("B0CB9wv7XN is mixed case") == []
    assert extract_asins("B0CB9WV7XNX is too long") == []


def test_real_recall_model_numbers() -> None:
    assert extract_model_numbers(CPSC_10925) == ["AJ0192Y3"]  # the ASIN has its own list
    assert extract_model_numbers(CPSC_10917) == ["TBMZWJ"]  # letters only, but after "model"
    assert "YJMGC5X5" in extract_model_numbers(CPSC_10926)
    assert extract_model_numbers(CPSC_1305) == ["TR1686TPR"]  # UPCs are not model numbers
    assert extract_model_numbers(CPSC_BOILERPLATE) == []


def test_cue_lists_and_free_standing_codes() -> None:
    assert extract_model_numbers("Model numbers AB-12, AB-13 and AB-14 were sold") == [
        "AB12",
        "AB13",
        "AB14",
    ]
    text = "model numbers beginning with HT65, MB165, WR65 and go-carts with model numbers BB65"
    assert extract_model_numbers(text) == ["HT65", "MB165", "WR65", "BB65"]
    assert extract_model_numbers("Model #1615 Mountain Jr. Bicycles") == ["1615"]
    assert extract_model_numbers("Model No. AB-12, Part No.: XY-77, Style # 4501") == [
        "AB12",
        "XY77",
        "4501",
    ]
    assert extract_model_numbers("Hornby R3264 Class 60 'Tata Steel'") == ["R3264"]  # Amazon title
    assert extract_model_numbers("Fisher-Price GJD49 dumbbell") == ["GJD49"]
    assert extract_model_numbers("LEGO set 75192 Millennium Falcon") == ["75192"]
    assert extract_model_numbers("LEGO Star Wars 75192 Millennium Falcon") == []  # no cue
    assert extract_model_numbers("Quiet Book X001N2FNJP") == ["X001N2FNJP"]  # Amazon FNSKU


@pytest.mark.parametrize(
    "text",
    [
        "for ages 3 years and up",
        "12V ride-on",
        "100ml bottle",
        "2pcs set",
        "18in doll",
        "0-3m baby",
        "10x20cm mat",
        "price $19.99",
        "only £5.99",
        "model 2019",
        "made 12/05/2024",
        "batch 05.12.2024",
        "type 1500 W heater",
        "item 1000 pieces",
        "item 123",
        "CR2032 coin battery",
        "EN71 certified",
        "ASTM F963 compliant",
        "3-in-1 walker",
        "Hover-1 scooter",
        "COVID-19",
        "firmware v1.2.3",
        "SET OF 3 ITEMS",
        "CLASSIC TOY TRAIN SET TRACK CARRIAGES LIGHT ENGINE",
        "10 RED CASINO STYLE DICE / CRAPS - LARGE 19MM NEW",
        "ChessEbook 3 PLAYER CHESS set 32 x 28 cm",
        "Toy Safety Directive 2009/48/EC",
        "alert A12/02685/24",
        "Hornby 00 Gauge BR 0-6-2T Steam Locomotive",
        "see https://www.cpsc.gov/s3fs-public/Fp-toy1.png",
    ],
)
def test_everyday_numbers_are_not_model_numbers(text: str) -> None:
    assert extract_model_numbers(text) == []


def test_extract_identifiers_is_the_canonical_union() -> None:
    text = CPSC_10925 + " EAN 0887961809596"
    assert extract_identifiers(text) == frozenset({"AJ0192Y3", "B0CB9WV7XN", "00887961809596"})
    assert extract_identifiers("") == frozenset()


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_extract_identifiers_never_raises(text: str) -> None:
    ids = extract_identifiers(text)
    assert all(re.fullmatch(r"[A-Z0-9]+", i) for i in ids)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="AB01-. x/,:#\"'\n×ТВ", max_size=300))
def test_code_like_noise_yields_only_codes_made_of_its_own_characters(text: str) -> None:
    # Cyrillic Т/В fold to T/B; nothing else may appear, and a code after the noise is found.
    ids = extract_identifiers("model " + text)
    assert set("".join(ids)) <= set("AB01TBX")
    assert all(re.fullmatch(r"[A-Z0-9]+", i) for i in ids)
    assert "QZ7781" in extract_identifiers(text + " model QZ-7781")


def test_non_strings_give_empty_results() -> None:
    for bad in (None, 123, b"TB-MZWJ"):
        assert extract_identifiers(bad) == frozenset()  # type: ignore[arg-type]
        assert canonical_id(bad) == ""  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "a" * 200_000,
        "1 " * 100_000,
        "model " + "AB12, " * 40_000,
        "1-" * 100_000,
        "x@" * 100_000,
        "model number: " * 20_000,
        "http://" + "a" * 200_000,
    ],
)
def test_adversarial_input_runs_in_linear_time(text: str) -> None:
    start = time.perf_counter()
    extract_identifiers(text)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    ("code", "family"),
    [
        ("KY-E008", ("E008",)),  # a short letter prefix dropped
        ("SL712-202201", ("SL712",)),  # a production-date suffix dropped
        ("AJ0192-Y-3", ("AJ0192",)),  # variant suffixes dropped: the shortest code prefix
        ("R3264-A", ("R3264",)),
        ("BLBR201", ()),  # one part: no family
        ("TB-MZWJ", ()),  # letters only: no family
        ("BI-B41", ()),  # "B41" is too short to stand alone
        ("2023DEC-02", ()),  # a date is not a family
    ],
)
def test_code_family(code: str, family: tuple[str, ...]) -> None:
    assert code_family(code) == family


def test_letter_only_codes_after_a_cue() -> None:
    assert extract_model_numbers("Helmet model OM-TD BIKE is blue") == ["OMTD"]
    assert extract_model_numbers("MODEL NO-GO ZONE") == []  # every part has a vowel: words
    assert extract_model_numbers("OM-TD helmet") == []  # no cue: not trusted
    assert model_numbers_with_families("model KY-E008 and SL712-202201") == [
        "KYE008", "SL712202201", "E008", "SL712",
    ]  # fmt: skip


def test_long_serials_with_letters_are_codes_not_words() -> None:
    # printed on the recalled Bolt scooters (cpsc-9440); five or more digits make a code
    assert extract_identifiers("blue deck APPLLC120806218142") == {"APPLLC120806218142"}
    assert extract_identifiers("Kingpin10 Covid19 Hover-1 scooter") == frozenset()


def test_upcs_printed_without_their_check_digit_are_completed() -> None:
    from model.matching.identifiers import upcs_missing_check_digit

    notice = "UPC codes 68706404210, and 68706404244 are printed on the trampoline box."
    completed = upcs_missing_check_digit(notice)
    assert completed == ["00687064042100", "00687064042445"]
    assert extract_gtins("box UPC 687064042445")[0] in completed  # what a resale listing shows
    assert upcs_missing_check_digit("UPC 887961809596 and item 12345678901") == []
