"""The claim check under an answer shows its three states as the check decides them: ✓ with a
link to the passage, not verified with a link and a word of caution, not supported struck
through without a link (Streamlit's AppTest on the real rendering function)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page() -> None:
    from shared_utils.types import Chunk, ScoredChunk
    from src.ui.claims import render_claims

    text = (
        "The upsd daemon listens on TCP port 3493 by default. It reads ups.conf at start. "
        "Secondaries wait FINALDELAY seconds, typically 5. The CGI programs are not built "
        "by default."
    )
    sources = [ScoredChunk(Chunk("d:1", "d", 1, text, 7, 7, "nut.pdf"), 0.5)]
    answer = (
        "The upsd daemon listens on TCP port 3493 by default [1]. "
        "By default upsd is reachable over TCP on port 3493 [1]. "
        "Secondaries wait FINALDELAY seconds, typically 15 [1]. "
        "The CGI programs are built by default [1]. "
        "~~Bananas grow quickly in tropical gardens.~~"
    )
    # a message without the checks (as saved before they came with the answer): checked here
    render_claims({"content": answer, "sources": sources}, turn=1)


def test_the_three_states_are_shown_as_the_check_decides():
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception
    [expander] = at.expander
    assert expander.label == (
        "Claims checked: 1 of 5 claims supported by the cited passage (✓), 1 not verified (?), "
        "3 not supported (✗, struck through)"
    )
    lines = [m.value for m in expander.markdown]
    assert lines[0].startswith(":green[:material/check_circle:] The upsd daemon listens")
    assert lines[1].startswith(":grey[:material/help:] By default upsd is reachable")
    assert lines[2].startswith(":red[:material/cancel:] ~~Secondaries wait FINALDELAY")
    assert lines[3] == ":red[:material/cancel:] ~~The CGI programs are built by default.~~"
    assert lines[4] == ":red[:material/cancel:] ~~Bananas grow quickly in tropical gardens.~~"
    notes = [c.value for c in expander.caption]
    assert notes[0].startswith("Its passage shares these words but does not say this")
    assert notes[1:] == [
        "The passage it cites does not say this.",
        "The passage it cites says something else in these words.",
        "No source is cited for this.",
    ]
    # the two a cited passage backs link to it; a struck claim has nothing to show
    assert [b.label for b in expander.button] == ["See \\[1\\] on p. 7"] * 2
