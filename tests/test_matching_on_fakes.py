"""Matching logic on the hashing fake encoder: index, candidate generation and pair features
without MiniLM (unit tests, milliseconds each)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from rapidfuzz import fuzz

from model.matching import cascade
from model.matching.candidates import CandidateSearch, embedded_text
from model.matching.cascade import LexicalGate, bundle_gate_words
from model.matching.encoder import Encoder
from model.matching.features import FEATURE_NAMES, candidate_features
from model.matching.fuzzy import FUZZY_SCORES, PAIRS_PER_WORKER, fuzzy_scores
from model.matching.gate_selection import common_brand_words, fit_gate, select_stoplist
from model.matching.index import BlocklistIndex
from model.matching.verdict import Evidence
from model.matching.views import ListingView
from model.schema import BlocklistEntry, Listing
from tests.fakes import HashingEncoder, make_verdict

ENTRIES = [
    BlocklistEntry("cpsc-1", "cpsc", "Wooden Bead Stacking Toy", brand="TooyBing",
                   model_numbers=("TB-MZWJ",)),
    BlocklistEntry("cpsc-2", "cpsc", "Magnetic Building Tiles Set", brand="MagnaPlay",
                   model_numbers=("MP-4410",)),
    BlocklistEntry("cpsc-3", "cpsc", "Infant Sleep Positioner Wedge", brand="DreamNest"),
    BlocklistEntry("eu-4", "eu", "Squeeze Ball Slime Toy", brand="Funkee",
                   model_numbers=("17451",)),
]  # fmt: skip


@pytest.fixture
def search(fake_encoder: HashingEncoder) -> CandidateSearch:
    return CandidateSearch(fake_encoder, BlocklistIndex.from_entries(ENTRIES, fake_encoder), k=2)


def test_fake_encoder_is_an_encoder_with_unit_rows(fake_encoder: HashingEncoder) -> None:
    assert isinstance(fake_encoder, Encoder)
    vectors = fake_encoder.encode(["wooden bead toy", "", "wooden bead toy"])
    assert vectors.shape == (3, fake_encoder.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors[[0, 2]], axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert not vectors[1].any()  # nothing to hash: a zero row, not NaN
    np.testing.assert_array_equal(HashingEncoder().encode(["abc"]), fake_encoder.encode(["abc"]))


def test_index_search_ranks_the_closest_spelling_first(fake_encoder: HashingEncoder) -> None:
    index = BlocklistIndex.from_entries(ENTRIES, fake_encoder)
    [hits] = index.search(fake_encoder.encode(["magnetic building tile set"]), k=2)
    assert index.entries[hits[0].id].entry_id == "cpsc-2"
    assert hits[0].similarity > hits[1].similarity
    assert index.lookup_identifiers(frozenset({"MP4410"})) == {1}


def test_candidate_set_has_one_feature_row_per_candidate(search: CandidateSearch) -> None:
    [found] = search.find([Listing(title="Wooden bead stacking toy for toddlers")])
    ids = [ENTRIES[e].entry_id for e in found.entries]
    assert ids[0] == "cpsc-1" and len(ids) == 2
    assert found.features.shape == (2, len(FEATURE_NAMES))
    assert found.cosines.shape == (2,) and found.cosines[0] >= found.cosines[1]


def test_an_exact_identifier_adds_the_entry_the_vectors_missed(
    fake_encoder: HashingEncoder,
) -> None:
    # One vector hit (k=1) goes to the tiles; only the model number links the slime toy.
    search = CandidateSearch(fake_encoder, BlocklistIndex.from_entries(ENTRIES, fake_encoder), k=1)
    [found] = search.find([Listing(title="Magnetic Building Tiles Set 17451")])
    assert [ENTRIES[e].entry_id for e in found.entries] == ["cpsc-2", "eu-4"]
    assert found.features.shape == (2, len(FEATURE_NAMES))
    [plain] = search.find([Listing(title="Magnetic Building Tiles Set")])
    assert [ENTRIES[e].entry_id for e in plain.entries] == ["cpsc-2"]


def test_search_rejects_an_empty_candidate_budget(fake_encoder: HashingEncoder) -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        CandidateSearch(fake_encoder, BlocklistIndex.from_entries(ENTRIES, fake_encoder), k=0)


PAIRS = [
    ("wooden bead stacking toy for toddlers tb mzwj", "Wooden Bead Stacking Toy"),
    ("magnetic tiles 100 pcs", "Magnetic Building Tiles Set"),
    ("squeeze ball", "Squeeze Ball Slime Toy"),
    ("", "Infant Sleep Positioner Wedge"),
    ("sleep positioner wedge for infants " * 20, "Infant Sleep Positioner Wedge"),
]


@pytest.mark.parametrize("workers", [1, 2])
def test_batched_fuzzy_scores_equal_the_per_pair_calls(workers: int) -> None:
    # Enough pairs that two workers really split them (one per PAIRS_PER_WORKER).
    many = PAIRS * (2 * PAIRS_PER_WORKER // len(PAIRS))
    texts, names = [t for t, _ in many], [n for _, n in many]
    got = fuzzy_scores(texts, names, workers)
    want = [
        [fuzz.token_set_ratio(t, n), fuzz.partial_ratio(n, t), fuzz.WRatio(t, n)] for t, n in many
    ]
    assert got.dtype == np.float64 and got.shape == (len(many), len(FUZZY_SCORES))
    np.testing.assert_array_equal(got, np.asarray(want))  # bit for bit: the same features
    assert fuzzy_scores([], []).shape == (0, len(FUZZY_SCORES))
    with pytest.raises(ValueError, match="one name per text"):
        fuzzy_scores(texts, names[:-1])
    with pytest.raises(ValueError, match="workers must be at least 1"):
        fuzzy_scores(texts, names, 0)


def test_a_batch_gets_the_feature_rows_of_its_own_pairs(
    search: CandidateSearch, fake_encoder: HashingEncoder
) -> None:
    # A batch's pair scores are computed in one call and cut back per listing; a slip would
    # give a listing another listing's scores. Each set is featurised again on its own here.
    listings = [Listing(title=t) for t, _ in PAIRS if t]
    two = CandidateSearch(fake_encoder, search.index, k=2, workers=2)
    for found in (search.find(listings), two.find(listings)):
        assert all(len(f.entries) == 2 for f in found)
        for f in found:
            views = [search.entry_views[e] for e in f.entries]
            alone = candidate_features(f.view, views, f.cosines.tolist(), search.terms)
            np.testing.assert_array_equal(f.features, alone)
    with pytest.raises(ValueError, match="workers must be at least 1"):
        CandidateSearch(fake_encoder, search.index, k=2, workers=0)


def test_gate_scores_are_the_row_maxima_of_the_similarities(
    fake_encoder: HashingEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = LexicalGate(BlocklistIndex.from_entries(ENTRIES, fake_encoder))
    texts = [t for t, _ in PAIRS] + ["magnetic building tiles set"]
    sims = (gate.vectorizer.transform(texts) @ gate._rows_t).toarray()
    whole = gate.scores(texts)
    np.testing.assert_array_equal(whole, sims.max(axis=1).astype(np.float32))
    assert whole[-1] == pytest.approx(1.0) and whole[3] == 0.0  # an exact name; an empty text
    monkeypatch.setattr(cascade, "_DENSE_CELLS", 1)  # one row at a time: the same maxima
    np.testing.assert_array_equal(gate.scores(texts), whole)


def test_gate_v2_scores_what_the_encoder_embeds_so_padding_does_not_dilute_it(
    fake_encoder: HashingEncoder,
) -> None:
    index = BlocklistIndex.from_entries(ENTRIES, fake_encoder)
    padded = Listing(title="Magnetic Building Tiles Set " + "kids toy gift idea " * 6)
    once = Listing(title="Magnetic Building Tiles Set kids toy gift idea")
    [v_padded, v_once] = [ListingView.of(x) for x in (padded, once)]
    v1 = LexicalGate(index, name="char3-tfidf-v1")
    v2 = LexicalGate(index, name="char3-tfidf-v2")
    assert cascade.GATE_TEXTS[cascade.GATE_NAME] is embedded_text  # v3 scores the same text
    assert v2.texts([v_padded]) == [embedded_text(v_padded)] == [v_once.text]
    [s1] = v1.scores(v1.texts([v_padded]))
    [s2, s_once] = v2.scores(v2.texts([v_padded, v_once]))
    assert s2 == s_once and s2 > s1 + 0.05, (s1, s2)
    with pytest.raises(ValueError, match="unknown gate 'char3-tfidf-v9'"):
        LexicalGate(index, name="char3-tfidf-v9")


def _views(index: BlocklistIndex, titles: list[str]) -> list[ListingView]:
    return [ListingView.of(Listing(title=t), index.by_identifier) for t in titles]


def test_gate_v3_stoplist_is_selected_on_validation_only_where_it_clears_more(
    fake_encoder: HashingEncoder,
) -> None:
    """A brand word common in training benign listings stops being evidence that keeps a
    listing from the gate, but only if that clears more benign validation listings at the
    stoplist's own zero-miss threshold."""
    index = BlocklistIndex.from_entries(ENTRIES, fake_encoder)
    gate = LexicalGate(index, name="char3-tfidf-v3")
    assert "funkee" in gate.brands  # a rare brand word of the blocklist
    train = _views(index, ["Funkee party hats", "garden hose reel"] + ["wall clock"] * 8)
    assert common_brand_words(gate, train, 0.1) == {"funkee"}  # 1 listing of 10
    assert common_brand_words(gate, train, 0.11) == frozenset()
    [hats] = _views(index, ["Funkee party hats"])
    assert (
        gate.specific_hits([hats])[0] and not gate.stoplisted({"funkee"}).specific_hits([hats])[0]
    )
    with pytest.raises(ValueError, match="takes no stoplist"):
        LexicalGate(index, name="char3-tfidf-v2", common={"funkee"})
    # The escalated listing scores 1.0, the funkee one 0.62 and the garden one 0.33 (checked):
    # with the stoplist both benign listings are cleared, without it only the garden one.
    valid = _views(index, ["magnetic building tiles set", "Funkee party hats", "garden hose reel"])
    reach, benign = np.array([True, False, False]), np.array([False, True, True])
    assert select_stoplist(gate, train, valid, reach, benign) == ({"funkee"}, 0.02)
    # An escalated funkee listing scoring 0.53 would pin the stoplist's threshold at 0.48, under
    # the benign "magnetic toy" (0.54) that the gate clears without it: no stoplist then.
    valid += _views(index, ["Funkee birthday gift bag for children party", "magnetic toy"])
    reach, benign = np.append(reach, [True, False]), np.append(benign, [False, True])
    assert select_stoplist(gate, train, valid, reach, benign) == (frozenset(), None)
    fit = fit_gate(gate, valid[:3], reach[:3], valid, reach, benign, valid_benign=benign[:3],
                   train_benign=train)  # fmt: skip
    assert fit.to_config()["common_brand_words"] == ["funkee"] and fit.common_share == 0.02
    assert fit.test.missed == 1  # the escalated funkee listing of the second set: 0.53 < 0.9
    # Versions without a stoplist store none, whatever they are given.
    v2 = fit_gate(LexicalGate(index, name="char3-tfidf-v2"), valid[:3], reach[:3], valid, reach,
                  benign, valid_benign=benign[:3], train_benign=train)  # fmt: skip
    assert "common_brand_words" not in v2.to_config() and v2.common == ()


def test_a_bundle_gate_stoplist_is_read_only_for_its_own_version() -> None:
    def bundle(**cascade_config: object) -> Any:
        return SimpleNamespace(config=SimpleNamespace(cascade=cascade_config))

    words = {"common_brand_words": ["disney", "super"]}
    assert bundle_gate_words(bundle(gate="char3-tfidf-v3", threshold=0.3, **words)) == {
        "disney",
        "super",
    }
    assert bundle_gate_words(bundle(gate="char3-tfidf-v2", threshold=0.3, **words)) == set()
    assert bundle_gate_words(bundle()) == set()


def test_verdict_to_dict_is_asdict_written_out() -> None:
    full = make_verdict()
    evidence = Evidence(("TB-MZWJ",), True, ("bus", "musical"), 0.83)
    rich = replace(full, candidates=(replace(full.candidates[0], evidence=evidence),))
    for verdict in (full, rich, replace(full, decision="allow", match=None, candidates=())):
        assert verdict.to_dict() == asdict(verdict)
        assert json.dumps(verdict.to_dict()) == json.dumps(asdict(verdict))
