"""Evidence selection: the sentences an answer is built from, chosen by what the question asks,
with the neighbour a cut-off sentence needs (word overlap only: no embedding model)."""

from __future__ import annotations

from shared_utils.generation.evidence import question_kind, select_evidence, sides
from shared_utils.generation.extractive import HEADING, PromptSource, extract

SHELL = (
    "Chapter 3 describes shell functions in detail. "
    "A shell function is a named group of commands run like a simple command. "
    "Functions differ from scripts in that they run in the current shell."
)
HISTORY = (
    "The history list keeps the commands typed at the prompt. "
    "The history list can be saved to a file when the shell exits. "
    "Use history -c to clear the history list. "
    "The number of commands kept is limited by HISTSIZE."
)
UPS = (
    "The upsd daemon serves data from the UPS drivers to clients. "
    "It listens on TCP port 3493 by default. "
    "Clients connect to upsd to read the status of the UPS."
)


def _texts(question: str, sources: list[tuple[int, str]], n: int = 1) -> list[str]:
    return [e.text for e in select_evidence(question, sources, max_sentences=n)]


def test_question_kinds():
    assert question_kind("What is a shell function?") == "definition"
    assert question_kind("What does HISTSIZE mean?") == "definition"
    assert question_kind("How do I clear the history list?") == "howto"
    assert question_kind("What is the difference between a function and a script?") == "comparison"
    assert question_kind("How many commands are kept by default?") == "value"
    assert question_kind("Which option clears the history list?") == "option"
    assert question_kind("Why is the sky blue?") == "other"


def test_a_definition_question_gets_the_sentence_that_defines():
    assert _texts("What is a shell function?", [(1, SHELL)]) == [
        "A shell function is a named group of commands run like a simple command."
    ]


def test_a_how_to_question_gets_the_sentence_naming_the_command():
    assert _texts("How do I clear the history list?", [(1, HISTORY)]) == [
        "Use history -c to clear the history list."
    ]


def test_a_which_option_question_gets_the_option():
    assert (
        "HISTSIZE"
        in _texts("Which variable limits the commands kept in the history list?", [(1, HISTORY)])[0]
    )


def test_a_value_question_gets_the_number_with_the_sentence_it_continues():
    """ "It listens on TCP port 3493" alone does not say what listens: the sentence before it
    comes along."""
    assert _texts("Which port does the upsd daemon listen on?", [(1, UPS)]) == [
        "The upsd daemon serves data from the UPS drivers to clients. "
        "It listens on TCP port 3493 by default."
    ]


def test_a_sentence_ending_with_a_colon_brings_the_next_one():
    text = "Other notes here.\n\nTo clear the history list, run this:\n\nhistory -c\n\nThen exit."
    assert _texts("How do I clear the history list?", [(1, text)]) == [
        "To clear the history list, run this: history -c"
    ]


def test_a_comparison_gets_both_sides():
    login = "A login shell reads /etc/profile at start-up. Login shells are started by login."
    interactive = (
        "An interactive shell reads ~/.bashrc at start-up. "
        "Interactive shells read commands from the terminal."
    )
    unrelated = "The differences between the POSIX mode and the default mode are listed below."
    assert sides("What is the difference between a login shell and an interactive shell?") == (
        {"login"},
        {"interact"},
    )
    picked = select_evidence(
        "What is the difference between a login shell and an interactive shell?",
        [(1, unrelated), (2, login), (3, interactive)],
        max_sentences=2,
    )
    assert {e.number for e in picked} == {2, 3}


def test_the_extract_shows_the_evidence_cited_and_each_sentence_once():
    text = extract(
        "How do I clear the history list?",
        [PromptSource(1, "b.pdf", HISTORY), PromptSource(2, "b.pdf", HISTORY)],
    )
    assert text.startswith(HEADING)
    assert text.count("Use history -c to clear the history list.") == 1
    assert "Use history -c to clear the history list. [1]" in text


TOC = (
    "7 2.12.1 Access Restrictions ... 7 2.12.2 upsstats ... 7 2.12.3 upsimage ... "
    "7 2.12.4 upsset ... 7 2.13 Version Numbering ... 8 2.14 Backwards compatibility"
)
UPSSET = (
    "The CGI programs are optional. upsset lets you change the settings of a UPS from a "
    "web browser. It needs a password in upsset.conf."
)


def test_a_table_of_contents_line_is_never_evidence():
    """The contents page names every section the question could ask about; the sentence that
    answers comes from the page itself."""
    picked = select_evidence("What does upsset do?", [(1, TOC), (2, UPSSET)], max_sentences=3)
    assert picked and all(e.number == 2 for e in picked)
    assert not any("..." in e.text or "2.12" in e.text for e in picked)


def test_index_entries_and_page_scraps_are_never_evidence():
    index = "ignoreeof, 95, 102, 118 ignorespace, 139, 141 history list, 12, 139"
    scraps = "Chapter 7. 139"
    text = "The history list can be saved to a file with history -w when the shell exits."
    picked = select_evidence(
        "How do I save the history list?", [(1, index), (2, scraps), (3, text)], max_sentences=3
    )
    assert [e.number for e in picked] == [3]


def test_a_page_footer_glued_to_a_sentence_is_cut_off():
    """A page break joins "quote{})" to the next page's number and heading: the evidence ends
    where the sentence does."""
    glued = (
        "To typeset a literal brace, escape it inside the label (quote{}); 17 "
        "Acknowledgments Financial support for the development of Asymptote came from "
        "the National Science Foundation."
    )
    picked = select_evidence("How do I typeset a literal brace in a label?", [(1, glued)])
    assert picked[0].text == "To typeset a literal brace, escape it inside the label (quote{});"


def test_a_how_to_question_gets_the_sentence_with_the_command_among_look_alikes():
    text = (
        "The driver for your hardware is set up in ups.conf. Drivers are started at boot. "
        "To start only one driver, run upsdrvctl start myups as root. "
        "Starting the drivers by hand is also possible."
    )
    assert _texts("How do I start just one driver?", [(1, text)]) == [
        "To start only one driver, run upsdrvctl start myups as root."
    ]


FAQ = (
    "26 How do I debug the drivers? Start the driver with -D to see what it does. "
    "27 How do you make upsd reload the config file? "
    "Just send it a SIGHUP, or just start it again with -c reload."
)


def test_a_faq_heading_is_never_evidence_the_answer_after_it_is():
    """A FAQ heading repeats the user's words but answers nothing: the sentence after it does."""
    elsewhere = "The upsd daemon reads its configuration file when it starts."
    picked = select_evidence(
        "How do I make upsd reload its configuration file?",
        [(1, elsewhere), (2, FAQ)],
        max_sentences=3,
    )
    assert picked and "SIGHUP" in picked[0].text  # it answers the heading the question matches
    assert not any(e.text.rstrip().endswith("?") for e in picked)
