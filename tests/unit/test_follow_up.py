"""Follow-ups are detected by whether the previous question helps retrieval, not by words."""

from __future__ import annotations

from src.answer.follow_up import decide, expanded_query

HISTORY = [("How many commands does the history list remember?", "500 [1]")]


def test_expansion_adds_the_previous_questions_terms_never_its_answer():
    query = expanded_query("And what if I set it to zero?", HISTORY)
    assert query.startswith("And what if I set it to zero?")
    assert "history" in query and "commands" in query and "500" not in query
    assert expanded_query("Anything?", []) is None


def test_the_newest_question_with_terms_is_used():
    history = [("How do I install SystemTap?", "..."), ("What does upsd do?", "...")]
    query = expanded_query("Does it need root?", history)
    assert "upsd" in query and "systemtap" not in query


def test_a_follow_up_is_one_whose_sources_improve_markedly_with_the_previous_terms():
    assert decide(0.288, 0.422).follow_up  # "How do I seed it?" after a $RANDOM question
    # an unrelated question: it finds good sources alone, the expansion only dilutes them
    assert not decide(0.664, 0.616).follow_up
    # a small gain is not enough: the question is searched as asked
    assert not decide(0.454, 0.590).follow_up
    assert not decide(None, 0.5).follow_up


def test_a_question_that_cannot_stand_alone_needs_only_a_clear_gain():
    """ "And ...", "what about ...", "install it": a question that refers back is a follow-up
    when the previous question's terms help at all; a standalone one still needs a marked gain."""
    from src.answer.follow_up import elliptic

    for question in (
        "And what if I set it to zero?",
        "What about arrays?",
        "How do I install it?",
        "Which one is faster?",
    ):
        assert elliptic(question), question
    for question in ("What is debmake used for?", "Which variable sets the prompt string?"):
        assert not elliptic(question), question
    assert decide(0.45, 0.52, elliptic=True).follow_up
    assert not decide(0.45, 0.52).follow_up
    assert not decide(0.45, 0.44, elliptic=True).follow_up  # the expansion does not help


def test_then_a_demonstrative_after_a_preposition_or_a_bare_instead_refers_back():
    from src.answer.follow_up import elliptic

    for question in (
        "How do I then compare the two results?",
        "What is the default, then?",
        "What happens after that?",
        "Is that option on by default?",
        "When may the other format be used instead?",
    ):
        assert elliptic(question), question
    # "that" as a conjunction or relative pronoun, "instead of" with its object: standalone
    for question in (
        "Can NUT monitor a UPS that speaks SNMP?",
        "How do I check that the daemon runs?",
        "Which file is read instead of the profile?",
    ):
        assert not elliptic(question), question
