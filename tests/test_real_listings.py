"""Real-listing behaviour of a real (small) bundle: the cases issue 10 names, as expectations.

The bundle is built here from real rows: the recalls these cases are about, ten "plastic toy"
notices, 40 entries of the test suite's tiny blocklist slice and 600 real Amazon UK listings,
with the default realistic-listing recipe and hard negatives, five of the twelve attack tactics
and the dev tuning half. It is kept this small so that the module fixture fits its timeout on two
quiet CI cores (the first version, 1,500 listings and every tactic, ran past 900 s under load).
Titles are the issue's and the dev set's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from model.matching.bundle import Bundle
from model.matching.encoder import SentenceTransformerEncoder
from model.matching.screener import Screener
from model.matching.verdict import Verdict
from model.schema import BlocklistEntry, Listing
from tests.conftest import tiny_entries
from training.build import BuildConfig, build_bundle
from training.realworld import load_cases

pytestmark = pytest.mark.slow

NEEDED = ("cpsc-10917", "cpsc-7787", "cpsc-9576", "cpsc-10516", "cpsc-10615", "cpsc-10803")
PAD = "montessori educational gift for boys girls"
# The evasions these cases use: padding, a bare model code, another brand, reordered words.
TACTICS = ("keyword_stuffing", "identifier_only", "brand_replaced", "word_reorder", "typos")


@pytest.fixture(scope="module")
def real_screener(
    tmp_path_factory: pytest.TempPathFactory,
    all_entries: list[BlocklistEntry],
    amazon: list[Listing],
    encoder: SentenceTransformerEncoder,
) -> Screener:
    needed = [e for e in all_entries if e.entry_id in NEEDED]
    plastic = [e for e in all_entries if "plastic toy" in e.product_name.lower()][:10]
    rest = [e for e in tiny_entries(all_entries) if e.entry_id not in NEEDED][:40]
    entries = list({e.entry_id: e for e in [*needed, *plastic, *rest]}.values())
    config = BuildConfig(variants_per_entry=1, realistic_styles_per_entry=4, attack_tactics=TACTICS)
    bundle = build_bundle(entries, amazon[:600], config, encoder=encoder)
    path = bundle.save(tmp_path_factory.mktemp("real-listings") / "bundle")
    return Screener(Bundle.load(Path(path), encoder=encoder))


def flagged_with(verdict: Verdict, entry_id: str) -> bool:
    top = [c.entry_id for c in verdict.candidates[:3]]
    return verdict.decision != "allow" and entry_id in top


def test_bare_generic_titles_never_block(real_screener: Screener) -> None:
    for title in ("toy", "Reusable 8 oz baby bottle", "Plastic toy", "baby bottle"):
        assert real_screener.screen_one(Listing(title=title)).decision != "block", title


def test_sibling_model_goes_to_review_at_most(real_screener: Screener) -> None:
    verdict = real_screener.screen_one(
        Listing(title="Beloems Adult Portable Bed Rail, Model: BLBR202", brand="Beloems")
    )
    assert verdict.decision != "block"


def test_chinese_and_padded_tooybing_titles_are_flagged(real_screener: Screener) -> None:
    chinese = Listing(title="TooyBing 木制串珠叠叠乐玩具 TB-MZWJ")
    padded = Listing(title=f"{PAD} {PAD} {PAD} TooyBing Wooden Bead Stacking Toys")
    for listing in (chinese, padded):
        assert flagged_with(real_screener.screen_one(listing), "cpsc-10917"), listing.title


@pytest.mark.parametrize(
    "case_id",
    [
        "dev-021",  # Swagway X1 resale: brand + the line its notice names (rules.py)
        "dev-040",  # Jetson Rogue
        "dev-001",  # INIU
    ],
)
def test_named_dev_cases_are_flagged(real_screener: Screener, case_id: str) -> None:
    case = next(c for c in load_cases() if c.case_id == case_id)
    verdict = real_screener.screen_one(case.listing)
    assert any(flagged_with(verdict, e) for e in case.expected), verdict.to_dict()
