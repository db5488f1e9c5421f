"""An OpenAI chat-completions request, read and checked: what Olympus honours, what it refuses
(400 ``UnsupportedParameter``) and what it ignores and says so (``ignored`` of the response,
header ``X-Olympus-Ignored``). docs/api.md has the same table for people; ``FIELDS`` is it
for the code, so the two are checked against each other by a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared_utils.errors import InvalidQuery, UnsupportedParameter
from src.answer.condense import turns_of
from src.answer.options import AskOptions
from src.schema.requests import bad_request, check_doc_ids

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
MAX_STOP = 4  # as OpenAI


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


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "")
            for p in content
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        )
    return ""


def split_messages(messages: Any) -> tuple[str, list[tuple[str, str]]]:
    """(question, history) from OpenAI messages.

    >>> split_messages([{"role": "user", "content": "a?"}, {"role": "assistant", "content": "A"},
    ...                 {"role": "user", "content": "b?"}])
    ('b?', [('a?', 'A')])
    """
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty list.", param="messages")
    turns: list[dict[str, str]] = [
        {"role": m["role"], "content": _text(m.get("content"))}
        for m in messages
        if isinstance(m, dict) and m.get("role") in ("user", "assistant")
    ]
    if not turns or turns[-1]["role"] != "user" or not turns[-1]["content"].strip():
        raise InvalidQuery("The last message must be a user message with the question.")
    return turns[-1]["content"], turns_of(turns[:-1])


def _refuse(name: str, why: str) -> UnsupportedParameter:
    err = UnsupportedParameter(f"{name}: {why}")
    err.param = name  # type: ignore[attr-defined]
    return err


def _check_refused(body: dict[str, Any]) -> None:
    n = body.get("n")
    if n is not None and n != 1:
        raise _refuse("n", "Olympus writes one answer per question; send n=1 or leave it out.")
    for name in ("tools", "functions"):
        if body.get(name):
            raise _refuse(name, "Olympus answers from the documents and calls no tools.")
    for name in ("tool_choice", "function_call"):
        if body.get(name) not in (None, "none"):
            raise _refuse(name, 'Olympus calls no tools; leave it out or send "none".')
    fmt = body.get("response_format")
    if fmt is not None and not (isinstance(fmt, dict) and fmt.get("type") == "text"):
        raise _refuse(
            "response_format",
            "the answer is text with [n] citations; only "
            '{"type": "text"} can be honoured (no JSON mode or schema).',
        )
    if body.get("logprobs") or body.get("top_logprobs"):
        raise _refuse("logprobs", "Olympus does not return token probabilities.")
    modalities = body.get("modalities")
    if body.get("audio") or (modalities is not None and modalities != ["text"]):
        raise _refuse("modalities", "Olympus answers in text only.")
    if body.get("prediction"):
        raise _refuse("prediction", "predicted outputs are not supported.")


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise bad_request(
            f"{name} must be a number from {low:g} to {high:g}; got {value!r}.", param=name
        )
    return float(value)


def _whole(body: dict[str, Any], name: str, low: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise bad_request(
            f"{name} must be a whole number of at least {low}; got {value!r}.", param=name
        )
    return value


def _stop(value: Any) -> tuple[str, ...]:
    stops = [value] if isinstance(value, str) else value
    if value is None:
        return ()
    if (
        not isinstance(stops, list)
        or len(stops) > MAX_STOP
        or not all(isinstance(s, str) and s for s in stops)
    ):
        raise bad_request(
            f"stop must be a string or a list of up to {MAX_STOP} strings.", param="stop"
        )
    return tuple(stops)


def _options(body: dict[str, Any], max_tokens_cap: int) -> AskOptions:
    """The generation options the client asked for; ``max_tokens`` capped by the server's
    own limit (``OLYMPUS_MAX_ANSWER_TOKENS``)."""
    asked = _whole(body, "max_completion_tokens", 1) or _whole(body, "max_tokens", 1)
    return AskOptions(
        temperature=_number(body, "temperature", 0, 2),
        top_p=_number(body, "top_p", 0, 1),
        max_tokens=min(asked, max_tokens_cap) if asked else None,
        seed=_whole(body, "seed", -(2**63)),
        stop=_stop(body.get("stop")),
    )


def read_request(body: dict[str, Any], *, max_tokens_cap: int) -> ChatRequest:
    """The request, checked: 400 for a refused field or a value of the wrong type."""
    _check_refused(body)
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise bad_request("model must be a string (a model id from GET /v1/models).", param="model")
    stream = body.get("stream") or False
    stream_options = body.get("stream_options") or {}
    if not isinstance(stream, bool) or not isinstance(stream_options, dict):
        raise bad_request(
            "stream must be true or false and stream_options an object.", param="stream"
        )
    extra = body.get("olympus")
    if extra is not None and not isinstance(extra, dict):
        raise bad_request('olympus must be an object, e.g. {"doc_ids": [...]}.', param="olympus")
    question, history = split_messages(body.get("messages"))
    return ChatRequest(
        question=question,
        history=history,
        model=model or "",
        stream=stream,
        include_usage=bool(stream_options.get("include_usage")),
        options=_options(body, max_tokens_cap),
        doc_ids=check_doc_ids((extra or {}).get("doc_ids")),
        ignored=tuple(
            k for k in body if FIELDS.get(k, "ignored") == "ignored" and body[k] is not None
        ),
        user=body["user"] if isinstance(body.get("user"), str) else "",
    )
