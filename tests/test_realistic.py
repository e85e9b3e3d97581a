"""Training listings that look like real ones (issue 10, item 2): fast, on real rows and fakes."""

from __future__ import annotations

from model.matching.normalise import tokens
from model.schema import BlocklistEntry, Listing
from training.realistic import (
    STYLES,
    TitleBank,
    colour_negatives,
    generic_negatives,
    product_type,
    realistic_listings,
    same_brand_negatives,
    same_line_negatives,
    variant_negatives,
)
from training.realistic.facts import facts_of

ENTRY = BlocklistEntry(
    "cpsc-10917",
    "cpsc",
    "TooyBing Wooden Bead Stacking Toys",
    brand="TooyBing",
    model_numbers=("TB-MZWJ",),
    description="The toys were sold in blue and pink. Model TB-MZWJ is printed on the base. "
    "They measure about 9 inches tall and were sold under the brand name Woodmall.",
)
BANK = TitleBank(
    [
        Listing(
            title="Melissa & Doug Wooden Stacking Toy, Ages 2+, Rainbow, Gift for Toddlers",
            brand="Melissa & Doug",
        ),
        Listing(title="Hape Pound & Tap Bench - Multicolour - 12 months+", brand="Hape"),
        Listing(title="LEGO Classic Creative Bricks Toy, 3 Pack", brand="LEGO"),
    ]
)


def test_product_type_prefers_the_longest_phrase() -> None:
    assert product_type("Kids Bike Helmets, size M") == "bike helmet"
    assert product_type("10000mAh Power Bank") == "power bank"
    assert product_type("Vornado heater") == "heater"


def test_facts_come_from_the_description() -> None:
    f = facts_of(ENTRY)
    assert f.brand == "TooyBing"
    assert {"blue", "pink"} <= set(f.colours)
    assert "TB-MZWJ" in f.codes
    assert "9 inches" in f.sizes
    assert "Woodmall" in f.named_brands


def test_every_style_writes_a_listing_of_the_product() -> None:
    made = realistic_listings([ENTRY], BANK, per_style=2, seed=0)
    assert {g.style for g in made} == set(STYLES)
    assert all(g.entry_id == "cpsc-10917" for g in made)
    shaped = [g.listing.title for g in made if g.style == "shaped"]
    # The real title's other segments are kept around the recalled product.
    assert any("Ages 2+" in t or "Gift for Toddlers" in t or "Rainbow" in t for t in shaped)
    for g in made:
        if g.style == "translated":  # brand or code survive translation
            assert "TooyBing" in g.listing.title or "TB-MZWJ" in g.listing.title


def test_generation_is_reproducible() -> None:
    a = realistic_listings([ENTRY], BANK, seed=3)
    b = realistic_listings([ENTRY], BANK, seed=3)
    assert [g.listing for g in a] == [g.listing for g in b]


def test_negatives_carry_nothing_specific() -> None:
    generic = generic_negatives([ENTRY])
    assert generic and all(g.entry_id is None for g in generic)
    assert not any("tooybing" in g.listing.title.lower() for g in generic)
    same = same_brand_negatives([ENTRY], BANK, share=1.0)
    assert same and all(g.entry_id is None and g.listing.title.startswith("TooyBing") for g in same)
    assert all(product_type(g.listing.title) != "stacking" for g in same)


STACKER = BlocklistEntry(
    "cpsc-1",
    "cpsc",
    "Rainbow Stacking Toy Deluxe Edition",
    brand="Acme Toys",
    description="Acme Toys Rainbow stacking toys in red and yellow.",
)
STACKING_BANK = TitleBank(
    [
        Listing(title="Zoomzy Wooden Stacking Toy, Ages 2+", brand="Zoomzy"),
        Listing(title="Hape Pound & Tap Bench - Multicolour", brand="Hape"),
    ]
)


def test_look_alike_negatives_name_what_the_notice_does_not() -> None:
    notice = set(tokens(f"{STACKER.product_name} {STACKER.brand} {STACKER.description}"))
    line = same_line_negatives([STACKER], STACKING_BANK, share=1.0)
    assert line and all(g.entry_id is None for g in line)
    for g in line:  # "Acme Toys Wooden stacking": the maker, another line's word, the type
        assert g.listing.title.startswith("Acme Toys")
        word = tokens(g.listing.title)[2]
        assert word not in notice and "stacking" in tokens(g.listing.title)
    (variant,) = variant_negatives([STACKER])
    assert "Deluxe" not in variant.listing.title and "Edition" not in variant.listing.title
    (colour,) = colour_negatives([STACKER], share=1.0)
    named = set(tokens(colour.listing.title)) - set(tokens(STACKER.product_name + " Acme Toys"))
    assert named and not named & notice  # a colour the notice never lists
