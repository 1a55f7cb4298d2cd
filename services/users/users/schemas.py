"""Request and response models: they validate input and generate the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from chassis.schemas import Body, Page, Query, Text

Email = Annotated[EmailStr, Field(max_length=320)]


class UserCreate(Body):
    email: Email
    name: Text


class UserUpdate(Body):
    """PATCH: send only the fields to change; null is not a value."""

    email: Email | None = None
    name: Text | None = None

    @model_validator(mode="after")
    def _changes_something(self):
        if not self.model_fields_set:
            raise ValueError("send at least one of: email, name")
        if any(getattr(self, field) is None for field in self.model_fields_set):
            raise ValueError("fields cannot be set to null")
        return self


class UserQuery(Query):
    email: Email | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    created_at: datetime
    updated_at: datetime


class UserPage(Page[UserOut]):
    """A page of users."""
