"""Answerer event stream with a 3-line fake library and scripted backends (fast, no engine).

The real pipeline (ingested PDF, llama.cpp server) is in tests/integration/test_answer.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from shared_utils.errors import BackendUnavailable, InvalidQuery, UnknownBackend
from shared_utils.generation.base import Backend, Delta, GenerationOptions
from shared_utils.generation.extractive import (
    FOLLOWING_HEADING,
    HEADING,
    NO_MODEL,
    ExtractiveBackend,
    heading,
    model_adds,
    segments,
)
from shared_utils.types import Chunk, DocumentRecord, ScoredChunk
from src.answer.abstention import weights
from src.answer.answerer import NO_DOCUMENTS, Answerer
from src.events import BackendSwitchEvent, SourcesEvent, StatusEvent, TokenEvent
from src.models.backends import BackendPlan

TEXT = "The upsd daemon listens on TCP port 3493 by default. It reads ups.conf at start."


@dataclass
class FakeLibrary:
    docs: list = field(
        default_factory=lambda: [DocumentRecord("d", "nut.pdf", 40, 1, 1, 0.0, "ready")]
    )
    queries: list = field(default_factory=list)
    similarity: object = None  # query -> the dense similarity of the source (None: no leg)
    text: str = TEXT

    def documents(self):
        return self.docs

    def search(self, text, *, k=None, doc_ids=None):
        self.queries.append(text)
        chunk = Chunk("d:000001", "d", 1, self.text, 17, 17, "nut.pdf")
        sim = self.similarity(text) if self.similarity else None
        return type("R", (), {"results": [ScoredChunk(chunk, 0.9, {}, sim)]})()

    def similarities(self, text, texts):
        """A stand-in for the embedding cosine: the share of the question's words present."""
        asked = set(text.lower().split())
        return [len(asked & set(t.lower().split())) / max(len(asked), 1) for t in texts]

    def absent_names(self, text):
        return [name for name in ("PostgreSQL",) if name in text]

    def term_weights(self, text):
        return weights(text)  # no keyword index: every word weighs the same

    def unmentioned(self, text, sources):
        return []  # no keyword index to tell (the caveat: tests/integration/test_caveat.py)


class Scripted(Backend):
    name, label = "llamacpp", "llama.cpp (local)"

    def __init__(self, pieces=(), fail_after=None, fail_before=None, model=""):
        self.pieces, self.fail_after, self.fail_before = pieces, fail_after, fail_before
        self.model_label, self.options, self.messages = model, None, None

    def stream(self, messages, *, options):
        self.options, self.messages = options, messages
        if self.fail_before:
            raise BackendUnavailable(self.fail_before)
        for i, piece in enumerate(self.pieces):
            if self.fail_after is not None and i == self.fail_after:
                raise BackendUnavailable("connection reset")
            yield Delta(piece)
        yield Delta("", done=True, stats={"prompt_tokens": 99.0, "completion_tokens": 3.0})


def _answerer(settings, backend: Backend, library=None, chain=("llamacpp", "extractive")):
    backends = {"llamacpp": backend, "extractive": ExtractiveBackend()}

    def factory(name):
        if name not in backends:
            raise UnknownBackend(f"unknown backend {name!r}; valid: llamacpp, extractive")
        return backends[name]

    return Answerer(
        settings,
        library=library or FakeLibrary(),
        planner=lambda: BackendPlan(tuple(chain)),
        backend_factory=lambda name, _plan: factory(name),
        context_tokens=2048,
        top_k=4,
        options=GenerationOptions(first_token_timeout_s=5, stall_timeout_s=5),
    )


def test_event_order_sources_status_tokens_done(settings):
    events = list(_answerer(settings, Scripted(["Port ", "3493 ", "[1]."])).ask("Which port?"))
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "SourcesEvent" and kinds[-1] == "DoneEvent"
    assert kinds.index("StatusEvent") < kinds.index("TokenEvent")
    assert "waiting for first token from llama.cpp (local)" in events[1].message
    done = events[-1]
    assert done.answer == "Port 3493 [1]." and done.backend == "llama.cpp (local)"
    cited = [(c.doc_name, c.page_start, c.inferred) for c in done.citations]
    assert cited == [("nut.pdf", 17, False)]
    assert done.prompt_tokens == 99 and done.backend_name == "llamacpp"
    for key in ("retrieval_ms", "first_token_ms", "total_ms", "sources_ms", "prompt_ms"):
        assert key in done.timings


