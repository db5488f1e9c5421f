"""Abstention: refuse under the calibrated answerability (similarity x share of the question the
sources hold), naming what was searched and what no source holds."""

from __future__ import annotations

from shared_utils.types import Chunk, ScoredChunk
from src.answer.abstention import answerability_for, decide, threshold_for


def _source(similarity: float | None, page: int = 7, text: str = "text") -> ScoredChunk:
    return ScoredChunk(
        Chunk(f"d:{page}", "d", page, text, page, page, "bashref.pdf"), 0.03, {}, similarity
    )


def test_sources_below_the_threshold_give_a_refusal_that_names_the_search():
    verdict = decide([_source(0.21, 3), _source(0.35, 9)], "nginx reverse proxy", threshold=0.2)
    assert verdict.abstain and verdict.best == 0.35
    assert "nginx reverse proxy" in verdict.message and "bashref.pdf p. 9" in verdict.message


def test_one_relevant_source_is_enough_to_answer():
    assert not decide([_source(0.21), _source(0.44)], "q", threshold=0.2).abstain


def test_without_a_calibrated_threshold_or_dense_scores_retrieval_never_refuses():
    assert threshold_for("some/other-embedder") == 0.0
    assert not decide([_source(0.01)], "q", threshold=0.0).abstain
    assert not decide([_source(None)], "q", threshold=0.2).abstain
    assert threshold_for("sentence-transformers/all-MiniLM-L6-v2") == 0.42
    assert threshold_for("sentence-transformers/all-MiniLM-L6-v2", 0.5) == 0.5
    assert answerability_for("some/other-embedder") == 0.0
    assert answerability_for("sentence-transformers/all-MiniLM-L6-v2") == 0.2
    assert answerability_for("sentence-transformers/all-MiniLM-L6-v2", 0.0) == 0.0


def test_a_vague_question_whose_words_are_all_in_a_source_is_not_refused():
    source = _source(0.38, 3, "Chapter 3 covers the Mr. Fusion home energy reactor.")
    assert not decide([source], "What does chapter 3 cover?", threshold=0.2).abstain
    assert decide([source], "What does chapter 3 say about plutonium?", threshold=0.2).abstain


# --- a name no document mentions (real keyword index and document store) ---------------------

import pytest  # noqa: E402

from shared_utils.retrieval.bm25 import BM25Index  # noqa: E402
from shared_utils.stores.sqlite import SQLiteDocumentStore  # noqa: E402
from shared_utils.types import DocumentRecord  # noqa: E402
from src.answer.abstention import absent_names, names  # noqa: E402

MANUAL = [
    "Git hooks run before a commit; debmake can pre-build the source package with git.",
    "Set the shared buffers of the bash history with HISTSIZE; read-only variables cannot change.",
]


@pytest.fixture
def library(tmp_path):
    chunks = [
        Chunk(f"d:{i:06d}", "d", i, text, i + 1, i + 1, "manual.pdf")
        for i, text in enumerate(MANUAL)
    ]
    docstore = SQLiteDocumentStore(tmp_path / "docs.sqlite3")
    docstore.begin_document(DocumentRecord("d", "manual.pdf", 2, len(chunks), 10, 0.0))
    docstore.add_chunks("d", chunks)
    docstore.mark_ready("d", pages=2, chunks=len(chunks))
    keywords = BM25Index(tmp_path / "keywords.sqlite3")
    keywords.add(chunks)
    yield keywords, docstore
    keywords.close()
    docstore.close()


def test_names_are_capitalised_words_identifiers_and_compounds_not_ordinary_words():
    assert names("Which PostgreSQL setting controls the shared buffers?") == ["PostgreSQL"]
    assert names("How do I set up a Git pre-commit hook?") == ["Git"]
    assert names("How do I set up Wi-Fi?") == ["Wi-Fi"]
    assert names("What does Bash do with HISTSIZE in version 5.2?") == ["Bash", "HISTSIZE", "5.2"]
    assert names("how do i make a variable read only") == []


