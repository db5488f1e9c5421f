"""What answers the next question: the backend chain, each backend's model and why
(``GET /api/backends``, read by the UI's model picker through the remote client)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from src.schema import WireModel


class AnsweringNow(WireModel):
    """What writes the next answer: the engine's model, or the source extracts and why
    (``answering`` of a plan)."""

    backend: str = Field(description="registry name of the backend at the head of the chain")
    model: str = Field(description='the model as the user knows it ("": no language model)')
    params: float | None = Field(description="its size, from the engine or its name")
    reported: bool = Field(description="the engine reported the model")
    writer: Literal["model", "extract"]
    why: str = Field(default="", description="why the extracts answer")
    label: str = Field(default="", description="the backend as users know it")
    note: str = Field(
        default="", description="a small fallback model serves instead of the chosen one"
    )
    name: str = Field(default="", description="what every place names as answering")


class Plan(WireModel):
    """The backends the next question tries, in order, with their models and the reason for
    each choice: ``GET /api/backends``, ``backends`` of ``doctor --json``."""

    chain: list[str]
    models: dict[str, str] = Field(default_factory=dict, description="backend -> model")
    reasons: list[str] = Field(default_factory=list)
    fallback_note: str = ""
    chosen_by: dict[str, str] = Field(
        default_factory=dict, description="backend -> what chose its model"
    )
    fallback: list[str] = Field(
        default_factory=list, description="(the model that could not be had, why)"
    )
    answering: AnsweringNow | None = Field(default=None, description="in GET /api/backends")
