"""Decoding settings per model size, and tiny-model mode.

The model's size is read from its name ("SmolLM2-135M-Instruct", "qwen2.5-0.5b-instruct",
"qwen2.5:1.5b"). Small models loop and ramble at low temperature, so they get

- an answer cap by size (1 to 3 sentences need well under 100 tokens; the setting
  ``OLYMPUS_MAX_ANSWER_TOKENS`` stays the upper bound);
- a repeat penalty and llama.cpp's DRY sampler (penalises repeating a sequence seen earlier in
  the context, which is what a loop is), sent as the OpenAI request's extra fields to llama.cpp
  and as options to Ollama;
- stop strings: the answer ends when the model starts writing an excerpt block or a new
  question (``src/answer/prompt.py``);
- up to 1B parameters, a shorter prompt: ``SMALL_SOURCE_SENTENCES`` per source (unless
  ``OLYMPUS_SOURCE_SENTENCES`` is set), since prompt reading is most of the wait for the first
  token on a CPU.

Tiny-model mode: a model at or under ``TINY_MAX_PARAMS`` answered worse than the extractive
answer on the answer-quality benchmark (SmolLM2-135M: see benchmarks/README.md), so by default
(``OLYMPUS_TINY_MODEL_ANSWERS=extractive``) Olympus shows the extract (the best source sentences,
cited) instead and says why; ``model`` lets such a model write anyway. A model of at most
``SMALL_MAX_PARAMS`` (the 0.5B class a free 2-vCPU Space gets) also fell short of the extract on
keywords and gold citations, so by default (``OLYMPUS_SMALL_MODEL_EXTRACT=true``) the reader
gets the evidence first and then only the model's sentences a source supports that add to it
(``src/answer/steps.py``, ``evidence_first``).

>>> params_from_name("SmolLM2-135M-Instruct.Q4_1.gguf"), params_from_name("qwen2.5:1.5b")
(135000000.0, 1500000000.0)
>>> decoding_for("qwen2.5-0.5b-instruct", 320).max_tokens, decoding_for("", 320).max_tokens
(160, 320)
>>> decoding_for("SmolLM2-135M-Instruct", 320).tiny
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from shared_utils.generation.base import GenerationOptions
from src.answer.prompt import STOP

TINY_MAX_PARAMS = 300e6
SMALL_MAX_PARAMS = 1.0e9  # up to here the evidence comes before the model's answer
# sentences per source in a small model's prompt: 0.5B model, 39 questions, prompt tokens p50
# 578 instead of 784 (4 sentences), its answer + the extract still over the goals (keywords
# 0.769, gold citation 0.821; benchmarks/README.md, "First token")
SMALL_SOURCE_SENTENCES = 2
# (largest size in parameters, answer cap in tokens); bigger models keep the setting's cap
CAPS = ((300e6, 96), (1.0e9, 160), (4.0e9, 256))
_SIZE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*([mb])(?![a-z])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Decoding:
    max_tokens: int
    params: float | None  # model size in parameters, when the name says
    tiny: bool
    small: bool = False  # <= 1B parameters
    repeat_penalty: float | None = None
    dry_multiplier: float | None = None
    frequency_penalty: float | None = None
    stop: tuple[str, ...] = STOP
    # sentences kept per source in the prompt (None: the setting's); a shorter prompt is a
    # sooner first token, and a small model's answer comes after the evidence anyway
    source_sentences: int | None = None
    # <= SMALL_MAX_PARAMS: the prompt holds the selected evidence only, not whole sources
    # (shared_utils/generation/evidence.py): a shorter prompt, and nothing else to copy
    evidence_only: bool = False

    def apply(self, options: GenerationOptions) -> GenerationOptions:
        return replace(
            options,
            max_tokens=min(options.max_tokens, self.max_tokens),
            stop=tuple(dict.fromkeys((*self.stop, *options.stop))),  # the caller's stops too
            repeat_penalty=self.repeat_penalty,
            dry_multiplier=self.dry_multiplier,
            frequency_penalty=self.frequency_penalty,
        )


def params_from_name(name: str) -> float | None:
    """Parameters from a model name ("135M", "0.5b", ":1.5b"); None when it does not say."""
    match = _SIZE.search(name.replace("_", "-"))
    if not match:
        return None
    value, unit = float(match.group(1)), match.group(2).lower()
    return value * (1e6 if unit == "m" else 1e9)


def decoding_for(model: str, max_tokens: int, *, params: float | None = None) -> Decoding:
    """Decoding for ``model`` (a name or file name) under the setting's ``max_tokens``;
    ``params``: its size as the engine reports it (``src/answer/answering.py``), else read from the
    name."""
    if params is None:
        params = params_from_name(model) if model else None
    if params is None:  # unknown size: only the mild anti-repetition settings
        return Decoding(max_tokens, None, False, repeat_penalty=1.1, dry_multiplier=0.8)
    cap = next((c for size, c in CAPS if params <= size), max_tokens)
    small = params <= 4.0e9
    return Decoding(
        min(cap, max_tokens),
        params,
        params <= TINY_MAX_PARAMS,
        params <= SMALL_MAX_PARAMS,
        repeat_penalty=1.15 if small else 1.05,
        dry_multiplier=0.8 if small else None,
        frequency_penalty=None,
        source_sentences=SMALL_SOURCE_SENTENCES if params <= SMALL_MAX_PARAMS else None,
        evidence_only=params <= SMALL_MAX_PARAMS,
    )
