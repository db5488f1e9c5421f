"""chunk_pages: no chunk over the window, sentences kept whole, overlap, honest page spans."""

from __future__ import annotations

import itertools
import re

import pytest

from shared_utils.documents.chunking import chunk_pages, chunk_text
from shared_utils.documents.pdf import parse_pdf
from shared_utils.text import split_sentences
from shared_utils.types import Page
from tests.conftest import real_pdf


def words(text: str) -> int:
    return len(text.split())


def chunks_of(pages, count=words, max_tokens=20, overlap=5, **kw):
    return chunk_pages(
        pages,
        doc_id="doc",
        doc_name="doc.pdf",
        count_tokens=count,
        max_tokens=max_tokens,
        overlap_tokens=overlap,
        **kw,
    )


@pytest.fixture(scope="module")
def bashref_pages():
    return parse_pdf(real_pdf("bashref").read_bytes(), name="bashref.pdf", timeout_s=60)


def test_real_manual_no_chunk_exceeds_the_model_window(embedder, bashref_pages):
    chunks = chunk_pages(
        bashref_pages,
        doc_id="d" * 64,
        doc_name="bashref.pdf",
        count_tokens=embedder.count_tokens,
        max_tokens=200,
        overlap_tokens=40,
    )
    counts = embedder.count_tokens_batch([c.text for c in chunks])
    assert len(chunks) > 300
    assert max(counts) <= 200
    # and what the model itself sees: never truncated at its 256-piece window
    with_special = embedder.model.tokenizer([c.text for c in chunks[:50]])["input_ids"]
    assert max(len(ids) for ids in with_special) <= embedder.max_tokens
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert chunks[7].id == f"{'d' * 64}:000007"
    assert all(c.doc_name == "bashref.pdf" for c in chunks)


def test_real_manual_page_spans_hold_the_chunk_text(embedder, bashref_pages):
    chunks = chunk_pages(
        bashref_pages,
        doc_id="d",
        doc_name="bashref.pdf",
        count_tokens=embedder.count_tokens,
        max_tokens=200,
        overlap_tokens=40,
    )
    by_number = {p.number: " ".join(p.text.split()) for p in bashref_pages}
    starts = [c.page_start for c in chunks]
    assert starts == sorted(starts)
    for chunk in chunks[::25]:
        span = " ".join(by_number[n] for n in range(chunk.page_start, chunk.page_end + 1))
        first_sentence = split_sentences(chunk.text)[0]
        assert first_sentence[:60] in " ".join(by_number[chunk.page_start].split())
        assert chunk.text[-60:] in span
        assert chunk.page_start <= chunk.page_end


def test_sentences_stay_whole_and_pages_are_tracked():
    pages = [
        Page(1, "Alpha beta gamma delta. Epsilon zeta eta theta."),
        Page(2, "Iota kappa lambda mu. Nu xi omicron pi."),
    ]
    chunks = chunks_of(pages, max_tokens=8, overlap=0)
    assert [c.text for c in chunks] == [
        "Alpha beta gamma delta. Epsilon zeta eta theta.",
        "Iota kappa lambda mu. Nu xi omicron pi.",
    ]
    assert [(c.page_start, c.page_end) for c in chunks] == [(1, 1), (2, 2)]


def test_overlap_repeats_trailing_sentences():
    sentences = [f"Sentence number {i} is here." for i in range(12)]  # 5 words each
    chunks = chunks_of([Page(1, " ".join(sentences))], max_tokens=20, overlap=5)
    assert len(chunks) > 3
    for prev, nxt in itertools.pairwise(chunks):
        last = split_sentences(prev.text)[-1]
        assert nxt.text.startswith(last)
        assert words(nxt.text) <= 20


def test_chunk_crossing_a_page_reports_both_pages():
    pages = [Page(3, "Short one."), Page(4, "Short two.")]
    (chunk,) = chunks_of(pages, max_tokens=20, overlap=0)
    assert (chunk.page_start, chunk.page_end, chunk.pages) == (3, 4, "pp. 3-4")


def test_overlong_sentence_is_split_on_words_within_budget():
    sentence = " ".join(f"w{i}" for i in range(95)) + "."
    chunks = chunks_of([Page(1, sentence)], max_tokens=20, overlap=5)
    assert all(words(c.text) <= 20 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == sentence.split()  # nothing lost


def test_giant_word_is_split_on_characters(embedder):
    blob = "ab12" * 3000  # one 12,000-character "word" (e.g. base64 in a manual)
    chunks = chunk_pages(
        [Page(1, f"Start. {blob} End.")],
        doc_id="d",
        doc_name="n",
        count_tokens=embedder.count_tokens,
        max_tokens=64,
        overlap_tokens=8,
    )
    assert max(embedder.count_tokens_batch([c.text for c in chunks])) <= 64
    assert "".join(c.text for c in chunks).count("ab12") >= 2999


def test_non_additive_tokenizer_never_exceeds_the_budget():
    """A tokenizer whose count of joined text exceeds the sum of its parts."""

    def count(text: str) -> int:
        return len(text.split()) + text.count(". ") * 3  # joins cost extra tokens

    sentences = " ".join(f"Item {i} ok." for i in range(50))
    chunks = chunks_of([Page(1, sentences)], count=count, max_tokens=12, overlap=3)
    assert chunks and all(count(c.text) <= 12 for c in chunks)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_batch_counter_is_used_when_available():
    calls: list[int] = []

    def batch(texts):
        calls.append(len(texts))
        return [words(t) for t in texts]

    chunks_of(
        [Page(1, "One two. Three four. Five six.")], count=lambda s: 1 / 0, count_tokens_batch=batch
    )
    assert calls and max(calls) >= 3


def test_empty_pages_give_no_chunks():
    assert chunks_of([Page(1, ""), Page(2, "  \n ")]) == []


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_invalid_budgets_rejected(max_tokens, overlap):
    with pytest.raises(ValueError):
        chunks_of([Page(1, "x")], max_tokens=max_tokens, overlap=overlap)


def test_chunk_text_helper():
    assert chunk_text("One two. Three four.", count_tokens=words, max_tokens=2) == [
        "One two.",
        "Three four.",
    ]


def test_split_sentences_keeps_abbreviations_and_versions():
    text = "Use e.g. Bash 5.1 here. Then run it! Done? Yes.\n\nNext paragraph"
    assert split_sentences(text) == [
        "Use e.g. Bash 5.1 here.",
        "Then run it!",
        "Done?",
        "Yes.",
        "Next paragraph",
    ]
    assert not any(re.search(r"\s{2,}", s) for s in split_sentences("a  b.\n c"))
