"""Slugs made from names, for the catalog's URLs."""

from __future__ import annotations

from slugify import slugify

from agora.platform.errors import Invalid
from agora.shop.catalog.models import SLUG_MAX


def slug_from(name: str) -> str:
    """``"Laptop Pro 14"`` → ``"laptop-pro-14"``; a name with no letter or digit to keep is a
    422 asking for a slug."""
    slug = slugify(name, max_length=SLUG_MAX, word_boundary=True)
    if not slug:
        raise Invalid("can't be made from the name: send one", field="slug")
    return slug
