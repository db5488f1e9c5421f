"""Writes docs/api.md's schema section from the models of ``src/schema/`` (or, with
``--check``, exits 1 when the file differs from them).

    python scripts/schema_docs.py          # rewrite the section
    python scripts/schema_docs.py --check  # what tests/unit/test_schema_docs.py runs

The section lies between ``<!-- schema:begin -->`` and ``<!-- schema:end -->``; the text around
it is written by hand.
"""

from __future__ import annotations

import argparse
import collections.abc
import dataclasses
import json
import re
import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared_utils.types import Chunk  # noqa: E402 - importable once the path is set
from src.answer.options import AskOptions  # noqa: E402
from src.schema import (  # noqa: E402
    answer,
    chat,
    chat_completion,
    errors,
    library,
    plans,
    reports,
    requests,
    status,
)

DOC = ROOT / "docs" / "api.md"
BEGIN, END = "<!-- schema:begin -->", "<!-- schema:end -->"

# the order of the section; each model's docstring says what it is and where it is used
MODELS: list[type] = [
    requests.AskRequest,
    AskOptions,
    requests.SearchRequest,
    chat_completion.ChatCompletionRequest,
    answer.Passage,
    answer.Citation,
    answer.CitedPassage,
    answer.Claim,
    answer.ToolAnswer,
    answer.Answer,
    answer.SourcesEvent,
    answer.StatusEvent,
    answer.TokenEvent,
    answer.QueueEvent,
    answer.BackendSwitchEvent,
    answer.DoneEvent,
    library.SearchResults,
    library.Document,
    library.Job,
    plans.Plan,
    plans.AnsweringNow,
    errors.ErrorBody,
    errors.ErrorDetail,
    chat.SavedChat,
    chat.ChatMessage,
    chat.SavedSource,
    Chunk,
    status.Status,
    status.SupervisorSection,
    status.ChildSection,
    status.EngineSection,
    status.ProvisioningSection,
    status.ProfileSection,
    reports.ApiKeyRow,
    reports.ModelsReport,
    reports.ActiveModel,
    reports.CatalogRow,
    reports.ModelFile,
    reports.OllamaModelRow,
    reports.DoctorReport,
    reports.DoctorProfile,
    reports.Detected,
    reports.Chosen,
    reports.ComponentHealth,
]


def doc_name(model: type) -> str:
    """
    >>> doc_name(answer.BackendSwitchEvent)
    'backend switch event'
    """
    return re.sub(r"(?<!^)([A-Z])", r" \1", model.__name__).lower()


NAMES = {model: doc_name(model) for model in MODELS}


def type_name(t: object) -> str:
    """A field's type as the docs write it.

    >>> type_name(list[int]), type_name(dict[str, float]), type_name(str | None)
    ('list[int]', 'dict[str, float]', 'str | null')
    """
    if t is type(None):
        return "null"
    if isinstance(t, type) and (issubclass(t, BaseModel) or dataclasses.is_dataclass(t)):
        return NAMES.get(t, t.__name__)
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin is typing.Literal:
        return " | ".join(f'"{a}"' for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is tuple and len(args) == 2 and args[1] is not Ellipsis:
        return f"[{type_name(args[0])}, {type_name(args[1])}]"
    if origin in (list, tuple, collections.abc.Sequence):
        return f"list[{type_name(args[0])}]"
    if origin is dict:
        return f"dict[{type_name(args[0])}, {type_name(args[1])}]"
    if t is typing.Any:
        return "any"
    return getattr(t, "__name__", str(t))


def _value(value: object) -> str:
    if isinstance(value, BaseModel):
        return "its defaults"
    return f"`{json.dumps(list(value) if isinstance(value, tuple) else value)}`"


def _default(field: typing.Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory in (list, dict):
        return _value(field.default_factory())
    if field.default_factory is not None:  # e.g. the time of writing
        return "set when written"
    return _value(field.default)


def _heading(model: type) -> list[str]:
    doc = " ".join((model.__doc__ or "").split()).replace("``", "`")
    return [
        f"**{doc_name(model)}**: {doc}",
        "",
        "| field | type | default | meaning |",
        "|---|---|---|---|",
    ]


def _dataclass(cls: type) -> list[str]:
    """An in-process dataclass, written as the JSON it becomes."""
    lines = _heading(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        default = "required" if f.default is dataclasses.MISSING else _value(f.default)
        lines.append(
            f"| `{f.name}` | {type_name(hints[f.name]).replace('|', '&#124;')} | {default} |  |"
        )
    return [*lines, ""]


def _model(model: type) -> list[str]:
    if dataclasses.is_dataclass(model):
        return _dataclass(model)
    lines = _heading(model)
    for field_name, field in model.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|").replace("<", "&lt;")
        lines.append(
            f"| `{field_name}` | {type_name(field.annotation).replace('|', '&#124;')} "
            f"| {_default(field)} | {meaning} |"
        )
    if model.model_config.get("extra") == "allow":
        lines += ["", "Other fields a writer adds are kept as they are."]
    return [*lines, ""]


def render() -> str:
    """The generated block, markers included."""
    lines = [BEGIN, "<!-- written by scripts/schema_docs.py from src/schema/: do not edit -->", ""]
    for model in MODELS:
        lines += _model(model)
    return "\n".join([*lines, END])


def updated(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + render() + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/api.md differs")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    new = updated(text)
    if args.check:
        if new != text:
            print(
                "docs/api.md's schema section differs from src/schema/: run "
                "python scripts/schema_docs.py",
                file=sys.stderr,
            )
            return 1
        return 0
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