def test_uncited_fact_gets_an_inferred_citation(settings):
    events = list(
        _answerer(settings, Scripted(["The upsd daemon listens on TCP port 3493."])).ask(
            "Which port does upsd use?"
        )
    )
    done = events[-1]
    assert done.answer.endswith("3493 [1].") and done.citations[0].inferred


def test_the_done_event_says_which_claims_are_verified_as_the_chat_page_shows_them(settings):
    """The ✓ and the "not verified" of the answer travel with it (the API's ``olympus``)."""
    stated = "The upsd daemon listens on TCP port 3493 by default."
    loose = "By default upsd is reachable over TCP on port 3493."
    done = list(
        _answerer(settings, Scripted([f"{stated} [1] {loose} [1]"])).ask(
            "Which port does upsd use?"
        )
    )[-1]
    assert done.verified == [stated] and done.unverified == [loose] and not done.unsupported
    assert done.supported_share == 0.5


def test_failure_before_first_token_switches_to_extractive_with_reason(settings):
    events = list(_answerer(settings, Scripted(fail_before="engine is down")).ask("Which port?"))
    switch = next(e for e in events if isinstance(e, BackendSwitchEvent))
    assert (switch.from_backend, switch.to_backend) == ("llamacpp", "extractive")
    assert "engine is down" in switch.reason
    done = events[-1]
    assert done.skipped == {"llamacpp": "engine is down"}
    # no silent fallback: the answer and its note say why the extract stands in
    why, extract = done.answer.split("\n\n", 1)
    assert "did not answer: engine is down" in why and _heading_says_what_answered(extract, done)
    assert done.answered_by == "source extracts (llama.cpp (local) did not answer)"
    assert done.fallback_note.startswith("Answered by the extract because")
    assert "engine is down" in done.fallback_note
    assert done.citations[0].page_start == 17


def test_mid_answer_failure_keeps_text_and_flags_interrupted(settings):
    events = list(_answerer(settings, Scripted(["Port ", "3493", "!"], fail_after=2)).ask("Port?"))
    done = events[-1]
    assert done.interrupted and done.answer == "Port 3493" and "connection reset" in done.error
    assert any(isinstance(e, StatusEvent) and "retry" in e.message for e in events)


def test_no_documents_says_how_to_add_one_without_calling_a_model(settings):
    backend = Scripted(fail_before="must not be called")
    events = list(_answerer(settings, backend, FakeLibrary(docs=[])).ask("Which port?"))
    assert isinstance(events[0], SourcesEvent) and events[0].sources == []
    assert events[-1].answer == NO_DOCUMENTS and "ingest" in NO_DOCUMENTS
    assert not any(isinstance(e, StatusEvent) and "waiting" in e.message for e in events)


def test_follow_up_is_searched_with_the_previous_question_when_that_matches_better(settings):
    library = FakeLibrary(similarity=lambda q: 0.7 if "upsd" in q else 0.3)
    backend = Scripted(["ok"])
    events = list(
        _answerer(settings, backend, library).ask(
            "What about its config file?", history=[("Which port does upsd listen on?", "3493 [1]")]
        )
    )
    sources = next(e for e in events if isinstance(e, SourcesEvent))
    assert "upsd" in sources.query and sources.query.startswith("What about its config file?")
    assert any(isinstance(e, StatusEvent) and "follow-up" in e.message for e in events)
    user = backend.messages[-1].content
    assert "Earlier question: Which port does upsd listen on?" in user and "3493 [1]" not in user


def test_an_unrelated_next_question_is_never_rewritten_nor_given_history(settings):
    library = FakeLibrary(similarity=lambda q: 0.6 if "ups.conf" in q else 0.5)
    backend = Scripted(["ok"])
    events = list(
        _answerer(settings, backend, library).ask(
            "Which file does the daemon read at start (ups.conf)?",
            history=[("Which port does upsd listen on?", "3493 [1]")],
        )
    )
    sources = next(e for e in events if isinstance(e, SourcesEvent))
    assert sources.query == "Which file does the daemon read at start (ups.conf)?"
    assert "Earlier question" not in backend.messages[-1].content


