"""The three verdicts a reader sees on a claim: ✓ only where the cited passage states it, not
verified where it only shares the passage's words, struck where the passage says otherwise."""

from __future__ import annotations

import pytest

from src.answer.claim_alignment import verdict
from src.answer.claims import MARKS, check_claims, fix_citations

PASSAGE = (
    "SystemTap Beginners Guide. By default, the kernel buffer is 1MB in size. You can increase "
    "this value by using the -s option with the size in megabytes. The default nesting of "
    "function calls allowed is 10. If upsd returns ERR UNKNOWN-COMMAND to a GET request, you "
    "need to use REQ. In R, the sequence in which files are executed is Rprofile.site, the user "
    "profile, .RData and then .First(). Whereas & and | apply element-wise to vectors, && and "
    "|| apply to vectors of length one. T and F are not reserved words and can be overwritten. "
    "A binNMU is a binary-only non-maintainer upload performed for library transitions."
)


def _mark(sentence: str, passage: str = PASSAGE) -> str:
    [check] = [c for c in check_claims(f"{sentence} [1]", [passage]) if c.status != "no_claim"]
    return MARKS[check.status]


def test_a_sentence_copied_from_its_passage_gets_the_tick():
    assert _mark("By default, the kernel buffer is 1MB in size.") == "✓"
    assert _mark("The default nesting of function calls allowed is 10.") == "✓"


def test_a_close_paraphrase_gets_the_tick_and_a_free_one_is_not_verified_nor_struck():
    # the writer's own verb where the passage has none, the attribution, a list number
    assert _mark("The document states that the kernel buffer is 1MB in size by default.") == "✓"
    assert _mark("2. By default, the kernel buffer is 1MB in size.") == "✓"
    free = "The kernel buffer holds 1MB unless you enlarge it."  # true, in other words
    assert _mark(free) == "?"
    assert fix_citations(f"{free} [1]", [PASSAGE]).text == f"{free} [1]"  # kept as written


@pytest.mark.parametrize(
    "wrong",
    [
        "By default, the kernel buffer is 4MB in size.",  # another number
        "You can increase this value by using the -S option with the size in megabytes.",  # option
        "A binNMU (Binary Name Matching Unit) is a non-maintainer upload.",  # invented expansion
    ],
)
def test_a_wrong_number_option_or_an_invented_expansion_is_struck(wrong):
    fixed = fix_citations(f"{wrong} [1]", [PASSAGE])
    assert fixed.text.startswith("~~") and fixed.unsupported, wrong


@pytest.mark.parametrize(
    "wrong",
    [
        # the passage's numbers and names, turned round
        "The upsmon primary waits HOSTSYNC seconds, typically 5, and FINALDELAY, typically 15.",
        # a negation dropped
        "T and F are reserved words and can be overwritten.",
    ],
)
def test_a_swapped_relation_or_a_dropped_negation_is_struck(wrong):
    passage = (
        f"{PASSAGE} Secondaries wait FINALDELAY seconds, typically 5. The upsmon "
        "primary waits up to HOSTSYNC seconds, typically 15."
    )
    assert _mark(wrong, passage) == "✗", wrong
    assert fix_citations(f"{wrong} [1]", [passage]).text.startswith("~~"), wrong


@pytest.mark.parametrize(
    "wrong",
    [
        # the passage's words in another order, which a paraphrase may also do: no tick, not struck
        "R executes .First() and then Rprofile.site.",
        "&& and || apply element-wise to vectors, whereas & and | apply to vectors of length one.",
        "By default, the buffer kernel is 1MB in size.",
        # a word of the passage put where the passage does not have it
        "By default, the kernel buffer is 1MB in megabytes.",
        # an "only" or a "not" the passage does not have; a number inside another one ("1" in "10")
        "By default, only the kernel buffer is 1MB in size.",
        "By default, the kernel buffer is not 1MB in size.",
        "The default nesting of function calls allowed is 1.",
    ],
)
def test_words_of_the_passage_in_another_order_or_with_an_added_word_get_no_tick(wrong):
    assert _mark(wrong) == "?", wrong


def test_a_claim_is_stated_by_nearby_sentences_not_by_words_scattered_over_the_passage():
    far = "The kernel buffer grants REQ to every binNMU upload performed for library transitions."
    assert verdict(far, PASSAGE) != "states"
    pronoun = (
        "Pens are used for drawing. They are used to specify colour and width. "
        "Brushes are declared with brush()."
    )
    assert verdict("Brushes are used to specify colour and width.", pronoun) != "states"


def test_a_quote_from_a_long_sentence_among_negations_keeps_its_tick():
    """The extract quotes a passage's sentence; a "not" in the sentence before it, or in
    another clause that the passage's sentence splitting joined to it, is no contradiction."""
    passage = (
        "-s Silent mode. If input is coming from a terminal, characters are not echoed. "
        "-t timeout Cause read to time out if a line is not read within timeout seconds. "
        "timeout may be a decimal number."
    )
    extract = (
        "Extract from the sources (no language model was used):\n"
        "- If input is coming from a terminal, characters are not echoed. [1]\n"
        "- -t timeout Cause read to time out if a line is not read within timeout "
        "seconds. timeout may be a decimal number. [1]"
    )
    marks = [MARKS[c.status] for c in check_claims(extract, [passage]) if c.status != "no_claim"]
    assert marks == ["✓", "✓"]
    assert verdict("Characters are echoed.", "It is not true that characters are echoed.") != (
        "states"
    )


def test_an_option_and_its_value_must_match():
    passage = "To create it, run stap -r 2.6.18 -m simple, which creates a module simple.ko."
    assert verdict("Run stap -r 2.6.18 -m simple.", passage) == "states"
    assert verdict("Run stap -r 2.6.18 -m simple.ko.", passage) == "contradicts"
