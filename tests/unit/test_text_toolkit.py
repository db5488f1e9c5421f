"""``shared_utils/text.py``: every part that splits sentences, drops stopwords or stems words
does it the same way (one splitter, one stopword list, one stemmer)."""

from __future__ import annotations

from shared_utils.documents.chunking import chunk_text
from shared_utils.retrieval.bm25 import Tokenizer
from shared_utils.text import QUESTION_STOPWORDS, STOPWORDS, question_terms, split_sentences, stem
from src.answer.claims import check_claims


def test_the_keyword_index_and_the_claim_check_stem_alike():
    tokens = Tokenizer()("The daemon was configured and is probing ports")
    assert tokens == [stem(w) for w in ("daemon", "configured", "probing", "ports")]
    # "configuration, installation" is backed by a source saying "configured, installed"
    [check] = check_claims(
        "Configuration, installation and monitoring take minutes [1].",
        ["It is configured, installed and monitored."],
    )
    assert check.backed and check.support == 0.6  # three of its five words (not "take minutes")
    [stated] = check_claims(
        "Configuration, installation and monitoring [1].",
        ["It is configured, installed and monitored."],
    )
    assert stated.status == "supported"


def test_question_fillers_are_stopwords_for_questions_only():
    assert STOPWORDS < QUESTION_STOPWORDS
    assert question_terms("Please tell me how to use upsmon") == {"upsmon"}
    assert "use" in Tokenizer()("use upsmon")  # the index still finds a passage about "use"


def test_chunks_keep_bullet_lists_whole_but_the_extract_gets_one_sentence_per_bullet():
    text = "Options: • first the probe • then the handler. Next sentence here."
    assert split_sentences(text) == [
        "Options:",
        "first the probe",
        "then the handler.",
        "Next sentence here.",
    ]
    assert (
        split_sentences(text, at_bullets=False)[0]
        == "Options: • first the probe • then the handler."
    )
    chunks = chunk_text(text, count_tokens=lambda t: len(t.split()), max_tokens=9, overlap_tokens=0)
    assert chunks[0].startswith("Options: • first the probe • then the handler.")


def test_long_unpunctuated_text_is_cut_into_windows_only_when_asked():
    row = " ".join(f"w{i}" for i in range(200))
    assert split_sentences(row) == [row]
    windows = split_sentences(row, max_words=60)
    assert [len(w.split()) for w in windows] == [60, 60, 60, 20]
