"""The extractive backend answers from the prompt's numbered sources, labelled, cited, streamed."""

from __future__ import annotations

from shared_utils.generation.base import GenerationOptions, Message
from shared_utils.generation.extractive import (
    HEADING,
    NO_SOURCES,
    ExtractiveBackend,
    PromptSource,
    parse_prompt,
)
from shared_utils.types import Chunk, ScoredChunk
from src.answer.citations import resolve
from src.answer.prompt import build_prompt, estimate_tokens

OPTS = GenerationOptions()


def _chunk(n: int, text: str, page: int) -> ScoredChunk:
    return ScoredChunk(Chunk(f"d:{n:06d}", "d", n, text, page, page, "nut.pdf"), 1.0)


SOURCES = [
    _chunk(
        0,
        "NUT supports many UPS models. The upsd server listens on port 3493. "
        "It is started at boot.",
        10,
    ),
    _chunk(
        1,
        "The upsmon client watches the UPS. When the battery is low, upsmon runs "
        "SHUTDOWNCMD to power off the machine.",
        22,
    ),
]


def _prompt(question: str) -> list[Message]:
    return build_prompt(
        question, SOURCES, count_tokens=estimate_tokens, context_tokens=2048, answer_tokens=256
    ).messages


def test_answers_with_the_best_sentence_labelled_and_cited():
    backend = ExtractiveBackend()
    answer = backend.generate(
        _prompt("Which command does upsmon run on low battery?"), options=OPTS
    )
    assert answer.startswith(HEADING)
    assert "runs SHUTDOWNCMD to power off the machine. [2]" in answer
    # its citations resolve to the right page through the normal citation path
    _, cites, removed = resolve(answer, SOURCES)
    assert cites[0].page_start == 22 and removed == []


def test_streams_in_small_pieces_and_ends_with_done():
    deltas = list(ExtractiveBackend().stream(_prompt("What port does upsd use?"), options=OPTS))
    assert len(deltas) > 5 and deltas[-1].done
    assert max(len(d.text) for d in deltas) < 40
    assert "port 3493. [1]" in "".join(d.text for d in deltas)


def test_parses_its_own_prompt_format():
    question, parsed = parse_prompt(_prompt("What port does upsd use?"))
    assert question == "What port does upsd use?"
    assert [p.number for p in parsed] == [1, 2] and "port 3493" in parsed[0].text


def test_without_sources_it_says_so():
    answer = ExtractiveBackend().generate([Message("user", "What is upsd?")], options=OPTS)
    assert answer == NO_SOURCES


def test_no_matching_words_still_gives_the_top_passage():
    answer = ExtractiveBackend().generate(_prompt("zebra giraffe?"), options=OPTS)
    assert "closest passage" in answer and "[1]" in answer


def test_always_healthy():
    assert ExtractiveBackend().health()["ok"] is True


def test_with_an_embedding_similarity_the_extract_quotes_the_sentence_that_answers():
    """Word overlap alone prefers the sentence repeating the question's rare words; the
    similarity (here a stand-in scoring the answer sentence high) puts the answer first."""
    from shared_utils.generation.extractive import extract

    sources = [
        PromptSource(
            1,
            "gmpl.pdf",
            "Section 2.6 covers comments in MathProg models. GNU MathProg is a modeling language.",
        ),
        PromptSource(
            2, "gmpl.pdf", "A comment begins with the character # and extends until end of line."
        ),
    ]
    question = "How do I write a comment in MathProg?"
    lexical = extract(question, sources, max_sentences=1)
    assert "[1]" in lexical and "#" not in lexical

    def similarity(q, sentences):
        return [0.8 if "#" in s else 0.3 for s in sentences]

    ranked = extract(question, sources, max_sentences=1, similarity=similarity)
    assert "character # and extends" in ranked and ranked.endswith("[2]")