def test_ordinary_hyphenated_words_are_not_names():
    """ "in-memory", "re-run", "two-digit", "built-in" are words a manual may happen not to use;
    taking them for names refused answerable questions."""
    for question in (
        "Is the history kept in-memory until the shell exits?",
        "How do I re-run the last command?",
        "How is a two-digit positional parameter written?",
        "Which built-in prints the working directory?",
    ):
        assert names(question) == [], question


def test_a_name_no_document_mentions_is_found_words_and_phrases_alike(library):
    keywords, docstore = library
    assert absent_names(
        "Which PostgreSQL setting controls the shared buffers?", keywords, docstore
    ) == ["PostgreSQL"]
    # both words occur, never together: the compound is absent
    assert absent_names("How do I set up a Git-commit hook?", keywords, docstore) == ["Git-commit"]
    # present as a phrase, or with a space or joined, is present
    assert absent_names("Can debmake pre-build with Git?", keywords, docstore) == []
    assert absent_names("Are read-only variables kept?", keywords, docstore) == []


def test_a_question_about_an_unmentioned_name_is_refused_saying_which_name():
    sources = [_source(0.58, 4, "Git hooks run before a commit.")]
    verdict = decide(
        sources, "How do I set up a Git pre-commit hook?", threshold=0.2, absent=["pre-commit"]
    )
    assert verdict.abstain and "none of them mentions “pre-commit”" in verdict.message
    # the same question without the missing name is answered
    assert not decide(sources, "How do I set up a Git hook?", threshold=0.2).abstain


def test_a_well_matched_question_is_answered_despite_a_name_the_documents_lack():
    """A typo in a name ("Debain") must not refuse a question the sources clearly answer."""
    sources = [_source(0.71, 4, "Debian packages are built with debmake.")]
    assert not decide(
        sources, "How are Debain packages built?", threshold=0.2, absent=["Debain"]
    ).abstain


def test_a_document_is_mentioned_by_its_file_name_and_by_its_titles_initials(tmp_path):
    """The manual's text says "GNU MathProg" only, its file is gmpl.pdf; another's title is
    "Network UPS Tools": "GMPL" and "NUT" are what people call them, not unknown names."""
    docstore = SQLiteDocumentStore(tmp_path / "docs.sqlite3")
    keywords = BM25Index(tmp_path / "keywords.sqlite3")
    for doc, name, text in (
        ("g", "gmpl.pdf", "Modeling Language GNU MathProg. Models are read."),
        ("n", "nut-manual.pdf", "Network UPS Tools User Manual. Upsd runs."),
    ):
        chunk = Chunk(f"{doc}:000000", doc, 0, text, 1, 1, name)
        docstore.begin_document(DocumentRecord(doc, name, 1, 1, 10, 0.0))
        docstore.add_chunks(doc, [chunk])
        docstore.mark_ready(doc, pages=1, chunks=1)
        keywords.add([chunk])
    try:
        assert absent_names("How is a set declared in GMPL?", keywords, docstore) == []
        assert absent_names("Which port does NUT use?", keywords, docstore) == []
        assert absent_names("Which port does PostgreSQL use?", keywords, docstore) == ["PostgreSQL"]
    finally:
        keywords.close()
        docstore.close()


def test_a_refusal_by_names_never_overrides_a_source_that_holds_the_rest_of_the_question():
    source = _source(0.52, 4, "The MathProg model statement declares a set of elements.")
    # "GMPL" missing from the text, yet the source holds every other word: answered
    assert not decide(
        [source], "How does GMPL declare a set of elements?", threshold=0.2, absent=["GMPL"]
    ).abstain
    # an unrelated question about an unmentioned name is still refused
    assert decide(
        [source],
        "Which PostgreSQL setting controls shared buffers?",
        threshold=0.2,
        absent=["PostgreSQL"],
    ).abstain


