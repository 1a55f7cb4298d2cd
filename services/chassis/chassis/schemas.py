"""Validation building blocks shared by services' request and response models."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _no_control_characters(value: str) -> str:
    # PostgreSQL rejects NUL in text (a 500 waiting to happen); other C0/C1 controls are never
    # wanted in names or identifiers and break logs and terminals.
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value):
        raise ValueError("must not contain control characters")
    return value


Text = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_control_characters)]
Limit = Annotated[int, Field(ge=1, le=100)]
Offset = Annotated[int, Field(ge=0, le=1_000_000)]


class Body(BaseModel):
    """Request bodies: strict types (no "1" for 1), unknown fields rejected."""

    model_config = ConfigDict(strict=True, extra="forbid")


class Query(BaseModel):
    """Query strings: values arrive as text, so coercion is on; unknown parameters are rejected."""

    model_config = ConfigDict(extra="forbid")

    limit: Limit = 20
    offset: Offset = 0


Item = TypeVar("Item", bound=BaseModel)


class Page(BaseModel, Generic[Item]):
    """One page of a list (``chassis.responses.page`` writes it); a service names its own, e.g.
    ``class UserPage(Page[UserOut])``, so the OpenAPI document has a readable schema name."""

    items: list[Item]
    total: int
    limit: int
    offset: int