def test_no_relevant_source_gives_a_refusal_naming_the_search_without_a_model(settings):
    library = FakeLibrary(similarity=lambda q: 0.2)
    events = list(
        _answerer(settings, Scripted(fail_before="must not be called"), library).ask(
            "How do I bake sourdough bread?"
        )
    )
    done = events[-1]
    assert done.mode == "abstained" and "How do I bake sourdough bread?" in done.answer
    assert "do not seem to answer" in done.answer and done.sources  # the closest are shown
    assert not any(isinstance(e, StatusEvent) and "waiting" in e.message for e in events)


def test_an_answerability_of_zero_turns_refusing_off(settings):
    """OLYMPUS_ABSTAIN_ANSWERABILITY=0: the model is asked even when nothing matches."""
    library = FakeLibrary(similarity=lambda q: 0.2)
    done = list(
        _answerer(
            settings.model_copy(update={"abstain_answerability": 0.0}),
            Scripted(["Bake it [1]."]),
            library,
        ).ask("How do I bake sourdough bread?")
    )[-1]
    assert done.mode != "abstained" and "Bake it" in done.answer


def test_a_question_about_something_no_document_mentions_is_refused_without_a_model(settings):
    """Most of its other words are in the source; the name is what is missing."""
    library = FakeLibrary(
        similarity=lambda q: 0.5, text="The shared buffers of the daemon are set in ups.conf."
    )
    events = list(
        _answerer(settings, Scripted(fail_before="must not be called"), library).ask(
            "Which PostgreSQL setting controls the shared buffers?"
        )
    )
    done = events[-1]
    assert done.mode == "abstained" and "none of them mentions “PostgreSQL”" in done.answer
    answered = list(
        _answerer(settings, Scripted(["Use ups.conf [1]."]), library).ask(
            "Which setting controls the shared buffers?"
        )
    )[-1]
    assert answered.mode != "abstained" and "ups.conf" in answered.answer


def test_a_repeating_answer_is_stopped_and_kept_once(settings):
    loop = ["Port 3493 is the port that upsd uses for clients [1]. "] * 30
    events = list(
        _answerer(settings, Scripted(loop, model="qwen2.5-7b-instruct")).ask("Which port?")
    )
    done = events[-1]
    assert (
        done.loop_stopped and done.answer == "Port 3493 is the port that upsd uses for clients [1]."
    )
    assert sum(isinstance(e, TokenEvent) for e in events) < 5
    assert any(isinstance(e, StatusEvent) and "repeating" in e.message for e in events)
    # a small model's loop was never shown: the evidence stands, and the status says whose
    small = Scripted(loop, model="qwen2.5-0.5b-instruct")
    events = list(_answerer(settings, small).ask("Which port?"))
    done = events[-1]
    assert done.loop_stopped and done.answer.startswith(FOLLOWING_HEADING)
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)) == done.answer
    stopped = [e.message for e in events if isinstance(e, StatusEvent) and "repeating" in e.message]
    assert stopped == [
        "what qwen2.5-0.5b-instruct wrote was repeating itself, so it was stopped there"
    ]


def test_decoding_is_capped_and_stopped_by_model_size(settings):
    backend = Scripted(["Port 3493 [1]."], model="qwen2.5-0.5b-instruct")
    list(_answerer(settings, backend).ask("Which port?"))
    opts = backend.options
    assert opts.max_tokens == 160 and opts.repeat_penalty and opts.dry_multiplier
    assert "<excerpt" in opts.stop


def test_a_tiny_model_shows_the_extract_and_says_why(settings):
    backend = Scripted(fail_before="must not be called", model="SmolLM2-135M-Instruct")
    events = list(_answerer(settings, backend).ask("Which port does upsd use?"))
    done = events[-1]
    assert done.backend_name == "extractive" and done.mode == "extract"
    assert "135M" in done.mode_reason and "extract" in done.mode_reason
    assert any(isinstance(e, StatusEvent) and e.message == done.mode_reason for e in events)
    statuses = " ".join(e.message for e in events if isinstance(e, StatusEvent))
    assert "waiting for first token" not in statuses  # no model is asked: nothing to wait for
    forced = settings.model_copy(update={"tiny_model_answers": "model"})
    writer = Scripted(["Port 3493 [1]."], model="SmolLM2-135M-Instruct")
    assert list(_answerer(forced, writer).ask("Which port?"))[-1].backend_name == "llamacpp"


