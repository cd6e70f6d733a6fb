"""A shipping address, validated: one line of text per field, a known country format, lengths a
label can print. Whether the shop ships there is the shipping configuration's question."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agora.platform.wire import SingleLine

Line = Annotated[str, Field(min_length=1, max_length=100), SingleLine]


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: Line = Field(description="Who receives the parcel")
    line1: Line
    line2: Annotated[str, Field(max_length=100), SingleLine] | None = None
    city: Line
    postal_code: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{1,10}[A-Za-z0-9]$")
    ] = Field(alias="postalCode", description="3 to 12 letters, digits, spaces or hyphens")
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        description="ISO 3166-1 alpha-2, upper case", examples=["FR"]
    )
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{5,20}$")] | None = None