def test_a_compound_in_the_source_covers_the_question_words_it_joins():
    source = _source(0.38, 5, "The APC Back-UPS contact-closure models use simple signalling.")
    assert not decide([source], "What is contact closure?", threshold=0.2).abstain


def test_a_source_that_defines_the_abbreviation_asked_about_is_not_refused():
    source = _source(0.33, 6, "ESS is Emacs Speaks Statistics (ESS), a package for R in Emacs.")
    assert not decide([source], "What does ESS stand for?", threshold=0.2).abstain
    far = _source(0.33, 6, "The ESS package runs R inside Emacs.")  # named, not defined
    assert decide([far], "What does ESS stand for?", threshold=0.2).abstain


# --- answerability: what share of the question the sources hold, rare words weighing most -----

from src.answer.abstention import STRONG_MATCH, coverage, weights  # noqa: E402

PASSAGES = [
    "Git hooks run before a commit; debmake can build the source package with git.",
    "Clone the repository with git and build the package.",
    "git log shows the history of the package.",
    "Set the shared buffers of the bash history with HISTSIZE.",
]


@pytest.fixture
def index(tmp_path):
    keywords = BM25Index(tmp_path / "keywords.sqlite3")
    keywords.add(
        [
            Chunk(f"d:{i:06d}", "d", i, text, i + 1, i + 1, "manual.pdf")
            for i, text in enumerate(PASSAGES)
        ]
    )
    yield keywords
    keywords.close()


def test_a_word_weighs_more_the_fewer_passages_hold_it(index):
    weight = weights("Which git hook runs before a commit in kubernetes?", index)
    assert set(weight) == {"git", "hook", "runs", "commit", "kubernetes"}
    # "git" is in three passages, "hook" in one, "kubernetes" in none
    assert weight["git"] < weight["hook"] < weight["kubernetes"]
    assert weights("Which git hook?") == {"git": 1.0, "hook": 1.0}  # no index: all alike


def test_a_close_passage_that_lacks_the_questions_rarest_word_is_refused_naming_it(index):
    """Similar enough by its other words (git, hook), but nothing mentions a pre-commit hook."""
    question = "how do i set up a git pre-commit hook?"
    sources = [_source(0.6, 4, PASSAGES[0])]
    verdict = decide(sources, question, threshold=0.2, weight=weights(question, index))
    assert verdict.abstain and "no source found mentions “set” or “pre-commit”" in verdict.message
    assert verdict.answerability is not None and verdict.answerability < 0.2
    question = "how do i build a package with git?"
    assert not decide(sources, question, threshold=0.2, weight=weights(question, index)).abstain


def test_a_sources_document_name_counts_as_holding_its_words():
    """A question about "the bashref manual" is about bashref.pdf."""
    source = _source(0.5, 5, "Clone the repository.")
    share, missing = coverage({"bashref": 1.0, "clone": 1.0, "hook": 1.0}, [source])
    assert missing == ["hook"] and share == pytest.approx(2 / 3)


def test_an_ordinary_word_the_sources_lack_does_not_refuse_a_good_match(index):
    question = "Which setting keeps the shared buffers of the bash history?"
    source = _source(0.5, 5, PASSAGES[3])
    share, missing = coverage(weights(question, index), [source])
    assert missing == ["keeps"] and share > 0.6
    assert not decide([source], question, threshold=0.2, weight=weights(question, index)).abstain


def test_a_strong_match_is_never_refused():
    """Neither by the words it lacks nor by a name no document mentions."""
    question = "How do I sign a package with Sigstore cosign?"
    text = "Signing a package uses your key."
    assert not decide(
        [_source(STRONG_MATCH, 8, text)], question, threshold=0.2, absent=["Sigstore"]
    ).abstain
    assert decide(
        [_source(STRONG_MATCH - 0.05, 8, text)], question, threshold=0.2, absent=["Sigstore"]
    ).abstain