def test_forced_backend_keeps_extractive_as_safety_net(settings):
    answerer = _answerer(settings, Scripted(fail_before="down"), chain=("extractive",))
    done = list(answerer.ask("Which port?", backend="llamacpp"))[-1]
    assert done.backend_name == "extractive" and "llamacpp" in done.skipped
    with pytest.raises(UnknownBackend):
        answerer.ask("Which port?", backend="nonsense")


def test_invalid_questions_are_rejected_before_any_work(settings):
    answerer = _answerer(settings, Scripted(["x"]))
    with pytest.raises(InvalidQuery):
        answerer.ask("   ")
    with pytest.raises(InvalidQuery, match="limit"):
        answerer.ask("why " * 1000)


def test_health_reports_each_backend(settings):
    health = _answerer(settings, Scripted(["x"])).backend_choice.health()
    assert set(health) == {"llamacpp", "extractive"} and health["extractive"]["ok"] is True


def test_closing_the_stream_stops_the_backend(settings):
    import threading
    import time

    stopped = threading.Event()

    class Endless(Backend):
        name, label = "llamacpp", "llama.cpp (local)"

        def stream(self, messages, *, options):
            try:
                while True:
                    yield Delta("word ")
                    time.sleep(0.01)
            finally:
                stopped.set()

    events = _answerer(settings, Endless()).ask("Which port?")
    for event in events:
        if isinstance(event, TokenEvent):
            break
    events.close()  # the user pressed Stop
    assert stopped.wait(5), "the backend kept generating after the consumer stopped"


def _ollama_answerer(settings, backend, served="qwen2.5:0.5b"):
    """An answerer whose plan names ``served`` as the Ollama model; the factory records the
    model each question was planned with."""
    planned: list[str] = []

    def factory(name, plan):
        if name != "ollama":
            return ExtractiveBackend()
        planned.append(plan.model(name))
        return backend

    backend.name = "ollama"
    answerer = Answerer(
        settings,
        library=FakeLibrary(),
        planner=lambda: BackendPlan(("ollama", "extractive"), {"ollama": served}),
        backend_factory=factory,
        context_tokens=2048,
        top_k=4,
        options=GenerationOptions(
            temperature=0.1, max_tokens=512, first_token_timeout_s=5, stall_timeout_s=5
        ),
    )
    return answerer, planned


def test_ask_options_choose_the_model_temperature_and_length_for_one_question(settings):
    from src.answer.options import AskOptions

    backend = Scripted(["Port 3493 [1]."])
    answerer, planned = _ollama_answerer(settings, backend)
    options = AskOptions(model="llama3.2:3b", temperature=0.7, max_tokens=200)
    done = list(answerer.ask("Which port?", options=options))[-1]
    assert planned[0] == "llama3.2:3b"  # (a 3B model's answer cap is 256: src/answer/decoding.py)
    assert backend.options.temperature == 0.7 and backend.options.max_tokens == 200
    # the next question without options is back to the process-wide defaults
    list(answerer.ask("Which port?"))
    assert planned[-1] == "qwen2.5:0.5b" and backend.options.temperature == 0.1
    assert done.backend_name == "ollama"


def test_ask_options_source_extracts_only_and_a_model_llamacpp_does_not_serve(settings):
    from shared_utils.errors import ModelNotFound
    from src.answer.options import AskOptions

    answerer = _answerer(settings, Scripted(["never asked"]))
    done = list(answerer.ask("Which port?", options=AskOptions(backend="extractive")))[-1]
    assert done.backend_name == "extractive" and _heading_says_what_answered(done.answer, done)
    served = Answerer(
        settings,
        library=FakeLibrary(),
        planner=lambda: BackendPlan(("llamacpp", "extractive"), {"llamacpp": "smollm2-135m"}),
        backend_factory=lambda name, _p: ExtractiveBackend(),
        context_tokens=2048,
        top_k=4,
        options=GenerationOptions(),
    )
    with pytest.raises(ModelNotFound, match="serving smollm2-135m") as caught:
        served.ask("Which port?", options=AskOptions(model="qwen2.5-1.5b-instruct"))
    assert "Models page" in caught.value.hint
    list(served.ask("Which port?", options=AskOptions(model="smollm2-135m")))  # the served one


