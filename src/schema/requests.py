"""The bodies of the service's own requests, ``POST /api/ask`` and ``POST /v1/search``: the API
reads them through these models and the remote client writes them through them.

A field of the wrong shape is refused with 400 ``InvalidRequest`` naming it (``param``) and
saying what it must be; an empty question or query is ``InvalidQuery``. Fields not listed are
ignored, as before.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError

from shared_utils.errors import InvalidRequest
from src.answer.options import AskOptions
from src.answer.question import check_question
from src.schema import WireModel

MAX_K = 100  # passages a search may ask for, on every search route and tool


def bad_request(message: str, hint: str = "", param: str | None = None) -> InvalidRequest:
    """A 400 naming the request field at fault (``param``, read by ``error_to_dict``)."""
    err = InvalidRequest(message, hint=hint or None)
    err.param = param  # type: ignore[attr-defined]
    return err


def check_k(k: Any, param: str = "k") -> int | None:
    """``k`` when it is a whole number from 1 to ``MAX_K`` (None: the default)."""
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise bad_request(
            f"{param} must be a whole number from 1 to {MAX_K}; got {k!r}.",
            hint=f"Ask for at most {MAX_K} passages (docs/api.md, Limits).",
            param=param,
        )
    return k


def check_doc_ids(ids: Any) -> list[str] | None:
    """A list of document ids (empty: every document)."""
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise bad_request("doc_ids must be a list of document ids.", param="doc_ids")
    return ids or None


def _text(what: str) -> Any:
    def check(value: Any) -> str:
        return check_question(value, what=what)

    return check


def _history(raw: Any) -> list[tuple[str, str]]:
    raw = raw or []
    ok = isinstance(raw, list) and all(
        isinstance(t, list | tuple) and len(t) == 2 and all(isinstance(x, str) for x in t)
        for t in raw
    )
    if not ok:
        raise bad_request("history must be a list of [question, answer] pairs.", param="history")
    return [(q, a) for q, a in raw]


def _backend(value: Any) -> str | None:
    value = value or None
    if value is not None and not isinstance(value, str):
        raise bad_request("backend must be a backend name.", param="backend")
    return value


def _options(raw: Any) -> AskOptions | None:
    """A question's ``AskOptions`` from its JSON (a chat's model, temperature, length)."""
    if raw is None or isinstance(raw, AskOptions):
        return raw
    if not isinstance(raw, dict):
        raise bad_request("options must be an object.")
    if isinstance(raw.get("stop"), list):
        raw = {**raw, "stop": tuple(raw["stop"])}
    try:
        options = AskOptions(**{k: v for k, v in raw.items() if v is not None})
    except TypeError as exc:
        raise bad_request(f"options: {exc}", param="options") from exc
    kinds: dict[str, type | tuple[type, ...]] = {
        "model": str,
        "backend": str,
        "temperature": (int, float),
        "max_tokens": int,
    }
    for name, kind in kinds.items():
        value = getattr(options, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            raise bad_request(
                f"options.{name} has the wrong type ({type(value).__name__}).",
                param=f"options.{name}",
            )
    return options


def _session(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


DocIds = Annotated[
    list[str] | None,
    BeforeValidator(check_doc_ids),
    Field(description="limit to these documents (404 for an unknown id)"),
]


class SearchRequest(WireModel):
    """The body of ``POST /v1/search``."""

    query: Annotated[str, BeforeValidator(_text("search query"))]
    k: Annotated[
        int | None, BeforeValidator(check_k), Field(description=f"passages to return, 1-{MAX_K}")
    ] = None
    doc_ids: DocIds = None


class AskRequest(WireModel):
    """The body of ``POST /api/ask`` (the remote client's: the UI and the CLI)."""

    question: Annotated[str, BeforeValidator(_text("question"))]
    history: Annotated[
        list[tuple[str, str]],
        BeforeValidator(_history),
        Field(default_factory=list, description="earlier [question, answer] pairs"),
    ]
    doc_ids: DocIds = None
    backend: Annotated[
        str | None, BeforeValidator(_backend), Field(description="force one backend")
    ] = None
    options: Annotated[
        AskOptions | None,
        BeforeValidator(_options),
        Field(description="this question's model, temperature, length"),
    ] = None
    session: Annotated[
        str | None,
        BeforeValidator(_session),
        Field(description="the asker in the fair line (the service token only)"),
    ] = None


def read(model: type[WireModel], body: dict[str, Any]) -> Any:
    """``body`` as ``model``; a field the validators above do not cover is refused as 400."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        raise bad_request(f"{param}: {first['msg']}.", param=param) from None
