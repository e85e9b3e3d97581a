"""Real-listing behaviour of a real (small) bundle: the cases issue 10 names, as expectations.

The bundle is built here from real rows: the recalls these cases are about, the test suite's
tiny blocklist slice and 1,500 real Amazon UK listings, with the default training recipe
(realistic listings, hard negatives, dev tuning half). Titles are the issue's and the dev set's.
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


@pytest.fixture(scope="module")
def real_screener(
    tmp_path_factory: pytest.TempPathFactory,
    all_entries: list[BlocklistEntry],
    amazon: list[Listing],
    encoder: SentenceTransformerEncoder,
) -> Screener:
    needed = [e for e in all_entries if e.entry_id in NEEDED]
    plastic = [e for e in all_entries if "plastic toy" in e.product_name.lower()][:10]
    rest = [e for e in tiny_entries(all_entries) if e.entry_id not in NEEDED][:100]
    entries = list({e.entry_id: e for e in [*needed, *plastic, *rest]}.values())
    config = BuildConfig(variants_per_entry=2, realistic_styles_per_entry=4)
    bundle = build_bundle(entries, amazon[:1500], config, encoder=encoder)
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


@pytest.mark.parametrize("case_id", ["dev-021", "dev-040", "dev-001"])  # Swagway, Jetson, INIU
def test_named_dev_cases_are_flagged(real_screener: Screener, case_id: str) -> None:
    case = next(c for c in load_cases() if c.case_id == case_id)
    verdict = real_screener.screen_one(case.listing)
    assert any(flagged_with(verdict, e) for e in case.expected), verdict.to_dict()