def test_a_model_answer_that_is_only_a_marker_is_replaced_by_the_extract(settings):
    done = list(_answerer(settings, Scripted(["[1]"])).ask("Which port does upsd use?"))[-1]
    assert done.mode == "extract" and "3493" in done.answer
    assert "says nothing that can be checked" in done.mode_reason
    # the model did write: the heading says its answer was set aside, not that none was used
    assert _heading_says_what_answered(done.answer, done) and NO_MODEL not in done.answer
    assert "set aside" in done.answer.split("\n")[0]


def test_an_answer_no_source_backs_is_followed_by_the_extract_but_a_refusal_is_kept(settings):
    wrong = "Bananas grow quickly in tropical gardens during summer."
    done = list(_answerer(settings, Scripted([wrong])).ask("Which port does upsd use?"))[-1]
    assert done.mode == "model+extract" and done.answer.startswith(f"~~{wrong}~~")
    assert "3493 by default. [1]" in done.answer and done.unsupported == [wrong]
    assert FOLLOWING_HEADING in done.answer and HEADING not in done.answer
    refusal = list(
        _answerer(settings, Scripted(["The documents do not say."])).ask(
            "Which port does upsd use?"
        )
    )[-1]
    assert refusal.mode == "model" and refusal.answer == "The documents do not say."


def test_a_small_model_reads_a_shorter_prompt_unless_the_setting_says_otherwise(settings):
    """Prompt reading is most of the wait for a first token on a CPU: a <= 1B model gets fewer
    sentences per source; an explicit OLYMPUS_SOURCE_SENTENCES is obeyed."""
    text = " ".join(f"The upsd daemon fact number {n} concerns port {3490 + n}." for n in range(8))
    library = FakeLibrary(text=text)

    def sentences_in_prompt(s, model):
        backend = Scripted(["Port 3493 [1]."], model=model)
        list(_answerer(s, backend, library).ask("Which port does the upsd daemon use?"))
        return backend.messages[-1].content.count("The upsd daemon fact")

    small = sentences_in_prompt(settings, "qwen2.5-0.5b-instruct")
    large = sentences_in_prompt(settings, "qwen2.5-7b-instruct")
    assert small < large  # (each kept sentence may bring the one that follows it)
    explicit = settings.model_copy(update={"source_sentences": settings.source_sentences})
    explicit.model_fields_set.add("source_sentences")
    assert sentences_in_prompt(explicit, "qwen2.5-0.5b-instruct") == large


def test_a_small_models_answer_comes_after_the_evidence_and_only_where_it_adds(settings):
    """The reader sees the evidence first; the small model's sentences follow only where a
    source supports them and they say more than the evidence; one that only restates the
    evidence is set aside, and the credit says so."""
    model = "qwen2.5-0.5b-instruct"
    restating = Scripted(["Upsd listens on port 3493 [1]."], model=model)
    done = list(_answerer(settings, restating).ask("Which port does upsd use?"))[-1]
    assert done.mode == "extract" and "3493 by default. [1]" in done.answer
    assert "Upsd listens on port 3493" not in done.answer
    assert done.answer.startswith(FOLLOWING_HEADING) and NO_MODEL not in done.answer
    assert done.answered_by == f"source extracts (the answer of {model} was set aside)"
    assert f"{model} is a small model" in done.mode_reason
    adding = Scripted(
        [
            (
                "Upsd listens on port 3493 [1]. It reads ups.conf at start [1]. "
                "It was written in 1999 by NASA [1]."
            )
        ],
        model=model,
    )
    done = list(_answerer(settings, adding).ask("Which port does upsd use?"))[-1]
    assert done.mode == "extract+model" and done.answer.startswith(FOLLOWING_HEADING)
    evidence, added = done.answer.split("\n\n", 1)
    assert "3493 by default. [1]" in evidence and HEADING not in done.answer
    assert added == f"{model_adds(model)}\n\nIt reads ups.conf at start [1]."  # not the invention
    assert done.unsupported == [] and "NASA" in done.model_text  # not shown, so not "struck"
    assert done.answered_by == model
    assert [quoted for _, quoted in segments(done.answer)] == [True, False]  # UI, Markdown
    refusal = Scripted(["The documents do not say."], model="qwen2.5-0.5b-instruct")
    replaced = list(_answerer(settings, refusal).ask("Which port does upsd use?"))[-1]
    assert replaced.mode == "extract" and replaced.answer.startswith(FOLLOWING_HEADING)
    assert "set aside" in replaced.answered_by and "do not say" not in replaced.answer
    assert "3493" in replaced.answer and "said the documents do not say" in replaced.mode_reason
    off = settings.model_copy(update={"small_model_extract": False})
    again = Scripted(["Upsd listens on port 3493 [1]."], model="qwen2.5-0.5b-instruct")
    assert list(_answerer(off, again).ask("Which port does upsd use?"))[-1].mode == "model"


