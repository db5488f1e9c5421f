"""The error body of every API error (OpenAI's shape, with Olympus' ``hint``)."""

from __future__ import annotations

from pydantic import Field

from src.schema import WireModel


class ErrorDetail(WireModel):
    """What went wrong and how to fix it (``error`` of an error body)."""

    message: str
    type: str = Field(default="invalid_request_error", description="OpenAI's error type")
    param: str | None = Field(default=None, description="the request field at fault, if one is")
    code: str = Field(default="", description="the Olympus error class, e.g. DocumentNotFound")
    hint: str = Field(default="", description="how to fix it")


class ErrorBody(WireModel):
    """Every API error; ``error`` of a failed stream."""

    error: ErrorDetail
