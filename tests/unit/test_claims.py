"""The citation check finds sentences whose [n] does not back them, and fixes the citations."""

from __future__ import annotations

from shared_utils.types import Chunk, ScoredChunk
from src.claims import check_claims, fix_citations, split_claims, supported_share

SOURCES = [
    "HISTSIZE is the maximum number of commands to remember on the history list. "
    "The shell sets the default value to 500 after reading any startup files.",
    "RANDOM expands to a random integer between 0 and 32767. Assigning a value seeds it.",
]


def test_each_sentence_is_checked_against_the_source_it_cites():
    answer = (
        "The history list remembers 500 commands by default [1]. "
        "RANDOM gives an integer between 0 and 32767 [1]. "
        "Bash was written by Brian Fox for the GNU project. Here it is:"
    )
    checks = check_claims(answer, SOURCES)
    assert [c.status for c in checks] == ["supported", "miscited", "uncited", "no_claim"]
    assert checks[1].best == 2  # the other source says it
    assert checks[2].best is None
    assert supported_share(checks) == 1 / 3


def test_fix_recites_to_the_supporting_source_and_drops_citations_nothing_backs():
    answer = (
        "RANDOM gives an integer between 0 and 32767 [1]. "
        "Bash was written by Brian Fox for the GNU project [2]. "
        "The default history size is 500 commands."
    )
    fixed = fix_citations(answer, SOURCES)
    assert fixed.text == (
        "RANDOM gives an integer between 0 and 32767 [2]. "
        "Bash was written by Brian Fox for the GNU project. "
        "The default history size is 500 commands [1]."
    )
    assert fixed.inferred == (2, 1)
    assert fixed.unsupported == ("Bash was written by Brian Fox for the GNU project.",)
    assert supported_share(fixed.checks) == 2 / 3  # the unsupported claim stays, flagged


def test_sources_may_be_retrieved_chunks_and_bullets_are_sentences():
    chunk = ScoredChunk(Chunk("d:1", "d", 1, SOURCES[1], 94, 94, "bashref.pdf"), 0.5)
    assert split_claims("Facts:\n- RANDOM is random [1]\n- it can be seeded [1]") == [
        "Facts:", "- RANDOM is random [1]", "- it can be seeded [1]"]
    checks = check_claims("- RANDOM expands to an integer up to 32767 [1]", [chunk])
    assert checks[0].status == "supported"