ADDING = "Upsd listens on port 3493 [1]. It reads ups.conf at start [1]."


def _streamed(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TokenEvent))


def test_a_small_models_answer_streams_the_evidence_before_the_engine_is_asked(settings):
    """The evidence is known before the engine is asked: it is the answer's first token,
    before the engine's first token and before the status that the model is asked; the
    model's supported additions come at the end, and the done answer is exactly the stream
    (nothing appears and then vanishes)."""
    model = "qwen2.5-0.5b-instruct"
    backend = Scripted([w + " " for w in ADDING.split()], model=model)
    events = []
    for event in _answerer(settings, backend).ask("Which port does upsd use?"):
        if isinstance(event, TokenEvent) and not any(isinstance(e, TokenEvent) for e in events):
            assert backend.messages is None, "the engine was asked before the evidence showed"
        events.append(event)
    done = events[-1]
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    assert tokens[0].text.startswith(FOLLOWING_HEADING) and "3493 by default. [1]" in tokens[0].text
    asked = next(e for e in events if isinstance(e, StatusEvent) and "adds" in e.message)
    assert f"checking what {model} on llama.cpp (local) adds" in asked.message
    assert events.index(tokens[0]) < events.index(asked)
    assert [t.text for t in tokens] == [tokens[0].text, done.answer[len(tokens[0].text) :]]
    assert _streamed(events) == done.answer and done.mode == "extract+model"
    assert "Upsd listens on port 3493 [1]" not in _streamed(events)  # restating: never shown
    # the engine's own first token stays measurable, apart from the first text shown
    assert 0 < done.timings["first_text_ms"] <= done.timings["first_token_ms"]
    # while the model's hidden text is written, the status shows progress
    chatty = Scripted(["Upsd ", "listens ", "on ", "port ", "3493. "] * 4, model=model)
    events = list(_answerer(settings, chatty).ask("Which port does upsd use?"))
    assert any("about 16 tokens written" in getattr(e, "message", "") for e in events)
    for pieces in (["Upsd listens on port 3493 [1]."], ["The documents do not say."], ["[1]"]):
        events = list(_answerer(settings, Scripted(pieces, model=model)).ask("Which port?"))
        assert _streamed(events) == events[-1].answer and events[-1].mode == "extract"


def test_a_small_model_that_fails_leaves_the_streamed_evidence_as_the_answer(settings):
    """The engine down before its first token, or failing mid-answer: the evidence already
    shown is the answer (the extract is not shown twice, no fallback line is added to it)."""
    model = "qwen2.5-0.5b-instruct"
    down = Scripted(fail_before="engine is down", model=model)
    events = list(_answerer(settings, down).ask("Which port does upsd use?"))
    done = events[-1]
    assert any(isinstance(e, BackendSwitchEvent) for e in events)
    assert _streamed(events) == done.answer and done.answer.startswith(FOLLOWING_HEADING)
    assert done.answer.count("3493") == 1 and done.backend_name == "extractive"
    assert done.answer.endswith(
        "(llama.cpp (local) did not answer: engine is down. Nothing is added to these sentences.)"
    )
    assert "did not answer" in done.answered_by and "first_token_ms" not in done.timings
    broken = Scripted(["It reads ", "ups.conf ", "at start [1]."], fail_after=2, model=model)
    events = list(_answerer(settings, broken).ask("Which port does upsd use?"))
    done = events[-1]
    assert done.interrupted and _streamed(events) == done.answer
    assert done.answer.startswith(FOLLOWING_HEADING) and "It reads" not in done.answer


