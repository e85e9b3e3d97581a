"""`TrigramTfidf` gives scikit-learn's TF-IDF rows bit for bit, so the gate's scores stay put."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer

from model.matching.char_tfidf import MAX_CACHED_WORD_CHARS, TrigramTfidf
from training.loaders import load_amazon_listings, load_default_blocklist

TRICKY = [
    "",
    "   ",
    "a",
    "ab",
    "Toy  CAR\t\tred\u00a0\u2003set",  # runs of whitespace of several kinds, upper case
    "ΟΔΟΣ Σ ΣΑΣ",  # Greek capital sigma lowers by context
    "ﬁre ǅ İstanbul",  # ligature, titlecase digraph, dotted capital I (lowers to two chars)
    "x" * 3000,  # one long word
    "zzqqxx qqzz",  # trigrams the vocabulary lacks
    "lego lego lego duplo",  # repeated words count
]


def gate_vectorizer(rows: list[str]) -> TfidfVectorizer:
    vectorizer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 3), sublinear_tf=True, dtype=np.float32
    )
    vectorizer.fit(rows)
    return vectorizer


def assert_same(a: object, b: object) -> None:
    assert a.shape == b.shape  # type: ignore[attr-defined]
    assert np.array_equal(a.indptr, b.indptr)  # type: ignore[attr-defined]
    assert np.array_equal(a.indices, b.indices)  # type: ignore[attr-defined]
    assert a.data.dtype == b.data.dtype == np.float32  # type: ignore[attr-defined]
    assert np.array_equal(a.data.view(np.uint32), b.data.view(np.uint32))  # type: ignore[attr-defined]


@pytest.mark.parametrize("max_words", [100_000, 3])  # 3: the word cache starts over often
def test_rows_are_scikit_learns_bit_for_bit(max_words: int) -> None:
    entries = load_default_blocklist()
    vectorizer = gate_vectorizer([f"{e.brand} {e.product_name}" for e in entries])
    texts = [x.title for x in load_amazon_listings()[:1500]] + TRICKY
    fast = TrigramTfidf(vectorizer, max_words=max_words)
    expected = vectorizer.transform(texts)
    assert_same(fast.transform(texts), expected)
    assert_same(fast.transform(texts), expected)  # again, from the cache
    for i in range(0, len(texts), 7):  # in small calls, as /screen micro-batches come
        assert_same(fast.transform(texts[i : i + 7]), vectorizer.transform(texts[i : i + 7]))
    # The cache stays bounded: so many words, none longer than MAX_CACHED_WORD_CHARS.
    assert len(fast._words) <= max_words
    assert max(map(len, fast._words)) <= MAX_CACHED_WORD_CHARS < 3000


def test_empty_call_and_other_settings_refused() -> None:
    vectorizer = gate_vectorizer(["lego duplo", "fisher price"])
    assert TrigramTfidf(vectorizer).transform([]).shape == (0, len(vectorizer.vocabulary_))
    other = TfidfVectorizer(analyzer="char", ngram_range=(3, 3), sublinear_tf=True).fit(["abcd"])
    with pytest.raises(ValueError, match="analyzer"):
        TrigramTfidf(other)
    with pytest.raises(NotFittedError):
        TrigramTfidf(TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), sublinear_tf=True))
