"""The search's answer: a page of products like a listing's, with facet counts beside it."""

from __future__ import annotations

from pydantic import Field

from agora.shop.catalog.schemas import ProductPage, _Wire


class CategoryFacet(_Wire):
    slug: str
    name: str
    count: int = Field(description="Matches in this category itself (not below it)")


class PriceBand(_Wire):
    min_amount: int = Field(description="In minor units, whatever the currency")
    max_amount: int | None = Field(description="Exclusive; null for the last band")
    count: int = Field(description="Matches whose lowest price falls in the band")


class OptionFacet(_Wire):
    name: str
    value: str
    count: int = Field(description="Matches with a variant of this option value")


class Facets(_Wire):
    categories: list[CategoryFacet]
    price: list[PriceBand]
    options: list[OptionFacet]


class SearchResults(ProductPage):
    query: str = Field(description="The words searched for, after any typo was corrected")
    corrected: bool = Field(description="Whether a word was replaced (a typo corrected)")
    facets: Facets