def test_a_next_backends_model_is_named_for_what_it_adds(settings):
    """The first engine is down after the evidence was shown: the next one's model is asked,
    and the status and the heading of its additions name it."""
    down = Scripted(fail_before="engine is down", model="qwen2.5-0.5b-instruct")
    other = Scripted([ADDING], model="qwen2.5:0.5b")
    other.name, other.label = "ollama", "Ollama"
    answerer = _answerer(settings, down, chain=("llamacpp", "ollama", "extractive"))
    answerer.backend_choice._factory = lambda name, _plan: {"llamacpp": down, "ollama": other}.get(
        name, ExtractiveBackend()
    )
    events = list(answerer.ask("Which port does upsd use?"))
    done = events[-1]
    assert done.backend_name == "ollama" and done.mode == "extract+model"
    assert model_adds("qwen2.5:0.5b") in done.answer and _streamed(events) == done.answer
    assert any(
        "checking what qwen2.5:0.5b on Ollama adds" in getattr(e, "message", "") for e in events
    )


def test_a_larger_models_stream_is_unchanged(settings):
    """Above 1B parameters the model's text streams as it writes, from its first token."""
    backend = Scripted(["Upsd listens ", "on port ", "3493 [1]."], model="qwen2.5-7b-instruct")
    events = list(_answerer(settings, backend).ask("Which port does upsd use?"))
    done = events[-1]
    tokens = [e.text for e in events if isinstance(e, TokenEvent)]
    assert tokens == ["Upsd listens ", "on port ", "3493 [1]."] and done.mode == "model"
    assert done.answer == "Upsd listens on port 3493 [1]." and _streamed(events) == done.answer
    assert done.timings["first_text_ms"] == done.timings["first_token_ms"]
    assert any("waiting for first token" in getattr(e, "message", "") for e in events)


def test_a_small_model_answers_from_the_evidence_only_and_the_extract_shows_the_same(settings):
    """A <= 1B model reads the evidence sentences (a short prompt), not the whole source; the
    extract that follows its answer quotes that same evidence."""
    filler = " ".join(f"Chapter {n} covers the history of batteries in detail." for n in range(6))
    library = FakeLibrary(text=f"{filler} The upsd daemon listens on TCP port 3493 by default.")
    small = Scripted(["Upsd uses port 3493 [1]."], model="qwen2.5-0.5b-instruct")
    done = list(_answerer(settings, small, library).ask("Which port does upsd listen on?"))[-1]
    prompt = small.messages[-1].content
    assert "3493" in prompt and "history of batteries" not in prompt
    assert done.mode == "extract"  # its answer restated the evidence: the evidence alone
    assert "listens on TCP port 3493 by default. [1]" in done.answer.split("\n", 1)[1]


def _heading_says_what_answered(text: str, done) -> bool:
    """The extract's heading gives the same reason as what the answer credits (answered_by:
    "source extracts (WHY)"), so the text never contradicts the "Answered by" line."""
    why = done.answered_by.removeprefix("source extracts (").removesuffix(")")
    return why != done.answered_by and text.startswith(heading(why) + "\n")


def test_a_small_models_sentence_said_twice_is_added_once():
    # a 0.5B model repeated its one supported sentence; the reader got it twice after the evidence
    from src.answer.steps import evidence_first
    from src.events import ClaimCheck

    said = "The examples directory is /usr/share/doc/asymptote/examples under UNIX [1]."
    checks = [ClaimCheck(said, (1,), "supported", 1.0, 1, (1,))] * 2
    answer, mode, _ = evidence_first(
        "Where are the examples?",
        f"{said} {said}",
        checks,
        shown="Asymptote is a vector graphics language [1].",
        small_model="tiny",
    )
    assert mode == "extract+model" and answer.count("examples directory") == 1


def test_an_engine_busy_for_a_moment_keeps_the_model_it_reported(monkeypatch):
    # on a loaded machine the engine can miss the one-second report while it writes other
    # answers; the UI must not then name the plan's model instead of the one it serves
    from dataclasses import dataclass

    from shared_utils.generation.base import ServedModel
    from src.answer import answering

    @dataclass
    class Engine:
        reports: list
        name: str = "llamacpp"
        base_url: str = "http://127.0.0.1:1/busy-engine"
        model_name: str = ""

        def served_model(self, *, timeout: float):
            return self.reports.pop(0)

    monkeypatch.setattr(answering, "REPORT_TTL_S", 0.0)  # every decision asks the engine
    engine = Engine([ServedModel("smollm2.gguf", 135e6), None, None])
    answering.forget_reports()
    first = answering.served(engine)
    assert first is not None and answering.served(engine) == first  # busy: it stands
    answering.forget_reports()  # a model was switched: the old report must not stand
    assert answering.served(engine) is None
