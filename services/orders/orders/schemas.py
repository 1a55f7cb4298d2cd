"""Request and response models: they validate input and generate the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chassis.schemas import Body, Page, Query

Sku = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
UserId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class ItemIn(Body):
    sku: Sku
    quantity: Annotated[int, Field(ge=1, le=10_000)]
    unit_price_cents: Annotated[int, Field(ge=0, le=100_000_000)]


class OrderCreate(Body):
    user_id: UserId
    # Bounds keep the total far inside BIGINT: 100 items x 10,000 x 10^8 cents = 10^14.
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=100)]


class OrderQuery(Query):
    user_id: UserId | None = None


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    quantity: int
    unit_price_cents: int


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    status: Literal["placed", "cancelled"]
    total_cents: int
    items: list[ItemOut]
    created_at: datetime
    cancelled_at: datetime | None


class OrderPage(Page[OrderOut]):
    """A page of orders."""
