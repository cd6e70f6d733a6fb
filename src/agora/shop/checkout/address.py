"""A shipping address, validated: one line of text per field, a known country format, lengths a
label can print. Whether the shop ships there is the shipping configuration's question."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from agora.platform.wire import SingleLine, matching
from agora.shop.checkout.shipping import CountryCode

Line = Annotated[str, Field(min_length=1, max_length=100), SingleLine]


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: Line = Field(description="Who receives the parcel")
    line1: Line
    line2: Annotated[str, Field(max_length=100), SingleLine] | None = None
    city: Line
    postal_code: Annotated[
        str,
        matching(
            r"^[A-Za-z0-9][A-Za-z0-9 -]{1,10}[A-Za-z0-9]$",
            "must be 3 to 12 letters, digits, spaces or hyphens",
        ),
    ] = Field(alias="postalCode", description="3 to 12 letters, digits, spaces or hyphens")
    country: CountryCode = Field(description="ISO 3166-1 alpha-2, upper case", examples=["FR"])
    phone: (
        Annotated[
            str,
            matching(
                r"^\+?[0-9 ()-]{5,20}$", "must be 5 to 20 digits, spaces, '(', ')', '-' or '+'"
            ),
        ]
        | None
    ) = None
