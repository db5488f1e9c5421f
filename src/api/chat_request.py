"""An OpenAI chat-completions request, read and checked: what Olympus honours, what it refuses
(400 ``UnsupportedParameter``) and what it ignores and says so (``ignored`` of the response,
header ``X-Olympus-Ignored``). The body is read through its schema model
(``src/schema/chat_completion.py: ChatCompletionRequest``); docs/api.md has the table below for
people; ``FIELDS`` is it for the code, so the two are checked against each other by a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from src.answer.options import AskOptions
from src.schema.chat_completion import ChatCompletionRequest, split_messages
from src.schema.requests import read

# every field of OpenAI's chat-completions request -> what Olympus does with it
FIELDS: dict[str, str] = {
    "messages": "supported",
    "model": "supported",
    "stream": "supported",
    "stream_options": "supported",
    "max_tokens": "supported",
    "max_completion_tokens": "supported",
    "temperature": "supported",
    "top_p": "supported",
    "stop": "supported",
    "seed": "supported",
    "n": "refused",
    "tools": "refused",
    "tool_choice": "refused",
    "functions": "refused",
    "function_call": "refused",
    "response_format": "refused",
    "logprobs": "refused",
    "top_logprobs": "refused",
    "audio": "refused",
    "modalities": "refused",
    "prediction": "refused",
    "presence_penalty": "ignored",
    "frequency_penalty": "ignored",
    "logit_bias": "ignored",
    "user": "ignored",
    "metadata": "ignored",
    "store": "ignored",
    "service_tier": "ignored",
    "parallel_tool_calls": "ignored",
    "reasoning_effort": "ignored",
    "web_search_options": "ignored",
    "prompt_cache_key": "ignored",
    "safety_identifier": "ignored",
    "verbosity": "ignored",
    "olympus": "supported",  # Olympus' own: {"doc_ids": [...]}
}


@dataclass(frozen=True)
class ChatRequest:
    question: str
    history: list[tuple[str, str]]
    model: str
    stream: bool
    include_usage: bool
    options: AskOptions
    doc_ids: list[str] | None
    ignored: tuple[str, ...]  # fields sent that Olympus does not act on
    user: str = ""  # the UI (service token) names its chat session here, for the fair line


def read_request(body: dict[str, Any], *, max_tokens_cap: int) -> ChatRequest:
    """The request, checked (``src/schema/chat_completion.py``): 400 for a refused field or a
    value of the wrong type. ``max_tokens`` is capped by the server's own limit
    (``OLYMPUS_MAX_ANSWER_TOKENS``)."""
    checked: ChatCompletionRequest = read(ChatCompletionRequest, body)
    question, history = split_messages(checked.messages)
    asked = checked.max_completion_tokens or checked.max_tokens
    return ChatRequest(
        question=question,
        history=history,
        model=checked.model or "",
        stream=checked.stream,
        include_usage=bool(checked.stream_options.get("include_usage")),
        options=AskOptions(
            temperature=checked.temperature,
            top_p=checked.top_p,
            max_tokens=min(asked, max_tokens_cap) if asked else None,
            seed=checked.seed,
            stop=checked.stop,
        ),
        doc_ids=checked.doc_ids,
        ignored=tuple(
            k for k in body if FIELDS.get(k, "ignored") == "ignored" and body[k] is not None
        ),
        user=checked.user,
    )
