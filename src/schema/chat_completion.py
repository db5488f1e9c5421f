"""The body of OpenAI's ``POST /v1/chat/completions`` as Olympus reads it.

Fields are checked in the order they are declared, and the first one at fault answers: 400
``UnsupportedParameter`` for a field Olympus cannot honour, 400 ``InvalidRequest`` for a value
of the wrong type, both naming the field in ``param`` as OpenAI does; the last message must be
the user's question (``InvalidQuery``). Fields not declared are accepted and not acted on (the
API lists them in ``ignored``: ``src/api/chat_request.py: FIELDS``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo, model_validator

from shared_utils.errors import InvalidQuery, UnsupportedParameter
from src.answer.condense import Turn, turns_of
from src.schema import WireModel
from src.schema.requests import bad_request, check_doc_ids

MAX_STOP = 4  # as OpenAI


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


def split_messages(messages: Any) -> tuple[str, list[Turn]]:
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


def _messages(messages: Any) -> Any:
    split_messages(messages)  # raises when there is no question
    return messages


def _none_or(*values: Any) -> Callable[[Any], bool]:
    return lambda value: value is None or value in values


def _absent(value: Any) -> bool:
    return not value


def _text_format(value: Any) -> bool:
    return value is None or (isinstance(value, dict) and value.get("type") == "text")


_NO_TOOLS = "Olympus answers from the documents and calls no tools."
_TOOL_CHOICE = 'Olympus calls no tools; leave it out or send "none".'
_PROBS = "Olympus does not return token probabilities."
# a field Olympus cannot honour -> (the param its error names, the values that are harmless, why)
REFUSED: dict[str, tuple[str, Callable[[Any], bool], str]] = {
    "n": ("n", _none_or(1), "Olympus writes one answer per question; send n=1 or leave it out."),
    "tools": ("tools", _absent, _NO_TOOLS),
    "functions": ("functions", _absent, _NO_TOOLS),
    "tool_choice": ("tool_choice", _none_or("none"), _TOOL_CHOICE),
    "function_call": ("function_call", _none_or("none"), _TOOL_CHOICE),
    "response_format": (
        "response_format",
        _text_format,
        'the answer is text with [n] citations; only {"type": "text"} can be honoured '
        "(no JSON mode or schema).",
    ),
    "logprobs": ("logprobs", _absent, _PROBS),
    "top_logprobs": ("logprobs", _absent, _PROBS),
    "audio": ("modalities", _absent, "Olympus answers in text only."),
    "modalities": ("modalities", _none_or(["text"]), "Olympus answers in text only."),
    "prediction": ("prediction", _absent, "predicted outputs are not supported."),
}


def _refuse(value: Any, info: ValidationInfo) -> Any:
    """400 ``UnsupportedParameter`` for a field of ``REFUSED`` unless its value is harmless."""
    param, harmless, why = REFUSED[str(info.field_name)]
    if not harmless(value):
        err = UnsupportedParameter(f"{param}: {why}")
        err.param = param  # type: ignore[attr-defined]
        raise err
    return value


Refused = Annotated[
    Any,
    BeforeValidator(_refuse),
    Field(description="refused (400 UnsupportedParameter) unless absent or harmless"),
]


def _model(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise bad_request("model must be a string (a model id from GET /v1/models).", param="model")
    return value


def _stream(kind: type) -> Any:
    def check(value: Any) -> Any:
        value = value or kind()  # null, 0 or "" read as not sent
        if not isinstance(value, kind):
            raise bad_request(
                "stream must be true or false and stream_options an object.", param="stream"
            )
        return value

    return BeforeValidator(check)


def _olympus(value: Any) -> Any:
    if value is not None and not isinstance(value, dict):
        raise bad_request('olympus must be an object, e.g. {"doc_ids": [...]}.', param="olympus")
    return value or {}


def _number(low: float, high: float) -> Any:
    def check(value: Any, info: ValidationInfo) -> float | None:
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise bad_request(
                f"{info.field_name} must be a number from {low:g} to {high:g}; got {value!r}.",
                param=info.field_name,
            )
        return float(value)

    return BeforeValidator(check)


def _whole(low: int) -> Any:
    def check(value: Any, info: ValidationInfo) -> int | None:
        if value is None:
            return None
        if info.field_name == "max_tokens" and info.data.get("max_completion_tokens"):
            return None  # max_completion_tokens wins, and max_tokens is not read
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise bad_request(
                f"{info.field_name} must be a whole number of at least {low}; got {value!r}.",
                param=info.field_name,
            )
        return value

    return BeforeValidator(check)


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if (
        not isinstance(stops, list)
        or len(stops) > MAX_STOP
        or not all(isinstance(s, str) and s for s in stops)
    ):
        raise bad_request(
            f"stop must be a string or a list of up to {MAX_STOP} strings.", param="stop"
        )
    return tuple(stops)


class ChatCompletionRequest(WireModel):
    """The body of `POST /v1/chat/completions`, as an OpenAI client sends it; docs/api.md's
    Chat completions table says what Olympus does with each field, sent or not."""

    # checked first, in this order: what Olympus cannot honour
    n: Refused = None
    tools: Refused = None
    functions: Refused = None
    tool_choice: Refused = None
    function_call: Refused = None
    response_format: Refused = None
    logprobs: Refused = None
    top_logprobs: Refused = None
    audio: Refused = None
    modalities: Refused = None
    prediction: Refused = None
    model: Annotated[
        str | None,
        BeforeValidator(_model),
        Field(description="olympus, a backend or a backend's model (GET /v1/models)"),
    ] = None
    stream: Annotated[bool, _stream(bool)] = False
    stream_options: Annotated[dict[str, Any], _stream(dict), Field(description="include_usage")] = (
        Field(default_factory=dict)
    )
    olympus: Annotated[
        dict[str, Any],
        BeforeValidator(_olympus),
        Field(description='Olympus\' own: {"doc_ids": [...]} limits the answer to them'),
    ] = Field(default_factory=dict)
    messages: Annotated[
        list[Any],
        BeforeValidator(_messages),
        Field(
            validate_default=True,
            description="required: the last user message is the question, earlier "
            "user/assistant pairs the history",
        ),
    ] = None  # type: ignore[assignment]  # missing: refused by the check, as an empty list
    max_completion_tokens: Annotated[int | None, _whole(1)] = None
    max_tokens: Annotated[
        int | None, _whole(1), Field(description="max_completion_tokens wins when both are sent")
    ] = None
    temperature: Annotated[float | None, _number(0, 2)] = None
    top_p: Annotated[float | None, _number(0, 1)] = None
    seed: Annotated[int | None, _whole(-(2**63))] = None
    stop: Annotated[
        tuple[str, ...],
        BeforeValidator(_stop),
        Field(description=f"a string or up to {MAX_STOP}"),
    ] = ()
    user: Annotated[
        str,
        BeforeValidator(lambda value: value if isinstance(value, str) else ""),
        Field(description="with the service token: the asker in the fair line"),
    ] = ""

    @model_validator(mode="after")
    def _doc_ids_last(self) -> ChatCompletionRequest:
        check_doc_ids(self.olympus.get("doc_ids"))  # after every other field, as always
        return self

    @property
    def doc_ids(self) -> list[str] | None:
        """``olympus.doc_ids`` (None: every document)."""
        return check_doc_ids(self.olympus.get("doc_ids"))
