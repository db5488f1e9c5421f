"""The citation check finds sentences whose [n] does not back them, and fixes the citations."""

from __future__ import annotations

from shared_utils.types import Chunk, ScoredChunk
from src.answer.claims import check_claims, fix_citations, split_claims, summary, supported_share

SOURCES = [
    "HISTSIZE is the maximum number of commands to remember on the history list. "
    "The shell sets the default value to 500 after reading any startup files.",
    "RANDOM expands to a random integer between 0 and 32767. Assigning a value seeds it.",
]


def test_each_sentence_is_checked_against_the_source_it_cites():
    answer = (
        "The shell sets the default value to 500 after reading any startup files [1]. "
        "The history list remembers 500 commands by default [1]. "
        "RANDOM gives an integer between 0 and 32767 [1]. "
        "Bash was written by Brian Fox for the GNU project. Here it is:"
    )
    checks = check_claims(answer, SOURCES)
    assert [c.status for c in checks] == [
        "supported",
        "unverified",
        "miscited",
        "uncited",
        "no_claim",
    ]
    assert checks[0].stating == (1,)
    assert checks[2].best == 2  # the other source says it
    assert checks[3].best is None
    assert supported_share(checks) == 1 / 4  # only the ✓ counts
    assert summary(checks) == (
        "1 of 4 claims supported by the cited passage (✓), "
        "1 not verified (?), 2 not supported (✗, struck through)"
    )


def test_fix_recites_to_the_supporting_source_and_drops_citations_nothing_backs():
    answer = (
        "RANDOM gives an integer between 0 and 32767 [1]. "
        "Bash was written by Brian Fox for the GNU project [2]. "
        "The default history size is 500 commands."
    )
    fixed = fix_citations(answer, SOURCES)
    assert fixed.text == (
        "RANDOM gives an integer between 0 and 32767 [2]. "
        "~~Bash was written by Brian Fox for the GNU project.~~ "
        "The default history size is 500 commands [1]."
    )
    assert fixed.inferred == (2, 1)
    assert fixed.unsupported == ("Bash was written by Brian Fox for the GNU project.",)
    # re-cited, the first is stated by its new source; the paraphrase of [1] is not verified
    assert [c.status for c in fixed.checks] == ["supported", "miscited", "unverified"]
    assert supported_share(fixed.checks) == 1 / 3


def test_a_paraphrase_keeps_its_citation_and_is_neither_ticked_nor_struck():
    answer = "The history list remembers 500 commands by default [1]."
    fixed = fix_citations(answer, SOURCES)
    assert fixed.text == answer and not fixed.unsupported and not fixed.inferred
    assert fixed.checks[0].status == "unverified"


def test_a_sentence_is_recited_to_the_source_that_states_it():
    """Cited to a passage that shares its words, stated by another: the citation moves."""
    sources = [
        "The default value of HISTSIZE is 500, set after reading startup files.",
        "The shell sets the default value to 500 after reading any startup files.",
    ]
    fixed = fix_citations(
        "The shell sets the default value to 500 after reading any startup files [1].", sources
    )
    assert fixed.text.endswith("files [2].") and fixed.inferred == (2,)
    assert fixed.checks[0].status == "supported"


def test_sources_may_be_retrieved_chunks_and_bullets_are_sentences():
    chunk = ScoredChunk(Chunk("d:1", "d", 1, SOURCES[1], 94, 94, "bashref.pdf"), 0.5)
    assert split_claims("Facts:\n- RANDOM is random [1]\n- it can be seeded [1]") == [
        "Facts:",
        "- RANDOM is random [1]",
        "- it can be seeded [1]",
    ]
    checks = check_claims("- RANDOM expands to a random integer between 0 and 32767 [1]", [chunk])
    assert checks[0].status == "supported"


def test_a_claim_whose_number_or_option_the_cited_source_lacks_is_not_supported():
    """Invented specifics in otherwise borrowed words: the wrong version, an option the passage
    does not name, an expansion the passage never gives."""
    source = ["The binNMU version of 2.3.4-3 is 2.3.4-3+b1; use -b to build binary-only."]
    wrong = [
        "The binNMU version is 2.3.4-b1 [1].",
        "Use -r to build the binNMU binary-only version [1].",
    ]
    for sentence in wrong:
        assert check_claims(sentence, source)[0].status == "miscited", sentence
    right = "The binNMU version of 2.3.4-3 is 2.3.4-3+b1 [1]."
    assert check_claims(right, source)[0].status == "supported"


def test_an_unsupported_sentence_is_struck_in_the_answer_and_a_bullet_keeps_its_dash():
    fixed = fix_citations(
        "- Bananas ripen in tropical gardens every summer [1]\n"
        "- RANDOM gives an integer between 0 and 32767 [2]",
        SOURCES,
    )
    assert fixed.text.splitlines()[0] == "- ~~Bananas ripen in tropical gardens every summer~~"
    assert fixed.unsupported == ("- Bananas ripen in tropical gardens every summer",)


def test_a_marker_at_the_end_of_a_line_covers_the_sentences_before_it():
    """An extract line quotes a source with two sentences and one marker: both are cited."""
    line = (
        "- HISTSIZE is the maximum number of commands to remember on the history list. "
        "The shell sets the default value to 500 after reading any startup files. [1]"
    )
    checks = [c for c in check_claims(line, SOURCES) if c.status != "no_claim"]
    assert [c.status for c in checks] == ["supported", "supported"]
