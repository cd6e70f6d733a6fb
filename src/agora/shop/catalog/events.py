"""What the catalog's writes tell the rest of the application, once they are committed.

The shop's read cache listens (``shop/read_cache.py``, registered by the composition root).
"""

from __future__ import annotations

from dataclasses import dataclass

from agora.platform.events import Event


@dataclass(frozen=True, slots=True)
class CatalogChanged(Event):
    """Categories, products, variants, prices or images changed: every cached listing, search
    and product page is out of date."""


@dataclass(frozen=True, slots=True)
class StockChanged(Event):
    """What may be sold of these products' variants changed (staff counted stock, an order
    reserved or released some): their pages, and listings filtered on stock, are out of date.
    Cheaper than ``CatalogChanged``: other products' pages stay cached."""

    product_ids: tuple[int, ...]
